// flowlens collect --listen: the collector's UDP listener on its own, writing each record as it
// is decoded, as nfcapd writes its files and goflow2 its output; no live state. Any port takes
// any format (NetFlow v5/v9, IPFIX, sFlow v5 are told apart by their headers). Runs until
// SIGINT or SIGTERM, then writes what it holds and a summary (stderr) with the socket drops.
import { isIP } from "node:net";
import {
  type CollectedSink,
  CollectorListener,
  type CollectorStats,
  NetflowDecoder,
  SflowDecoder,
} from "@flowlens/aggregator";
import { UsageError } from "../command.js";
import { waitForSignal } from "../daemon.js";
import type { FlowOutput } from "./flow-output.js";

export interface ListenEndpoint {
  host: string;
  port: number;
}

/** Output older than this is written even when the chunk is not full, for whoever watches. */
const FLUSH_MS = 1000;

/** "[HOST:]PORT" values: "2055", "0.0.0.0:2055", "[::1]:4739", "::1:4739" is refused (brackets). */
export function parseListen(values: readonly string[]): ListenEndpoint[] {
  return values
    .flatMap((v) => v.split(","))
    .map((raw) => {
      const v = raw.trim();
      const m = /^(?:(?:\[([^\]]+)\]|([^:[\]]+)):)?(\d{1,5})$/.exec(v);
      const host = m ? (m[1] ?? m[2] ?? "::") : "";
      const port = m ? Number(m[3]) : -1;
      if (!m || port > 65535 || isIP(host) === 0) {
        throw new UsageError(
          `collect: --listen must be [HOST:]PORT with an IP address for HOST ([::1]:4739), got '${v}'`,
        );
      }
      return { host, port };
    });
}

function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function reasons(counts: Record<string, number>): string {
  return (
    Object.entries(counts)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k}=${n}`)
      .join(" ") || "none"
  );
}

export async function collectLive(
  endpoints: readonly ListenEndpoint[],
  recvBufferBytes: number,
  output: FlowOutput,
  stderr: NodeJS.WritableStream,
  until: () => Promise<unknown> = waitForSignal,
): Promise<number> {
  const decoder = new NetflowDecoder();
  const sflowDecoder = new SflowDecoder();
  const interfaces = new Set<string>();
  // Records come encoded (flow-records.ts): the encoding is the output for protobuf.
  const sink: CollectedSink = (records, length) => {
    for (let i = 0; i < length; i++) {
      const f = records[i];
      if (f === undefined) continue;
      if (f.buf !== null && f.message === null) output.encoded(f.buf, f.start, f.end);
      else output.message(f.toMessage());
    }
  };
  const byHost = new Map<string, number[]>();
  for (const e of endpoints) byHost.set(e.host, [...(byHost.get(e.host) ?? []), e.port]);
  const listeners: CollectorListener[] = [];
  const bound: string[] = [];
  const stop = () => Promise.all(listeners.map((l) => l.stop()));
  let at = "";
  try {
    for (const [host, ports] of byHost) {
      at = ports.map((p) => joinHostPort(host, p)).join(", ");
      const listener = new CollectorListener({ host, ports, recvBufferBytes }, decoder, sink, Date.now, {
        decoder: sflowDecoder,
        counters: (samples) => {
          for (const c of samples) if (interfaces.size < 65536) interfaces.add(`${c.exporter}/${c.ifIndex}`);
        },
      });
      listeners.push(listener);
      for (const port of await listener.start()) bound.push(joinHostPort(host, port));
    }
  } catch (err) {
    await stop();
    const code = (err as NodeJS.ErrnoException).code;
    stderr.write(
      `flowlens: collect: cannot listen on udp ${at}: ${(err as Error).message}${code ? ` (${code})` : ""}\n`,
    );
    return 1;
  }
  const buffer = Math.min(...listeners.map((l) => l.stats().recvBufferBytes));
  stderr.write(
    `collect: listening on udp ${bound.join(", ")} (receive buffer ${buffer} bytes${buffer < recvBufferBytes ? `, ${recvBufferBytes} asked: raise net.core.rmem_max` : ""}); SIGINT or SIGTERM stops\n`,
  );
  const flusher = setInterval(() => output.flush(), FLUSH_MS);
  flusher.unref();
  try {
    await until();
  } finally {
    clearInterval(flusher);
  }
  // Stats before the sockets close: their kernel drop counters go with them.
  const stats = listeners.map((l) => l.stats());
  await stop();
  output.flush();
  stderr.write(summary(stats, decoder, sflowDecoder, interfaces.size, output.records));
  return 0;
}

function summary(
  stats: CollectorStats[],
  decoder: NetflowDecoder,
  sflow: SflowDecoder,
  interfaces: number,
  written: number,
): string {
  const sum = (k: keyof CollectorStats) => stats.reduce((n, s) => n + (s[k] as number), 0);
  const merge = (k: "decodeErrors" | "sflowErrors") => {
    const out: Record<string, number> = {};
    for (const s of stats) for (const [r, n] of Object.entries(s[k])) out[r] = (out[r] ?? 0) + n;
    return out;
  };
  const d = decoder.stats();
  const sf = sflow.stats();
  const datagrams = sum("datagrams");
  const sflowDatagrams = sum("sflowDatagrams");
  const other = sum("notFlowExport");
  return [
    `datagrams ${datagrams} (NetFlow/IPFIX ${datagrams - sflowDatagrams - other}, sFlow ${sflowDatagrams}, other ${other}), bytes ${sum("bytes")}; socket drops ${sum("socketDrops")}`,
    `records ${written}, options records ${d.optionsRecords}, templates ${d.templates}, exporters ${new Set(d.sources.map((x) => x.exporter)).size}`,
    `lost on the way (sequence numbers): NetFlow v9 datagrams ${d.datagramsLost}, IPFIX records ${d.recordsLost}, sFlow datagrams ${sf.datagramsLost}`,
    `decode errors: ${reasons(merge("decodeErrors"))}`,
    ...(sflowDatagrams > 0
      ? [
          `sFlow: flow samples ${sf.flowSamples} (flows ${sf.flows}, discarded by the agent ${sf.discardedSamples}), counter samples ${sf.counterSamples} (interface counter records ${sf.counterRecords}, interfaces ${interfaces}), agents ${new Set(sf.sources.map((x) => x.source)).size}`,
          `sFlow decode errors and skipped parts: ${reasons(merge("sflowErrors"))}`,
        ]
      : []),
    "",
  ].join("\n");
}
