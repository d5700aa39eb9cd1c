export { FIELD_MANAGER, KubeApiError, type RequestRecord } from "./controller/kube/client.js";
export { loadKubeConfig } from "./controller/kube/kubeconfig.js";
export { DEFAULT_LEASE_TIMING } from "./controller/leader.js";
export { type LeaderElectionConfig, Operator, type OperatorOptions } from "./controller/operator.js";
export { OPERATOR_RBAC, type PolicyRule, rbacAllows, type Verb } from "./controller/rbac.js";
export { DEFAULT_TLS_TIMING, type TlsTiming } from "./controller/tls/certificates.js";
export * from "./crds/index.js";
export { type Component, commonLabels, MANAGED_BY, selectorLabels } from "./labels.js";
export {
  agentTlsSecretName,
  alertRulesConfigMapName,
  type CollectorObjectNames,
  collectorObjectNames,
  MAX_COLLECTOR_NAME,
  MAX_PROBE_NAME,
  probeObjectName,
  serviceHost,
  tlsSecretNames,
} from "./names.js";
export {
  ALERT_RULES_FILE,
  alertRuleCollectorKey,
  alertRuleErrors,
  deliveredRules,
  desiredAlertRulesConfigMap,
} from "./reconcile/alert-rules.js";
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
  TLS_HASH_ANNOTATION,
} from "./reconcile/objects.js";
export {
  AGENT_CONFIG_FILE,
  AGENT_METRICS_PORT,
  type AgentSetting,
  collectorKey,
  desiredProbeObjects,
  validateProbe,
} from "./reconcile/probe.js";
