// The agent's configuration: one typed shape with defaults, validated once where it enters
// (config file, environment, flags are merged by the CLI before they get here).
export class ConfigError extends Error {
  readonly code = "BAD_CONFIG";
}

export interface TlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  serverName?: string;
}

export interface AgentConfig {
  node: string;
  capture: {
    /** Interface names or simple globs (`eth*`); empty means every up, non-loopback interface. */
    interfaces: string[];
    excludeInterfaces: string[];
    bpf?: string;
    sampling: number;
    idleTimeoutS: number;
    activeTimeoutS: number;
    maxFlows: number;
    dpi: boolean;
    workersPerInterface: number;
    promisc: boolean;
    ringBlockSize: number;
    ringBlockCount: number;
  };
  batch: { maxFlows: number; maxDelayMs: number };
  queue: { maxFlows: number; maxBytes: number };
  grpc?: { target: string; tls?: TlsFiles; token?: string };
  nats?: {
    servers: string[];
    user?: string;
    pass?: string;
    token?: string;
    credsFile?: string;
    tls?: TlsFiles;
  };
  /** Listen address of /metrics and /healthz; empty disables. */
  metricsAddress: string;
  shutdownGraceMs: number;
}

export function defaultAgentConfig(node: string): AgentConfig {
  return {
    node,
    capture: {
      interfaces: [],
      excludeInterfaces: [],
      sampling: 1,
      idleTimeoutS: 30,
      activeTimeoutS: 60,
      maxFlows: 1_000_000,
      dpi: true,
      workersPerInterface: 1,
      promisc: false,
      ringBlockSize: 1 << 20,
      ringBlockCount: 64,
    },
    batch: { maxFlows: 1000, maxDelayMs: 1000 },
    queue: { maxFlows: 1_000_000, maxBytes: 256 << 20 },
    metricsAddress: ":9101",
    shutdownGraceMs: 5000,
  };
}

/** Checks ranges and cross-field rules; throws ConfigError naming the field. */
export function validateAgentConfig(c: AgentConfig): AgentConfig {
  const int = (name: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new ConfigError(`${name} must be an integer in [${min}, ${max}], got ${v}`);
    }
  };
  if (!c.node) throw new ConfigError("node: empty (set NODE_NAME or --node)");
  int("capture.sampling", c.capture.sampling, 1, 1 << 30);
  int("capture.maxFlows", c.capture.maxFlows, 1024, 1 << 27);
  int("capture.workersPerInterface", c.capture.workersPerInterface, 1, 64);
  int("capture.ringBlockCount", c.capture.ringBlockCount, 2, 1 << 16);
  if (c.capture.ringBlockSize < 4096 || (c.capture.ringBlockSize & (c.capture.ringBlockSize - 1)) !== 0) {
    throw new ConfigError(`capture.ringBlockSize must be a power of two >= 4096, got ${c.capture.ringBlockSize}`);
  }
  for (const [name, v] of [
    ["capture.idleTimeoutS", c.capture.idleTimeoutS],
    ["capture.activeTimeoutS", c.capture.activeTimeoutS],
  ] as const) {
    if (!(v > 0 && v <= 86_400)) throw new ConfigError(`${name} must be in (0, 86400] seconds, got ${v}`);
  }
  int("batch.maxFlows", c.batch.maxFlows, 1, 100_000);
  int("batch.maxDelayMs", c.batch.maxDelayMs, 1, 60_000);
  int("queue.maxFlows", c.queue.maxFlows, 1, 1 << 30);
  int("queue.maxBytes", c.queue.maxBytes, 1024, 2 ** 40);
  if (c.grpc && !/^[^\s]+:\d{1,5}$/.test(c.grpc.target)) {
    throw new ConfigError(`grpc.target must be HOST:PORT, got '${c.grpc.target}'`);
  }
  if (c.nats && c.nats.servers.length === 0) throw new ConfigError("nats.servers: empty");
  if (c.nats?.user !== undefined && c.nats.pass === undefined) throw new ConfigError("nats.user needs nats.pass");
  for (const tls of [c.grpc?.tls, c.nats?.tls]) {
    if (tls && (tls.certFile === undefined) !== (tls.keyFile === undefined)) {
      throw new ConfigError("tls: certFile and keyFile go together (client certificate for mTLS)");
    }
  }
  int("shutdownGraceMs", c.shutdownGraceMs, 0, 600_000);
  return c;
}

/** `:9101`, `127.0.0.1:9101`, `[::1]:9101` -> host and port (host undefined = all). */
export function parseListenAddress(addr: string): { host?: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) throw new ConfigError(`listen address must be [HOST]:PORT, got '${addr}'`);
  const host = m[1] ?? m[2];
  return host ? { host, port } : { port };
}
