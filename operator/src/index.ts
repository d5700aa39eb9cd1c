export * from "./crds/index.js";
export { type Component, commonLabels, MANAGED_BY, selectorLabels } from "./labels.js";
export {
  type CollectorObjectNames,
  collectorObjectNames,
  MAX_COLLECTOR_NAME,
  MAX_PROBE_NAME,
  probeObjectName,
  serviceHost,
} from "./names.js";
export {
  AGGREGATOR_CONFIG_FILE,
  type AggregatorSetting,
  type CollectorEndpoints,
  collectorEndpoints,
  desiredCollectorObjects,
  validateCollector,
} from "./reconcile/collector.js";
export { ConfigurationError, type ConfigurationIssue, type IssueReason } from "./reconcile/issues.js";
export {
  CONFIG_HASH_ANNOTATION,
  DEFAULT_IMAGE,
  type DesiredObject,
  PATHS,
  type ReconcileOptions,
} from "./reconcile/objects.js";
export {
  AGENT_CONFIG_FILE,
  AGENT_METRICS_PORT,
  type AgentSetting,
  collectorKey,
  desiredProbeObjects,
  validateProbe,
} from "./reconcile/probe.js";
