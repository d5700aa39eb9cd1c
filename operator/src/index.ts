export { type Component, commonLabels, MANAGED_BY, selectorLabels } from "./labels.js";
