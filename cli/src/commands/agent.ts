// flowlens agent: the probe daemon (a DaemonSet on every node, host network).
import { readFileSync } from "node:fs";
import {
  Agent,
  type AgentConfig,
  agentIdentity,
  ConfigError,
  defaultAgentConfig,
  type FlowExporter,
  GrpcExporter,
  IpfixExporter,
  listSystemInterfaces,
  liveSource,
  NatsExporter,
  selectInterfaces,
  validateAgentConfig,
} from "@flowlens/agent";
import { type Command, UsageError } from "../command.js";
import { createLogger, waitForSignal } from "../daemon.js";
import { configFile, timeouts } from "./options.js";
import { intOption, listOption, secondsOption, sizeOption, stringOption } from "./parse.js";

const tlsOptions = (prefix: string, peer: string) =>
  ({
    [`${prefix}-ca`]: {
      type: "string",
      placeholder: "FILE",
      description: `CA bundle to verify the ${peer} (enables TLS)`,
    },
    [`${prefix}-cert`]: {
      type: "string",
      placeholder: "FILE",
      description: `Client certificate for mTLS with the ${peer}`,
    },
    [`${prefix}-key`]: { type: "string", placeholder: "FILE", description: `Key of the client certificate` },
  }) as const;

export const agentOptions = {
  ...configFile,
  node: { type: "string", placeholder: "NAME", description: "Node name (default: $NODE_NAME, then the hostname)" },
  interface: {
    type: "string",
    short: "i",
    multiple: true,
    placeholder: "IF",
    description: "Interface or glob (eth*) to capture on (default: every up, non-loopback interface)",
  },
  "exclude-interface": {
    type: "string",
    multiple: true,
    placeholder: "IF",
    description: "Interface or glob to leave out",
  },
  bpf: { type: "string", placeholder: "EXPR", description: "BPF filter" },
  sampling: { type: "string", placeholder: "N", description: "Sample 1 in N packets", default: "1" },
  ...timeouts,
  "max-flows": { type: "string", placeholder: "N", description: "Flow table bound", default: "1000000" },
  "no-dpi": { type: "boolean", description: "Do not classify applications with nDPI" },
  workers: {
    type: "string",
    placeholder: "N",
    description: "Capture threads per interface (PACKET_FANOUT)",
    default: "1",
  },
  promisc: { type: "boolean", description: "Put the interfaces in promiscuous mode" },
  "ring-block-size": { type: "string", placeholder: "SIZE", description: "TPACKET_V3 block size", default: "1M" },
  "ring-blocks": { type: "string", placeholder: "N", description: "TPACKET_V3 blocks per ring", default: "64" },
  "grpc-target": { type: "string", placeholder: "HOST:PORT", description: "Aggregator gRPC endpoint" },
  ...tlsOptions("grpc", "aggregator"),
  "grpc-server-name": {
    type: "string",
    placeholder: "NAME",
    description: "Name to expect in the aggregator's certificate",
  },
  "grpc-token-file": {
    type: "string",
    placeholder: "FILE",
    description: "File holding the bearer token for the aggregator",
  },
  "nats-url": {
    type: "string",
    multiple: true,
    placeholder: "URL",
    description: "NATS server(s) for the JetStream transport",
  },
  "nats-user": { type: "string", placeholder: "USER", description: "NATS user" },
  "nats-password-file": { type: "string", placeholder: "FILE", description: "File holding the NATS password" },
  "nats-token-file": { type: "string", placeholder: "FILE", description: "File holding the NATS token" },
  "nats-creds": { type: "string", placeholder: "FILE", description: "NATS credentials file (JWT + nkey)" },
  ...tlsOptions("nats", "NATS server"),
  "queue-max-flows": {
    type: "string",
    placeholder: "N",
    description: "Export queue bound in flows",
    default: "1000000",
  },
  "queue-max-bytes": {
    type: "string",
    placeholder: "SIZE",
    description: "Export queue bound in bytes",
    default: "256M",
  },
  "batch-max-flows": { type: "string", placeholder: "N", description: "Flows per batch", default: "1000" },
  "batch-max-delay": {
    type: "string",
    placeholder: "MS",
    description: "Longest a flow waits for its batch",
    default: "1000",
  },
  "ipfix-target": {
    type: "string",
    multiple: true,
    placeholder: "HOST:PORT",
    description: "Also export IPFIX (or NetFlow v9) over UDP to this collector",
  },
  "ipfix-version": { type: "string", placeholder: "10|9", description: "10: IPFIX, 9: NetFlow v9", default: "10" },
  "ipfix-biflow": {
    type: "boolean",
    description: "One bidirectional record per flow (RFC 5103) instead of one record per direction",
  },
  "metrics-address": {
    type: "string",
    placeholder: "ADDR",
    description: "Listen address of /metrics and /healthz (empty disables)",
    default: ":9101",
  },
} as const;

function secret(cmd: string, file: string | undefined): string | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new UsageError(
      `${cmd}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

export function agentConfigFromOptions(values: Record<string, string | boolean | string[] | undefined>): AgentConfig {
  const c = "agent";
  const node = stringOption(values, "node") ?? (process.env.NODE_NAME?.trim() || agentIdentity().node);
  const config = defaultAgentConfig(node);
  config.capture = {
    ...config.capture,
    interfaces: listOption(values, "interface"),
    excludeInterfaces: listOption(values, "exclude-interface"),
    ...(stringOption(values, "bpf") ? { bpf: stringOption(values, "bpf") } : {}),
    sampling: intOption(c, values, "sampling", 1, 1 << 30),
    idleTimeoutS: secondsOption(c, values, "idle-timeout"),
    activeTimeoutS: secondsOption(c, values, "active-timeout"),
    maxFlows: intOption(c, values, "max-flows", 1024, 1 << 27),
    dpi: values["no-dpi"] !== true,
    workersPerInterface: intOption(c, values, "workers", 1, 64),
    promisc: values.promisc === true,
    ringBlockSize: sizeOption(c, values, "ring-block-size"),
    ringBlockCount: intOption(c, values, "ring-blocks", 2, 65536),
  };
  config.batch = {
    maxFlows: intOption(c, values, "batch-max-flows", 1, 100_000),
    maxDelayMs: intOption(c, values, "batch-max-delay", 1, 60_000),
  };
  config.queue = {
    maxFlows: intOption(c, values, "queue-max-flows", 1, 1 << 30),
    maxBytes: sizeOption(c, values, "queue-max-bytes"),
  };
  const tls = (p: string) => {
    const t = {
      ...(stringOption(values, `${p}-ca`) ? { caFile: stringOption(values, `${p}-ca`) } : {}),
      ...(stringOption(values, `${p}-cert`) ? { certFile: stringOption(values, `${p}-cert`) } : {}),
      ...(stringOption(values, `${p}-key`) ? { keyFile: stringOption(values, `${p}-key`) } : {}),
    };
    return Object.keys(t).length > 0 ? t : undefined;
  };
  const grpcTarget = stringOption(values, "grpc-target");
  if (grpcTarget) {
    const t = tls("grpc");
    const serverName = stringOption(values, "grpc-server-name");
    const token = secret(c, stringOption(values, "grpc-token-file"));
    config.grpc = {
      target: grpcTarget,
      ...(t || serverName ? { tls: { ...t, ...(serverName ? { serverName } : {}) } } : {}),
      ...(token ? { token } : {}),
    };
  }
  const natsServers = listOption(values, "nats-url");
  if (natsServers.length > 0) {
    const t = tls("nats");
    const user = stringOption(values, "nats-user");
    const pass = secret(c, stringOption(values, "nats-password-file"));
    const token = secret(c, stringOption(values, "nats-token-file"));
    const creds = stringOption(values, "nats-creds");
    config.nats = {
      servers: natsServers,
      ...(user ? { user } : {}),
      ...(pass !== undefined ? { pass } : {}),
      ...(token ? { token } : {}),
      ...(creds ? { credsFile: creds } : {}),
      ...(t ? { tls: t } : {}),
    };
  }
  config.metricsAddress = typeof values["metrics-address"] === "string" ? values["metrics-address"] : "";
  try {
    return validateAgentConfig(config);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(`agent: ${err.message}`);
    throw err;
  }
}

export function buildExporters(config: AgentConfig, identity: ReturnType<typeof agentIdentity>): FlowExporter[] {
  const exporters: FlowExporter[] = [];
  const backoff = { initialMs: 250, maxMs: 10_000 };
  if (config.grpc) {
    exporters.push(
      new GrpcExporter({
        target: config.grpc.target,
        ...(config.grpc.tls ? { tls: config.grpc.tls } : {}),
        ...(config.grpc.token ? { token: config.grpc.token } : {}),
        queue: config.queue,
        maxInFlightBatches: 64,
        backoff,
      }),
    );
  }
  if (config.nats) {
    const n = config.nats;
    exporters.push(
      new NatsExporter({
        servers: n.servers,
        node: config.node,
        identity,
        ...(n.user ? { user: n.user, pass: n.pass } : {}),
        ...(n.token ? { token: n.token } : {}),
        ...(n.credsFile ? { credsFile: n.credsFile } : {}),
        ...(n.tls ? { tls: n.tls } : {}),
        queue: config.queue,
        maxInFlight: 32,
        backoff,
      }),
    );
  }
  return exporters;
}

export const agentCommand: Command = {
  name: "agent",
  summary: "Run the probe daemon: capture on this node's interfaces and export flows to the aggregator.",
  usage: "agent [options]",
  configurable: true,
  options: agentOptions,
  async run({ values }) {
    const config = agentConfigFromOptions(values);
    const ipfixTargets = listOption(values, "ipfix-target");
    const ipfixVersion = values["ipfix-version"];
    if (ipfixVersion !== "10" && ipfixVersion !== "9") {
      throw new UsageError(`agent: --ipfix-version must be 10 or 9, got '${ipfixVersion}'`);
    }
    if (!config.grpc && !config.nats && ipfixTargets.length === 0) {
      throw new UsageError("agent: no exporter configured: give --grpc-target, --nats-url and/or --ipfix-target");
    }
    const logger = createLogger(values["log-level"] as string, "agent");
    const interfaces = selectInterfaces(
      listSystemInterfaces(),
      config.capture.interfaces,
      config.capture.excludeInterfaces,
    );
    if (interfaces.length === 0)
      throw new UsageError("agent: no interface to capture on (check --interface/--exclude-interface)");
    const identity = { ...agentIdentity(), node: config.node };
    const exporters = buildExporters(config, identity);
    for (const target of ipfixTargets) {
      try {
        exporters.push(
          new IpfixExporter({
            target,
            version: ipfixVersion === "9" ? 9 : 10,
            biflow: values["ipfix-biflow"] === true,
          }),
        );
      } catch (err) {
        throw new UsageError(`agent: --ipfix-target: ${(err as Error).message}`);
      }
    }
    const cap = config.capture;
    const agent = new Agent({
      config,
      identity,
      logger,
      exporters,
      source: (onFlows) =>
        liveSource(
          {
            interfaces,
            workers: cap.workersPerInterface,
            promisc: cap.promisc,
            blockSize: cap.ringBlockSize,
            blockCount: cap.ringBlockCount,
            ...(cap.bpf ? { bpf: cap.bpf } : {}),
            idleTimeoutMs: cap.idleTimeoutS * 1000,
            activeTimeoutMs: cap.activeTimeoutS * 1000,
            maxFlows: cap.maxFlows,
            dpi: cap.dpi,
            sampling: cap.sampling,
          },
          onFlows,
        ),
    });
    await agent.start();
    const reason = await Promise.race([waitForSignal(), agent.sourceDone.then((r) => r.error ?? "capture ended")]);
    logger.info({ reason }, "stopping");
    await agent.stop();
    return reason === "SIGTERM" || reason === "SIGINT" ? 0 : 1;
  },
};
