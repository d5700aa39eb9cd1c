// flowlens aggregator: ingest (gRPC, NATS JetStream), live state, metrics and REST API.
import { accessSync, constants, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseListenAddress } from "@flowlens/agent";
import {
  Aggregator,
  type AggregatorOptions,
  CollectorListener,
  defaultStateConfig,
  type EndpointDefaults,
  EndpointDefaultsError,
  endpointDefaults,
  grpcTransport,
  IPFIX_TCP_DEFAULTS,
  IpfixTcpListener,
  NetflowDecoder,
  natsTransport,
  SflowDecoder,
} from "@flowlens/aggregator";
import { type Command, UsageError } from "../command.js";
import { createLogger, waitForSignal } from "../daemon.js";
import { intOption, listOption, secondsOption, sizeOption, stringOption } from "./parse.js";
import { aggregatorOptions, aggregatorSpec } from "./specs.js";

type Values = Record<string, string | boolean | string[] | undefined>;

function readFile(cmd: string, file: string | undefined): string | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(
      `${cmd}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

export function aggregatorBaseOptions(cmd: string, values: Values, httpAddress: string): AggregatorOptions {
  let http: { host?: string; port: number };
  try {
    http = parseListenAddress(httpAddress);
  } catch (err) {
    throw new UsageError(`${cmd}: --http-address: ${(err as Error).message}`);
  }
  const state = defaultStateConfig();
  state.maxHosts = intOption(cmd, values, "max-hosts", 2, 50_000_000);
  const rulesPath = stringOption(values, "alert-rules");
  const dataDir = stringOption(values, "data-dir");
  const evaluateIntervalMs = Math.round(secondsOption(cmd, values, "alert-evaluation-interval") * 1000);
  const scale = Number(values["alert-window-scale"]);
  if (!(scale >= 0.001 && scale <= 1000))
    throw new UsageError(
      `${cmd}: --alert-window-scale must be a number from 0.001 to 1000, got '${values["alert-window-scale"]}'`,
    );
  let defaults: EndpointDefaults;
  try {
    defaults = endpointDefaults({
      smtpServer: stringOption(values, "smtp-server"),
      smtpFrom: stringOption(values, "smtp-from"),
      smtpUser: stringOption(values, "smtp-user"),
      smtpPassword: readFile(cmd, stringOption(values, "smtp-password-file"))?.replace(/\r?\n$/, ""),
      smtpTls: stringOption(values, "smtp-tls"),
      smtpCaFile: stringOption(values, "smtp-ca"),
      webhookSecret: readFile(cmd, stringOption(values, "webhook-secret-file"))?.trim(),
    });
  } catch (err) {
    if (err instanceof EndpointDefaultsError) throw new UsageError(`${cmd}: --${err.message}`);
    throw err;
  }
  return {
    ...(http.host ? { httpHost: http.host } : {}),
    httpPort: http.port,
    localNetworks: listOption(values, "local-network"),
    topHosts: intOption(cmd, values, "top-hosts", 0, 10_000),
    state,
    shutdownGraceMs: 5000,
    alerts: {
      ...(rulesPath ? { rulesPath } : {}),
      ...(dataDir ? { dataDir } : {}),
      evaluateIntervalMs,
      ...(scale !== 1 ? { windowScale: scale } : {}),
      ...(Object.keys(defaults).length > 0 ? { endpointDefaults: defaults } : {}),
    },
  };
}

/** Why a data directory cannot hold the alert store (created if missing), or undefined if it can. */
export function dataDirProblem(dir: string): string | undefined {
  try {
    // One level at a time: Node's recursive mkdir never returns on some pseudo file systems (/proc).
    const missing: string[] = [];
    for (let d = resolve(dir); !existsSync(d); d = dirname(d)) missing.unshift(d);
    for (const d of missing) mkdirSync(d);
    accessSync(dir, constants.W_OK | constants.R_OK | constants.X_OK);
    return undefined;
  } catch (err) {
    return `${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
}

/** The --alert-rules path must be there at start (later it may come and go: the last rules stay). */
export function checkAlertRulesPath(cmd: string, options: AggregatorOptions): void {
  const path = options.alerts?.rulesPath;
  if (path !== undefined && !existsSync(path))
    throw new UsageError(`${cmd}: --alert-rules: ${path}: no such file or directory`);
  const dir = options.alerts?.dataDir;
  const problem = dir !== undefined ? dataDirProblem(dir) : undefined;
  if (problem !== undefined) throw new UsageError(`${cmd}: --data-dir: ${problem}`);
}

/**
 * The NetFlow/IPFIX/sFlow listeners the options ask for, as transports of the aggregator (they
 * open with it). Returns what will listen, e.g. ["udp/2055", "tcp/4739"].
 */
export async function addCollectors(
  c: string,
  values: Values,
  aggregator: Aggregator,
  logger: ReturnType<typeof createLogger>,
): Promise<string[]> {
  const collectorPorts = ["netflow-port", "ipfix-port", "sflow-port"]
    .map((p) => intOption(c, values, p, 0, 65535))
    .filter((p) => p !== 0);
  const collectorBuffer = sizeOption(c, values, "collector-buffer");
  const ipfixTcpPort = intOption(c, values, "ipfix-tcp-port", 0, 65535);
  const address = values["collector-address"] as string;
  if (collectorPorts.length > 0) {
    const listener = new CollectorListener(
      { host: address, ports: collectorPorts, recvBufferBytes: collectorBuffer },
      // The API computes Community IDs for the flows it shows (flowCommunityId): hashing every
      // record here would cost as much as decoding it. The same holds for sFlow's samples.
      new NetflowDecoder({ communityId: false }),
      aggregator.ingest.collected,
      Date.now,
      {
        decoder: new SflowDecoder({ communityId: false }),
        counters: (samples) => {
          for (const c of samples) aggregator.state.applyInterfaceCounters(c.exporter, c.ifIndex, c.counters);
        },
        loss: (exporter, lost) => aggregator.state.applyExporterLoss(exporter, lost),
        recordLoss: (exporter, lost) => aggregator.state.applyExporterRecordLoss(exporter, lost),
      },
    );
    await aggregator.addTransport({
      name: "collector",
      async start() {
        const ports = await listener.start();
        const recvBuffer = listener.stats().recvBufferBytes;
        logger.info({ ports, address, recvBuffer }, "collector listening");
        if (recvBuffer < collectorBuffer) {
          // The kernel caps SO_RCVBUF at net.core.rmem_max (it reports double what it keeps).
          logger.warn(
            { asked: collectorBuffer, got: recvBuffer },
            "collector socket buffer smaller than asked: raise net.core.rmem_max to avoid drops in bursts",
          );
        }
      },
      stop: () => listener.stop(),
      metricRows: () => listener.metricRows(),
    });
  }
  if (ipfixTcpPort !== 0) {
    const tcp = new IpfixTcpListener(
      { ...IPFIX_TCP_DEFAULTS, host: address, port: ipfixTcpPort },
      aggregator.ingest.collected,
      Date.now,
      (exporter, lost) => aggregator.state.applyExporterRecordLoss(exporter, lost),
    );
    await aggregator.addTransport({
      name: tcp.name,
      async start() {
        const port = await tcp.start();
        logger.info({ port, address }, "IPFIX over TCP listening");
      },
      stop: () => tcp.stop(),
      metricRows: () => tcp.metricRows(),
    });
  }
  return [...collectorPorts.map((p) => `udp/${p}`), ...(ipfixTcpPort !== 0 ? [`tcp/${ipfixTcpPort}`] : [])];
}

export { aggregatorOptions };

export const aggregatorCommand: Command = {
  ...aggregatorSpec,
  async run({ values }) {
    const c = "aggregator";
    const logger = createLogger(values["log-level"] as string, "aggregator");
    let aggregator: Aggregator;
    try {
      const options = aggregatorBaseOptions(c, values, values["http-address"] as string);
      checkAlertRulesPath(c, options);
      aggregator = new Aggregator(options, logger);
    } catch (err) {
      if ((err as { code?: string }).code === "BAD_CIDR")
        throw new UsageError(`${c}: --local-network: ${(err as Error).message}`);
      throw err;
    }
    const grpcAddress = stringOption(values, "grpc-address");
    if (grpcAddress) {
      const cert = stringOption(values, "grpc-tls-cert");
      const key = stringOption(values, "grpc-tls-key");
      const clientCa = stringOption(values, "grpc-client-ca");
      if ((cert === undefined) !== (key === undefined))
        throw new UsageError(`${c}: --grpc-tls-cert and --grpc-tls-key go together`);
      if (clientCa && !cert)
        throw new UsageError(`${c}: --grpc-client-ca (mTLS) needs --grpc-tls-cert and --grpc-tls-key`);
      const tokens = readFile(c, stringOption(values, "grpc-token-file"))
        ?.split("\n")
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith("#"));
      if (tokens !== undefined && tokens.length === 0) throw new UsageError(`${c}: --grpc-token-file holds no token`);
      let listen: string;
      try {
        const a = parseListenAddress(grpcAddress);
        listen = `${a.host ?? "0.0.0.0"}:${a.port}`;
      } catch (err) {
        throw new UsageError(`${c}: --grpc-address: ${(err as Error).message}`);
      }
      await aggregator.addTransport(
        grpcTransport(
          {
            listen,
            ...(cert && key
              ? { tls: { certFile: cert, keyFile: key, ...(clientCa ? { clientCaFile: clientCa } : {}) } }
              : {}),
            ...(tokens ? { tokens } : {}),
          },
          aggregator.ingest,
          logger,
        ),
      );
    }
    const natsServers = listOption(values, "nats-url");
    if (natsServers.length > 0) {
      const user = stringOption(values, "nats-user");
      const pass = readFile(c, stringOption(values, "nats-password-file"))?.trim();
      const token = readFile(c, stringOption(values, "nats-token-file"))?.trim();
      const creds = stringOption(values, "nats-creds");
      const ca = stringOption(values, "nats-ca");
      const ncert = stringOption(values, "nats-cert");
      const nkey = stringOption(values, "nats-key");
      await aggregator.addTransport(
        natsTransport(
          {
            servers: natsServers,
            ...(user ? { user, pass: pass ?? "" } : {}),
            ...(token ? { token } : {}),
            ...(creds ? { credsFile: creds } : {}),
            ...(ca || ncert ? { tls: { caFile: ca, certFile: ncert, keyFile: nkey } } : {}),
            stream: { name: values["nats-stream"] as string },
            durable: values["nats-consumer"] as string,
          },
          aggregator.ingest,
          logger,
        ),
      );
    }
    await addCollectors(c, values, aggregator, logger);
    await aggregator.start();
    const signal = await waitForSignal();
    logger.info({ signal }, "stopping");
    await aggregator.stop();
    return 0;
  },
};
