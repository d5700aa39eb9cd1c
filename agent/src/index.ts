export { agentIdentity } from "./identity.js";
