export * from "./kube.js";
export * from "./nats.js";
export * from "./netns.js";
export * from "./ports.js";
export * from "./process.js";
export * from "./prometheus.js";
export * from "./tools.js";
export * from "./traffic.js";
