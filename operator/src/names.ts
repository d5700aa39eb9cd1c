// Names of the objects made for a custom resource, and the limits on the resource's own name
// that follow from them. The CRDs enforce the limits with CEL on metadata.name (generated from
// these constants), so a name that could not make valid objects is refused at `kubectl apply`
// instead of failing later in the reconciler.

/** Service names are DNS-1035 labels: a letter first, at most 63 characters. */
export const DNS1035_LABEL = "^[a-z]([-a-z0-9]*[a-z0-9])?$";
export const DNS1123_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
export const DNS1123_SUBDOMAIN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
const LABEL_MAX = 63;

const AGGREGATOR_SUFFIX = "-aggregator";
const FLOWS_SUFFIX = "-collector";
const AGENT_SUFFIX = "-agent";

/** A FlowCollector names two Services, `<name>-aggregator` and `<name>-collector`. */
export const MAX_COLLECTOR_NAME = LABEL_MAX - Math.max(AGGREGATOR_SUFFIX.length, FLOWS_SUFFIX.length);
/** A FlowProbe names its DaemonSet and ConfigMap `<name>-agent`, and is a label value itself. */
export const MAX_PROBE_NAME = LABEL_MAX - AGENT_SUFFIX.length;

export interface CollectorObjectNames {
  /** Deployment, ConfigMap, NetworkPolicy, and the ClusterIP Service for gRPC and HTTP. */
  aggregator: string;
  /** The Service of the NetFlow/IPFIX/sFlow listeners, of the configurable type. */
  flows: string;
}

export function collectorObjectNames(collector: string): CollectorObjectNames {
  return { aggregator: `${collector}${AGGREGATOR_SUFFIX}`, flows: `${collector}${FLOWS_SUFFIX}` };
}

export function probeObjectName(probe: string): string {
  return `${probe}${AGENT_SUFFIX}`;
}

/**
 * The in-cluster DNS name of a Service. `<svc>.<ns>.svc` resolves through the pod's search
 * path (also for hostNetwork pods with ClusterFirstWithHostNet), so the cluster domain, which
 * is not always cluster.local, need not be known.
 */
export function serviceHost(service: string, namespace: string): string {
  return `${service}.${namespace}.svc`;
}

/** The ConfigMap of a FlowCollector's AlertRules, which its aggregator reads. */
export function alertRulesConfigMapName(collector: string): string {
  return `${collector}-alert-rules`;
}

/**
 * Secrets of tls.mode auto: the collector's CA (with its key: never mounted), the aggregator's
 * server certificate, and per FlowProbe, in the probe's namespace, the agents' client certificate.
 */
export function tlsSecretNames(collector: string): { ca: string; server: string } {
  return { ca: `${collector}-ca`, server: `${collector}-aggregator-tls` };
}

export function agentTlsSecretName(probe: string): string {
  return `${probe}-agent-tls`;
}
