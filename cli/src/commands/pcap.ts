// flowlens pcap FILE...: offline flows from capture files (DESIGN.md CLI contract).
import { CaptureError, type EngineFlow, type EngineStats, readPcap } from "@flowlens/agent/engine";
import type { FlowRecord } from "@flowlens/contracts";
import { type Command, UsageError } from "../command.js";
import { pcapSpec } from "./specs.js";

const PROTO_NAMES: Record<number, string> = {
  1: "ICMP",
  6: "TCP",
  17: "UDP",
  47: "GRE",
  50: "ESP",
  58: "ICMPv6",
  132: "SCTP",
};

function seconds(name: string, raw: unknown): number {
  const v = Number(raw);
  if (typeof raw !== "string" || raw.trim() === "" || !Number.isFinite(v) || v <= 0 || v > 4_000_000) {
    throw new UsageError(`pcap: --${name} must be a number of seconds > 0, got '${raw}'`);
  }
  return v;
}

/**
 * The record as DESIGN.md fixes it, plus `tunnel` when the packets came through one. NDJSON
 * output is printed by the engine (agent/native/src/ndjson.c); JSON.stringify of this is what it
 * must equal, byte for byte (pcap.test.ts).
 */
export function toRecord(f: EngineFlow): FlowRecord & { tunnel?: string } {
  const { wireBytes: _w, tunnel, ...rec } = f;
  return tunnel ? { ...rec, tunnel } : rec;
}

function endpoint(addr: string, port: number, v: number): string {
  return v === 6 ? `[${addr}]:${port}` : `${addr}:${port}`;
}

function tableRow(f: EngineFlow): string {
  const proto = PROTO_NAMES[f.proto] ?? String(f.proto);
  const dur = ((f.lastSeenMs - f.firstSeenMs) / 1000).toFixed(3);
  return [
    proto.padEnd(6),
    endpoint(f.srcAddr, f.srcPort, f.ipVersion).padEnd(46),
    endpoint(f.dstAddr, f.dstPort, f.ipVersion).padEnd(46),
    (f.vlan ? String(f.vlan) : "").padEnd(5),
    f.l7.padEnd(22),
    `${f.srcToDstPackets}/${f.dstToSrcPackets}`.padEnd(14),
    `${f.srcToDstBytes}/${f.dstToSrcBytes}`.padEnd(20),
    dur.padStart(10),
    `  ${f.endReason}`,
  ].join(" ");
}

function summary(stats: EngineStats, flows: number): string {
  const secs = stats.elapsedMs / 1000;
  const pps = secs > 0 ? Math.round(stats.packets / secs) : 0;
  const errs = Object.entries(stats.decodeErrors)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  return [
    `packets ${stats.packets} (IP ${stats.ipPackets}), bytes ${stats.bytes}, flows ${flows}` +
      (stats.flowsEvicted ? ` (evicted ${stats.flowsEvicted})` : ""),
    `decode errors: ${errs || "none"}`,
    `elapsed ${secs.toFixed(3)} s, ${pps} packets/s`,
  ].join("\n");
}

export const pcapCommand: Command = {
  ...pcapSpec,
  async run({ values, positionals, stdout, stderr }) {
    if (positionals.length === 0) throw new UsageError("pcap: give at least one capture file");
    const format = values.format as string;
    if (format !== "ndjson" && format !== "table")
      throw new UsageError(`pcap: --format must be ndjson or table, got '${format}'`);
    const maxFlows = Number(values["max-flows"]);
    if (!Number.isInteger(maxFlows) || maxFlows < 1 || maxFlows > 50_000_000) {
      throw new UsageError(`pcap: --max-flows must be an integer from 1 to 50000000, got '${values["max-flows"]}'`);
    }
    const idle = seconds("idle-timeout", values["idle-timeout"]);
    const active = seconds("active-timeout", values["active-timeout"]);
    let flows = 0;
    if (format === "table") {
      stdout.write(
        `${["proto".padEnd(6), "src".padEnd(46), "dst".padEnd(46), "vlan".padEnd(5), "application".padEnd(22), "packets".padEnd(14), "bytes".padEnd(20), "seconds".padStart(10), "  end"].join(" ")}\n`,
      );
    }
    const options = {
      files: positionals,
      bpf: values.bpf as string | undefined,
      idleTimeoutMs: Math.round(idle * 1000),
      activeTimeoutMs: Math.round(active * 1000),
      maxFlows,
      dpi: values["no-dpi"] !== true,
    };
    let result: Awaited<ReturnType<typeof readPcap>>;
    try {
      if (format === "ndjson" && stdout === process.stdout) {
        // The engine prints the lines itself (JSON.stringify(toRecord(f)) byte for byte) straight
        // to the file descriptor: formatting them here, then copying each batch into a Buffer,
        // was most of the command's time.
        result = await readPcap({ ...options, output: "ndjson", fd: 1 }, (count) => {
          flows += count;
        });
        // A reader that went away (`| head`): stop quietly, as main.ts does for stream errors.
        if (result.stats.outputError?.code === "EPIPE") return 0;
        if (result.stats.outputError) throw new Error(`writing output: ${result.stats.outputError.message}`);
      } else if (format === "ndjson") {
        result = await readPcap({ ...options, output: "ndjson" }, (text, count) => {
          flows += count;
          stdout.write(text);
        });
      } else {
        result = await readPcap(options, (batch) => {
          flows += batch.length;
          let out = "";
          for (const f of batch) out += `${tableRow(f)}\n`;
          stdout.write(out);
        });
      }
    } catch (err) {
      if (err instanceof CaptureError) throw new UsageError(`pcap: ${err.message}`);
      throw err;
    }
    stderr.write(`${summary(result.stats, flows)}\n`);
    if (result.error) throw new UsageError(`pcap: ${result.error}`);
    return 0;
  },
};
