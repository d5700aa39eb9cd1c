export * from "./alert-rule.js";
export * from "./crd.js";
export * from "./flow.js";
export * as pb from "./gen/flowlens/v1/flow.js";
export * from "./nats.js";
export * from "./transport.js";
export { VERSION as FLOWLENS_VERSION } from "./version.js";
