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
import { intOption, listOption, secondsOption, sizeOption, stringOption } from "./parse.js";
import { agentOptions, agentSpec } from "./specs.js";

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

export { agentOptions };

export const agentCommand: Command = {
  ...agentSpec,
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
