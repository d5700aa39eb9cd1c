// Types of the flowlens.dev/v1alpha1 custom resources (DESIGN.md). These are the spec and
// status shapes the operator and the aggregator work with once a CR has been validated.
import type { AlertCheckName, AlertTargetKind, NotifyKind } from "./alert-rule.js";

export const GROUP = "flowlens.dev";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;

export interface ObjectRef {
  name: string;
  namespace?: string;
}

export interface Condition {
  type: "Ready" | "Degraded" | "ConfigurationIssue" | string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** Quantities as Kubernetes takes them: `500m`, `1Gi`, or a plain integer. */
export interface ResourceRequirements {
  limits?: Record<string, string | number>;
  requests?: Record<string, string | number>;
}

export interface Toleration {
  key?: string;
  operator?: "Exists" | "Equal";
  value?: string;
  effect?: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
  tolerationSeconds?: number;
}

export interface FlowProbeSpec {
  collectorRef: ObjectRef;
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
  interfaces?: string[];
  excludeInterfaces?: string[];
  bpfFilter?: string;
  sampling?: number;
  timeouts?: { idleSeconds?: number; activeSeconds?: number };
  maxFlows?: number;
  dpi?: boolean;
  export?: {
    transport?: "grpc" | "nats";
    ipfix?: { host: string; port: number; protocol?: "ipfix" | "netflow9" }[];
  };
  resources?: ResourceRequirements;
  image?: string;
}

export interface FlowProbeStatus {
  observedGeneration?: number;
  nodesDesired?: number;
  nodesReady?: number;
  conditions?: Condition[];
}

export interface FlowCollectorSpec {
  replicas?: number;
  listeners?: {
    grpcPort?: number;
    httpPort?: number;
    netflowPort?: number;
    ipfixPort?: number;
    sflowPort?: number;
  };
  nats?: { url: string; stream?: string; credentialsSecret?: string };
  tls?: { mode: "auto" | "provided" | "disabled"; secretName?: string };
  localNetworks?: string[];
  metrics?: { topHosts?: number };
  retention?: { recentFlows?: number; pastAlerts?: number };
  serviceType?: "ClusterIP" | "NodePort" | "LoadBalancer";
  /** Limits who reaches the aggregator: flow sources (CIDRs) and API/metrics clients (namespaces). */
  networkPolicy?: { enabled: boolean; ingressCIDRs?: string[]; apiNamespaces?: string[] };
  resources?: ResourceRequirements;
  image?: string;
}

export interface FlowCollectorStatus {
  observedGeneration?: number;
  endpoints?: { grpc?: string; http?: string; netflow?: string; sflow?: string };
  conditions?: Condition[];
}

export type AlertWindow = "1m" | "5m" | "1h" | "1d";
export type Severity = "info" | "warning" | "error" | "critical";
/** The built-in checks, target kinds and notify kinds: alert-rule.ts lists them, once. */
export type FlowCheckName = AlertCheckName;
export type AlertTargetKindName = AlertTargetKind;
export type NotifyKindName = NotifyKind;

export interface AlertRuleSpec {
  collectorRef: ObjectRef;
  /** Exactly one of threshold and check. */
  threshold?: {
    target: { kind: AlertTargetKindName; value: string };
    metric: string;
    window: AlertWindow;
    operator: ">" | ">=" | "<" | "<=";
    value: number;
    hysteresis?: number;
  };
  /** Parameters are integers or strings (booleans and fractions as strings), as a CRD can check them. */
  check?: { name: FlowCheckName; params?: Record<string, string | number> };
  severity: Severity;
  notify?: { kind: NotifyKindName; target: string }[];
}

export interface AlertRuleStatus {
  observedGeneration?: number;
  engaged?: number;
  lastTransitionTime?: string;
  conditions?: Condition[];
}

export interface CustomResource<Spec, Status> {
  apiVersion: typeof API_VERSION;
  kind: string;
  metadata: { name: string; namespace?: string; generation?: number; uid?: string; [k: string]: unknown };
  spec: Spec;
  status?: Status;
}

export type FlowProbe = CustomResource<FlowProbeSpec, FlowProbeStatus> & { kind: "FlowProbe" };
export type FlowCollector = CustomResource<FlowCollectorSpec, FlowCollectorStatus> & { kind: "FlowCollector" };
export type AlertRule = CustomResource<AlertRuleSpec, AlertRuleStatus> & { kind: "AlertRule" };
