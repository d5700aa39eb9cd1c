// flowlens up: the embedded default. Probe and aggregator in one process, joined by the
// in-process exporter, so one command on one machine shows who talks to whom.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import {
  Agent,
  agentIdentity,
  CaptureOpenError,
  defaultAgentConfig,
  type FlowSource,
  LocalExporter,
  listSystemInterfaces,
  liveSource,
  parseListenAddress,
  replaySource,
} from "@flowlens/agent";
import { Aggregator } from "@flowlens/aggregator";
import { type Command, UsageError } from "../command.js";
import { createLogger, waitForSignal } from "../daemon.js";
import { addCollectors, aggregatorBaseOptions, checkAlertRulesPath, dataDirProblem } from "./aggregator.js";
import { listOption, secondsOption, stringOption } from "./parse.js";
import { upSpec } from "./specs.js";

/** The interface of the IPv4 default route, from /proc/net/route. */
export function defaultRouteInterface(routes = "/proc/net/route"): string | undefined {
  try {
    for (const line of readFileSync(routes, "utf8").split("\n").slice(1)) {
      const [iface, dest, , flags] = line.trim().split(/\s+/);
      if (iface && dest === "00000000" && (Number.parseInt(flags ?? "0", 16) & 1) === 1) return iface;
    }
  } catch {
    // No /proc (not Linux): the caller says what to do instead.
  }
  return undefined;
}

/** The per-user state directory of `flowlens up` (XDG base directories). */
export function defaultDataDir(env = process.env): string {
  const base = env.XDG_STATE_HOME?.startsWith("/") ? env.XDG_STATE_HOME : join(homedir(), ".local/state");
  return join(base, "flowlens");
}

export const upCommand: Command = {
  ...upSpec,
  async run({ values, stderr }) {
    const c = "up";
    const pcap = stringOption(values, "pcap");
    let interfaces = listOption(values, "interface");
    if (pcap && interfaces.length > 0) throw new UsageError(`${c}: --pcap and --interface exclude each other`);
    if (values.loop && !pcap) throw new UsageError(`${c}: --loop needs --pcap FILE`);
    if (pcap && !existsSync(pcap)) throw new UsageError(`${c}: ${pcap}: no such file`);
    const logger = createLogger(values["log-level"] as string, "up");
    const options = aggregatorBaseOptions(c, values, values["http-address"] as string);
    checkAlertRulesPath(c, options);
    // Alert history survives restarts by default here (--data-dir "" keeps it in memory only);
    // a default directory that cannot be used is no reason not to start.
    if (values["data-dir"] === undefined) {
      const dir = defaultDataDir();
      const problem = dataDirProblem(dir);
      if (problem === undefined) options.alerts = { ...options.alerts, dataDir: dir };
      else stderr.write(`flowlens up: alerts are kept in memory only: cannot use ${problem}\n`);
    }
    const aggregator = new Aggregator(options, logger);
    // Routers' and switches' exports, when asked for by port: in the same state as the probe's.
    const collecting = await addCollectors(c, values, aggregator, logger);
    await aggregator.start();

    const identity = agentIdentity();
    const config = defaultAgentConfig(identity.node);
    config.metricsAddress = "";
    config.batch = { maxFlows: 1000, maxDelayMs: 500 };
    const table = {
      ...(stringOption(values, "bpf") ? { bpf: stringOption(values, "bpf") as string } : {}),
      idleTimeoutMs: secondsOption(c, values, "idle-timeout") * 1000,
      activeTimeoutMs: secondsOption(c, values, "active-timeout") * 1000,
      dpi: values["no-dpi"] !== true,
    };
    const local = new LocalExporter((batch) => aggregator.ingest.apply(batch, "local"));
    let source: (onFlows: Parameters<typeof liveSource>[1]) => FlowSource;
    if (pcap) {
      source = (onFlows) =>
        replaySource({ ...table, file: pcap, loop: values.loop === true, loopPauseMs: 10_000 }, onFlows);
    } else {
      if (interfaces.length === 0) {
        // The default route's interface is where a machine's traffic goes; without one (an
        // isolated host) the first interface that is up, then loopback, is better than nothing.
        const picked = defaultRouteInterface() ?? listSystemInterfaces().find((i) => i.up && !i.loopback)?.name ?? "lo";
        interfaces = [picked];
      }
      const ifs = interfaces;
      source = (onFlows) =>
        liveSource(
          { ...table, interfaces: ifs, workers: 1, promisc: false, blockSize: 1 << 20, blockCount: 32 },
          onFlows,
        );
    }
    const agent = new Agent({ config, identity, logger, exporters: [local], source, registry: aggregator.registry });
    const { host } = parseListenAddress(values["http-address"] as string);
    const shown = !host || host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
    const url = `http://${shown}:${aggregator.httpPort}`;
    try {
      await agent.start();
      stderr.write(
        `flowlens up: ${pcap ? `replaying ${pcap}${values.loop ? " in a loop" : ""}` : `capturing on ${interfaces.join(", ")}`}\n` +
          `  API     ${url}/api/v1/hosts  (${url}/api/v1/openapi.json)\n  metrics ${url}/metrics\n` +
          (collecting.length > 0
            ? `  collector ${values["collector-address"] as string} ${collecting.join(", ")} (exporters: ${url}/api/v1/exporters)\n`
            : ""),
      );
    } catch (err) {
      if (!(err instanceof CaptureOpenError)) throw err;
      stderr.write(
        `flowlens up: cannot capture on ${interfaces.join(", ")}: ${err.message}\n` +
          "  Live capture needs CAP_NET_RAW: run as root, or grant it once with\n" +
          "    sudo setcap cap_net_raw,cap_net_admin+eip $(readlink -f $(which node))\n" +
          `  Falling back: serving the API and metrics without capture at ${url}\n` +
          "  (replay a capture meanwhile with: flowlens up --pcap FILE --loop)\n",
      );
    }
    const reason = await Promise.race([
      waitForSignal(),
      agent.sourceDone
        .then((r) => (r.error ? `capture failed: ${r.error}` : ""))
        .then((r) => r || new Promise<string>(() => {})),
    ]);
    logger.info({ reason }, "stopping");
    await agent.stop();
    await aggregator.stop();
    return reason.startsWith("capture failed") ? 1 : 0;
  },
};
