// FlowProbe (+ the FlowCollector it names) -> the agent: its config file and DaemonSet.
// Pure: no API calls; the caller looks the collector up and applies the objects.
import type { FlowCollector, FlowProbe } from "@flowlens/contracts";
import type { V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import { resolveCollectorSpec } from "../crds/flowcollector.js";
import { type ResolvedProbeSpec, resolveProbeSpec } from "../crds/flowprobe.js";
import { selectorLabels } from "../labels.js";
import { agentTlsSecretName, collectorObjectNames, probeObjectName, serviceHost } from "../names.js";
import { collectorEndpoints, validateCollector } from "./collector.js";
import { ConfigurationError, type ConfigurationIssue } from "./issues.js";
import {
  CONFIG_HASH_ANNOTATION,
  configFile,
  configMap,
  containerResources,
  type DesiredObject,
  imageOf,
  namespaceOf,
  objectMeta,
  PATHS,
  type ReconcileOptions,
  type SettingValue,
  TLS_HASH_ANNOTATION,
} from "./objects.js";

export const AGENT_CONFIG_FILE = "agent.yaml";
export const AGENT_METRICS_PORT = 9101;

/** Keys of the `flowlens agent --config` file this reconciler writes: its long flag names. */
export type AgentSetting =
  | "interface"
  | "exclude-interface"
  | "bpf"
  | "sampling"
  | "idle-timeout"
  | "active-timeout"
  | "max-flows"
  | "no-dpi"
  | "grpc-target"
  | "grpc-ca"
  | "grpc-cert"
  | "grpc-key"
  | "grpc-server-name"
  | "nats-url"
  | "nats-creds"
  | "ipfix-target"
  | "ipfix-version"
  | "metrics-address";

/** The namespace and name the probe's collectorRef points at. */
export function collectorKey(fp: FlowProbe): { namespace: string; name: string } {
  return { namespace: fp.spec.collectorRef.namespace ?? namespaceOf(fp), name: fp.spec.collectorRef.name };
}

/**
 * Issues of a probe, given the collector its collectorRef names as the caller found it
 * (undefined: not found).
 */
export function validateProbe(fp: FlowProbe, collector: FlowCollector | undefined): ConfigurationIssue[] {
  const spec = resolveProbeSpec(fp.spec);
  const ref = collectorKey(fp);
  if (!collector) {
    return [
      {
        reason: "CollectorNotFound",
        message: `FlowCollector ${ref.namespace}/${ref.name} does not exist`,
        field: "spec.collectorRef",
      },
    ];
  }
  if (collector.metadata.name !== ref.name || namespaceOf(collector) !== ref.namespace) {
    throw new Error(
      `FlowProbe ${fp.metadata.name}: given FlowCollector ${namespaceOf(collector)}/${collector.metadata.name}, not the one its collectorRef names`,
    );
  }
  const issues: ConfigurationIssue[] = [];
  const collectorIssues = validateCollector(collector);
  if (collectorIssues.length > 0) {
    issues.push({
      reason: "CollectorMisconfigured",
      message: `FlowCollector ${ref.namespace}/${ref.name} has issues: ${collectorIssues.map((i) => i.reason).join(", ")}`,
      field: "spec.collectorRef",
    });
  }
  const c = resolveCollectorSpec(collector.spec);
  const transport = spec.export.transport;
  if (transport === "nats" && !c.nats) {
    issues.push({
      reason: "NatsNotConfigured",
      message: `export.transport is nats but FlowCollector ${ref.namespace}/${ref.name} has no spec.nats`,
      field: "spec.export.transport",
    });
  }
  // Pods mount Secrets of their own namespace only; copying them over is not this operator's to do yet.
  if (ref.namespace !== namespaceOf(fp)) {
    const secrets = [
      ...(transport === "grpc" && c.tls?.mode === "provided" ? [`tls.secretName ${c.tls.secretName}`] : []),
      ...(transport === "nats" && c.nats?.credentialsSecret
        ? [`nats.credentialsSecret ${c.nats.credentialsSecret}`]
        : []),
    ];
    if (secrets.length > 0) {
      issues.push({
        reason: "SecretInOtherNamespace",
        message: `the agents would need the FlowCollector's ${secrets.join(" and ")} from namespace ${ref.namespace}: put the FlowProbe in that namespace`,
        field: "spec.collectorRef.namespace",
      });
    }
  }
  const protocols = new Set((spec.export.ipfix ?? []).map((t) => t.protocol));
  if (protocols.size > 1) {
    // The agent has one --ipfix-version for all its targets.
    issues.push({
      reason: "MixedIpfixProtocols",
      message: "export.ipfix targets must all use the same protocol (ipfix or netflow9)",
      field: "spec.export.ipfix",
    });
  }
  return issues;
}

function ipfixTarget(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function agentConfig(spec: ResolvedProbeSpec, collector: FlowCollector) {
  const c = resolveCollectorSpec(collector.spec);
  const grpc = spec.export.transport === "grpc";
  const mode = grpc ? c.tls?.mode : undefined;
  const tls = mode === "provided" || mode === "auto";
  // tls.mode auto: the operator issued this probe a client certificate, for mTLS.
  const mutual = mode === "auto";
  const ipfix = spec.export.ipfix ?? [];
  const nonEmpty = (l: string[] | undefined) => (l && l.length > 0 ? l : undefined);
  const settings: Record<AgentSetting, SettingValue | undefined> = {
    interface: nonEmpty(spec.interfaces),
    "exclude-interface": nonEmpty(spec.excludeInterfaces),
    bpf: spec.bpfFilter || undefined,
    sampling: spec.sampling,
    "idle-timeout": spec.timeouts.idleSeconds,
    "active-timeout": spec.timeouts.activeSeconds,
    "max-flows": spec.maxFlows,
    "no-dpi": !spec.dpi,
    "grpc-target": grpc ? collectorEndpoints(collector).grpc : undefined,
    "grpc-ca": tls ? `${PATHS.tlsDir}/ca.crt` : undefined,
    "grpc-cert": mutual ? `${PATHS.tlsDir}/tls.crt` : undefined,
    "grpc-key": mutual ? `${PATHS.tlsDir}/tls.key` : undefined,
    // The name the aggregator's certificate must carry, whatever address the agent dials.
    "grpc-server-name": tls
      ? serviceHost(collectorObjectNames(collector.metadata.name).aggregator, namespaceOf(collector))
      : undefined,
    "nats-url": !grpc && c.nats ? [c.nats.url] : undefined,
    "nats-creds": !grpc && c.nats?.credentialsSecret ? `${PATHS.natsDir}/${PATHS.natsCredsKey}` : undefined,
    "ipfix-target": ipfix.length > 0 ? ipfix.map((t) => ipfixTarget(t.host, t.port)) : undefined,
    "ipfix-version": ipfix.length > 0 ? (ipfix[0]?.protocol === "netflow9" ? "9" : "10") : undefined,
    "metrics-address": `:${AGENT_METRICS_PORT}`,
  };
  return configFile(AGENT_CONFIG_FILE, settings);
}

export function desiredProbeObjects(
  fp: FlowProbe,
  collector: FlowCollector | undefined,
  options: ReconcileOptions = {},
): DesiredObject[] {
  const issues = validateProbe(fp, collector);
  if (!collector || issues.length > 0) {
    throw new ConfigurationError(`FlowProbe ${fp.metadata.name}`, issues);
  }
  const spec = resolveProbeSpec(fp.spec);
  const c = resolveCollectorSpec(collector.spec);
  const name = probeObjectName(fp.metadata.name);
  const config = agentConfig(spec, collector);
  const grpc = spec.export.transport === "grpc";

  const volumes: V1Volume[] = [
    { name: "config", configMap: { name } },
    { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
  ];
  const mounts: V1VolumeMount[] = [
    { name: "config", mountPath: PATHS.configDir, readOnly: true },
    { name: "tmp", mountPath: "/tmp" },
  ];
  if (grpc && c.tls?.mode === "provided" && c.tls.secretName) {
    // Only the CA: the agent verifies the aggregator, it does not need its key.
    volumes.push({
      name: "tls",
      secret: { secretName: c.tls.secretName, items: [{ key: "ca.crt", path: "ca.crt" }], defaultMode: 0o440 },
    });
    mounts.push({ name: "tls", mountPath: PATHS.tlsDir, readOnly: true });
  } else if (grpc && c.tls?.mode === "auto") {
    volumes.push({
      name: "tls",
      secret: {
        secretName: agentTlsSecretName(fp.metadata.name),
        items: [
          { key: "ca.crt", path: "ca.crt" },
          { key: "tls.crt", path: "tls.crt" },
          { key: "tls.key", path: "tls.key" },
        ],
        defaultMode: 0o440,
      },
    });
    mounts.push({ name: "tls", mountPath: PATHS.tlsDir, readOnly: true });
  }
  if (!grpc && c.nats?.credentialsSecret) {
    volumes.push({
      name: "nats",
      secret: {
        secretName: c.nats.credentialsSecret,
        items: [{ key: PATHS.natsCredsKey, path: PATHS.natsCredsKey }],
        defaultMode: 0o440,
      },
    });
    mounts.push({ name: "nats", mountPath: PATHS.natsDir, readOnly: true });
  }

  return [
    configMap(objectMeta(fp, name, "agent"), config),
    {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: objectMeta(fp, name, "agent"),
      spec: {
        selector: { matchLabels: selectorLabels(fp.metadata.name, "agent") },
        // Host network: two agents cannot share a node's metrics port, so never surge.
        updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
        template: {
          metadata: {
            labels: objectMeta(fp, name, "agent").labels,
            annotations: {
              [CONFIG_HASH_ANNOTATION]: config.hash,
              ...(grpc && c.tls?.mode === "auto" && options.tlsHash ? { [TLS_HASH_ANNOTATION]: options.tlsHash } : {}),
            },
          },
          spec: {
            // The node's own interfaces are what is captured.
            hostNetwork: true,
            // Resolve the collector's Service name although on the host network.
            dnsPolicy: "ClusterFirstWithHostNet",
            // The agent never calls the Kubernetes API: no token to steal.
            automountServiceAccountToken: false,
            nodeSelector: { ...spec.nodeSelector, "kubernetes.io/os": "linux" },
            ...(spec.tolerations ? { tolerations: spec.tolerations } : {}),
            containers: [
              {
                name: "agent",
                image: imageOf(spec, options),
                imagePullPolicy: "IfNotPresent",
                command: ["flowlens", "agent", "--config", `${PATHS.configDir}/${AGENT_CONFIG_FILE}`],
                env: [{ name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }],
                ports: [
                  { name: "metrics", containerPort: AGENT_METRICS_PORT, hostPort: AGENT_METRICS_PORT, protocol: "TCP" },
                ],
                resources: containerResources(spec.resources),
                securityContext: {
                  // Root, because Kubernetes grants added capabilities to uid 0 only: a non-root
                  // process would get them through file capabilities, which
                  // allowPrivilegeEscalation=false (no_new_privs) rightly disables. Everything
                  // else is dropped: AF_PACKET sockets (NET_RAW), promiscuous mode and fanout
                  // (NET_ADMIN), and locking the TPACKET ring in memory (IPC_LOCK) are all it does.
                  runAsUser: 0,
                  runAsNonRoot: false,
                  privileged: false,
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ["ALL"], add: ["NET_RAW", "NET_ADMIN", "IPC_LOCK"] },
                  seccompProfile: { type: "RuntimeDefault" },
                },
                volumeMounts: mounts,
                livenessProbe: {
                  httpGet: { path: "/healthz", port: "metrics" },
                  initialDelaySeconds: 5,
                  periodSeconds: 10,
                  timeoutSeconds: 5,
                  failureThreshold: 3,
                },
                readinessProbe: {
                  httpGet: { path: "/healthz", port: "metrics" },
                  periodSeconds: 5,
                  timeoutSeconds: 3,
                },
              },
            ],
            volumes,
          },
        },
      },
    },
  ];
}
