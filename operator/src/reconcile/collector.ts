// FlowCollector -> the aggregator: its config file, Deployment, Services and NetworkPolicy.
// Pure: no API calls; the objects are applied by the operator's single apply path.
import type { FlowCollector } from "@flowlens/contracts";
import type {
  V1ContainerPort,
  V1NetworkPolicyIngressRule,
  V1NetworkPolicyPeer,
  V1NetworkPolicyPort,
  V1ServicePort,
  V1Volume,
  V1VolumeMount,
} from "@kubernetes/client-node";
import { type ResolvedCollectorSpec, resolveCollectorSpec } from "../crds/flowcollector.js";
import { selectorLabels } from "../labels.js";
import { alertRulesConfigMapName, collectorObjectNames, serviceHost, tlsSecretNames } from "../names.js";
import { ALERT_RULES_FILE } from "./alert-rules.js";
import { ConfigurationError, type ConfigurationIssue } from "./issues.js";
import {
  CONFIG_HASH_ANNOTATION,
  configFile,
  configMap,
  containerResources,
  type DesiredObject,
  type DesiredService,
  imageOf,
  namespaceOf,
  objectMeta,
  PATHS,
  type ReconcileOptions,
  restrictedContainer,
  type SettingValue,
  TLS_HASH_ANNOTATION,
} from "./objects.js";

export const AGGREGATOR_CONFIG_FILE = "aggregator.yaml";

/** Keys of the `flowlens aggregator --config` file this reconciler writes: its long flag names. */
export type AggregatorSetting =
  | "grpc-address"
  | "grpc-tls-cert"
  | "grpc-tls-key"
  | "http-address"
  | "nats-url"
  | "nats-creds"
  | "nats-stream"
  | "nats-consumer"
  | "netflow-port"
  | "ipfix-port"
  | "sflow-port"
  | "grpc-client-ca"
  | "local-network"
  | "top-hosts"
  | "alert-rules";

// Fixed so that file permissions of mounted Secrets (fsGroup) and runAsNonRoot agree; the image
// need not define the user.
const AGGREGATOR_UID = 65532;

interface Listener {
  name: string;
  port: number;
  protocol: "TCP" | "UDP";
}

/** The NetFlow/IPFIX/sFlow listeners of the <name>-collector Service, all UDP. */
function flowListeners(spec: ResolvedCollectorSpec): Listener[] {
  const l = spec.listeners;
  return [
    ...(l.netflowPort ? [{ name: "netflow", port: l.netflowPort, protocol: "UDP" as const }] : []),
    ...(l.ipfixPort ? [{ name: "ipfix", port: l.ipfixPort, protocol: "UDP" as const }] : []),
    ...(l.sflowPort ? [{ name: "sflow", port: l.sflowPort, protocol: "UDP" as const }] : []),
  ];
}

export interface CollectorEndpoints {
  /** HOST:PORT of the gRPC ingest, as agents dial it. */
  grpc: string;
  /** Base URL of the REST API and /metrics. */
  http: string;
  netflow?: string;
  ipfix?: string;
  sflow?: string;
}

/** In-cluster addresses of a collector's listeners (what its status reports and probes dial). */
export function collectorEndpoints(fc: FlowCollector): CollectorEndpoints {
  const spec = resolveCollectorSpec(fc.spec);
  const ns = namespaceOf(fc);
  const names = collectorObjectNames(fc.metadata.name);
  const api = serviceHost(names.aggregator, ns);
  const flows = serviceHost(names.flows, ns);
  const l = spec.listeners;
  return {
    grpc: `${api}:${l.grpcPort}`,
    http: `http://${api}:${l.httpPort}`,
    ...(l.netflowPort ? { netflow: `${flows}:${l.netflowPort}` } : {}),
    ...(l.ipfixPort ? { ipfix: `${flows}:${l.ipfixPort}` } : {}),
    ...(l.sflowPort ? { sflow: `${flows}:${l.sflowPort}` } : {}),
  };
}

export function validateCollector(fc: FlowCollector): ConfigurationIssue[] {
  const spec = resolveCollectorSpec(fc.spec);
  const issues: ConfigurationIssue[] = [];
  if (spec.retention) {
    // Refused rather than ignored: a user who sets a bound expects it to hold.
    issues.push({
      reason: "RetentionNotSupported",
      message: "this aggregator version has no retention settings: remove spec.retention",
      field: "spec.retention",
    });
  }
  return issues;
}

function aggregatorConfig(fc: FlowCollector, spec: ResolvedCollectorSpec) {
  const l = spec.listeners;
  const mode = spec.tls?.mode;
  const tls = mode === "provided" || mode === "auto";
  const settings: Record<AggregatorSetting, SettingValue | undefined> = {
    "grpc-address": `:${l.grpcPort}`,
    "grpc-tls-cert": tls ? `${PATHS.tlsDir}/tls.crt` : undefined,
    "grpc-tls-key": tls ? `${PATHS.tlsDir}/tls.key` : undefined,
    // Issued certificates are mutual: agents present theirs, from the same CA.
    "grpc-client-ca": mode === "auto" ? `${PATHS.tlsDir}/ca.crt` : undefined,
    "http-address": `:${l.httpPort}`,
    "nats-url": spec.nats ? [spec.nats.url] : undefined,
    "nats-creds": spec.nats?.credentialsSecret ? `${PATHS.natsDir}/${PATHS.natsCredsKey}` : undefined,
    "nats-stream": spec.nats?.stream,
    // One durable consumer per FlowCollector: its replicas share the work, while two
    // collectors on the same stream each see every flow instead of splitting them.
    "nats-consumer": spec.nats ? `flowlens-${namespaceOf(fc)}-${fc.metadata.name}` : undefined,
    // 0, not absent, for a listener the resource leaves off: the daemon's own defaults may
    // open it, and neither the Pod nor the Services would expose it.
    "netflow-port": l.netflowPort ?? 0,
    "ipfix-port": l.ipfixPort ?? 0,
    "sflow-port": l.sflowPort ?? 0,
    "local-network": spec.localNetworks && spec.localNetworks.length > 0 ? spec.localNetworks : undefined,
    "top-hosts": spec.metrics.topHosts,
    // The AlertRules of this collector, in the ConfigMap the operator keeps up to date.
    "alert-rules": `${PATHS.alertRulesDir}/${ALERT_RULES_FILE}`,
  };
  return configFile(AGGREGATOR_CONFIG_FILE, settings);
}

export function desiredCollectorObjects(fc: FlowCollector, options: ReconcileOptions = {}): DesiredObject[] {
  const issues = validateCollector(fc);
  if (issues.length > 0) throw new ConfigurationError(`FlowCollector ${fc.metadata.name}`, issues);
  const spec = resolveCollectorSpec(fc.spec);
  const names = collectorObjectNames(fc.metadata.name);
  const meta = (name: string) => objectMeta(fc, name, "aggregator");
  const selector = selectorLabels(fc.metadata.name, "aggregator");
  const l = spec.listeners;
  const flows = flowListeners(spec);
  const config = aggregatorConfig(fc, spec);

  const ports: V1ContainerPort[] = [
    { name: "grpc", containerPort: l.grpcPort, protocol: "TCP" },
    { name: "http", containerPort: l.httpPort, protocol: "TCP" },
    ...flows.map((f) => ({ name: f.name, containerPort: f.port, protocol: f.protocol })),
  ];
  const volumes: V1Volume[] = [
    { name: "config", configMap: { name: names.aggregator } },
    // The whole directory, not a subPath: the kubelet then updates it in place when rules change.
    { name: "alert-rules", configMap: { name: alertRulesConfigMapName(fc.metadata.name) } },
    { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
  ];
  const mounts: V1VolumeMount[] = [
    { name: "config", mountPath: PATHS.configDir, readOnly: true },
    { name: "alert-rules", mountPath: PATHS.alertRulesDir, readOnly: true },
    { name: "tmp", mountPath: "/tmp" },
  ];
  if (spec.tls?.mode === "provided" && spec.tls.secretName) {
    volumes.push({
      name: "tls",
      secret: {
        secretName: spec.tls.secretName,
        items: [
          { key: "tls.crt", path: "tls.crt" },
          { key: "tls.key", path: "tls.key" },
        ],
        defaultMode: 0o440,
      },
    });
    mounts.push({ name: "tls", mountPath: PATHS.tlsDir, readOnly: true });
  } else if (spec.tls?.mode === "auto") {
    volumes.push({
      name: "tls",
      secret: {
        secretName: tlsSecretNames(fc.metadata.name).server,
        items: [
          { key: "tls.crt", path: "tls.crt" },
          { key: "tls.key", path: "tls.key" },
          { key: "ca.crt", path: "ca.crt" },
        ],
        defaultMode: 0o440,
      },
    });
    mounts.push({ name: "tls", mountPath: PATHS.tlsDir, readOnly: true });
  }
  if (spec.nats?.credentialsSecret) {
    volumes.push({
      name: "nats",
      secret: {
        secretName: spec.nats.credentialsSecret,
        items: [{ key: PATHS.natsCredsKey, path: PATHS.natsCredsKey }],
        defaultMode: 0o440,
      },
    });
    mounts.push({ name: "nats", mountPath: PATHS.natsDir, readOnly: true });
  }
  // A non-root process binds below 1024 only where the runtime lowered this (namespaced, safe) sysctl.
  const lowPort = ports.some((p) => p.containerPort < 1024);

  const objects: DesiredObject[] = [
    configMap(meta(names.aggregator), config),
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: meta(names.aggregator),
      spec: {
        replicas: spec.replicas,
        selector: { matchLabels: selector },
        template: {
          metadata: {
            labels: objectMeta(fc, names.aggregator, "aggregator").labels,
            annotations: {
              [CONFIG_HASH_ANNOTATION]: config.hash,
              ...(spec.tls?.mode === "auto" && options.tlsHash ? { [TLS_HASH_ANNOTATION]: options.tlsHash } : {}),
            },
          },
          spec: {
            // The aggregator never calls the Kubernetes API: no token to steal.
            automountServiceAccountToken: false,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: AGGREGATOR_UID,
              runAsGroup: AGGREGATOR_UID,
              fsGroup: AGGREGATOR_UID,
              seccompProfile: { type: "RuntimeDefault" },
              ...(lowPort ? { sysctls: [{ name: "net.ipv4.ip_unprivileged_port_start", value: "0" }] } : {}),
            },
            containers: [
              {
                name: "aggregator",
                image: imageOf(spec, options),
                imagePullPolicy: "IfNotPresent",
                command: ["flowlens", "aggregator", "--config", `${PATHS.configDir}/${AGGREGATOR_CONFIG_FILE}`],
                ports,
                resources: containerResources(spec.resources),
                securityContext: restrictedContainer,
                volumeMounts: mounts,
                startupProbe: {
                  httpGet: { path: "/healthz", port: "http" },
                  periodSeconds: 2,
                  failureThreshold: 60,
                },
                livenessProbe: {
                  httpGet: { path: "/healthz", port: "http" },
                  periodSeconds: 10,
                  timeoutSeconds: 5,
                  failureThreshold: 3,
                },
                readinessProbe: {
                  httpGet: { path: "/readyz", port: "http" },
                  periodSeconds: 5,
                  timeoutSeconds: 3,
                  failureThreshold: 2,
                },
              },
            ],
            volumes,
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: meta(names.aggregator),
      spec: {
        type: "ClusterIP",
        selector,
        ports: [
          { name: "grpc", port: l.grpcPort, targetPort: "grpc", protocol: "TCP", appProtocol: "grpc" },
          { name: "http", port: l.httpPort, targetPort: "http", protocol: "TCP", appProtocol: "http" },
        ],
      },
    },
  ];
  if (flows.length > 0) objects.push(flowsService(fc, spec, flows));
  if (spec.networkPolicy?.enabled) objects.push(networkPolicy(fc, spec, flows));
  return objects;
}

function flowsService(fc: FlowCollector, spec: ResolvedCollectorSpec, flows: Listener[]): DesiredService {
  const external = spec.serviceType !== "ClusterIP";
  const ports: V1ServicePort[] = flows.map((f) => ({
    name: f.name,
    port: f.port,
    targetPort: f.name,
    protocol: f.protocol,
  }));
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: objectMeta(fc, collectorObjectNames(fc.metadata.name).flows, "aggregator"),
    spec: {
      type: spec.serviceType,
      selector: selectorLabels(fc.metadata.name, "aggregator"),
      ports,
      // Exporters are told apart by source address (and NetFlow v9/IPFIX templates are kept
      // per exporter): SNAT by kube-proxy would merge them all into a node address...
      ...(external ? { externalTrafficPolicy: "Local" } : {}),
      // ...and a template must reach the replica that decodes that exporter's data.
      sessionAffinity: "ClientIP",
    },
  };
}

function networkPolicy(fc: FlowCollector, spec: ResolvedCollectorSpec, flows: Listener[]): DesiredObject {
  const np = spec.networkPolicy;
  const ingestPorts: V1NetworkPolicyPort[] = [
    { port: spec.listeners.grpcPort, protocol: "TCP" },
    ...flows.map((f) => ({ port: f.port, protocol: f.protocol })),
  ];
  const sources: V1NetworkPolicyPeer[] = (np?.ingressCIDRs ?? []).map((cidr) => ({ ipBlock: { cidr } }));
  const ingest: V1NetworkPolicyIngressRule = { ports: ingestPorts };
  // Without CIDRs the ingest ports stay open to all: agents run on the host network, so no pod
  // or namespace selector can name them.
  if (sources.length > 0) ingest._from = sources;
  const apiPeers: V1NetworkPolicyPeer[] = [
    { podSelector: {} },
    ...(np?.apiNamespaces && np.apiNamespaces.length > 0
      ? [
          {
            namespaceSelector: {
              matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: np.apiNamespaces }],
            },
          },
        ]
      : []),
  ];
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: objectMeta(fc, collectorObjectNames(fc.metadata.name).aggregator, "aggregator"),
    spec: {
      podSelector: { matchLabels: selectorLabels(fc.metadata.name, "aggregator") },
      policyTypes: ["Ingress"],
      ingress: [ingest, { ports: [{ port: spec.listeners.httpPort, protocol: "TCP" }], _from: apiPeers }],
    },
  };
}
