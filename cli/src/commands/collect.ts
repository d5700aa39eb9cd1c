// flowlens collect --pcap FILE: decode the NetFlow v5/v9 and IPFIX datagrams found in a capture
// (any UDP port), templates kept per exporter and domain: the tool a network engineer reaches
// for when an exporter misbehaves. sFlow v5 datagrams are recognised by their header too; their
// flow samples print as flows, their counter samples are summed up on stderr.
import { existsSync, readFileSync } from "node:fs";
import { NetflowDecoder, PcapFormatError, PcapUdpReader, SflowDecoder } from "@flowlens/aggregator";
import { type FlowRecord, flowToRecord } from "@flowlens/contracts";
import { type Command, UsageError } from "../command.js";
import { collectSpec } from "./specs.js";

const EXPORT_VERSIONS = new Set([5, 9, 10]);

/** A UDP payload that starts like a NetFlow v5/v9 or IPFIX header. */
function looksLikeNetflow(p: Uint8Array): boolean {
  return p.length >= 4 && p[0] === 0 && EXPORT_VERSIONS.has(p[1] as number);
}

/** sFlow v5: a 32-bit version 5 then an agent address type of 1 or 2. */
function looksLikeSflow(p: Uint8Array): boolean {
  return (
    p.length >= 8 &&
    p[0] === 0 &&
    p[1] === 0 &&
    p[2] === 0 &&
    p[3] === 5 &&
    p[7] !== undefined &&
    p[7] >= 1 &&
    p[7] <= 2
  );
}

function tableRow(r: FlowRecord): string {
  const ep = (a: string, p: number) => (a.includes(":") ? `[${a}]:${p}` : `${a}:${p}`);
  return [
    String(r.exporter ?? "").padEnd(16),
    String(r.exportVersion ?? "").padEnd(3),
    String(r.proto).padEnd(4),
    ep(r.srcAddr, r.srcPort).padEnd(46),
    ep(r.dstAddr, r.dstPort).padEnd(46),
    `${r.srcToDstPackets}`.padStart(10),
    `${r.srcToDstBytes}`.padStart(14),
    `${r.inIf ?? 0}>${r.outIf ?? 0}`.padEnd(12),
    r.samplingRate && r.samplingRate > 1 ? ` 1:${r.samplingRate}` : "",
  ].join(" ");
}

export const collectCommand: Command = {
  ...collectSpec,
  async run({ values, stdout, stderr }) {
    const file = values.pcap;
    const format = values.format;
    if (typeof file !== "string" || !file) throw new UsageError("collect: --pcap FILE is required");
    if (format !== "ndjson" && format !== "table")
      throw new UsageError(`collect: --format must be ndjson or table, got '${format}'`);
    if (!existsSync(file)) throw new UsageError(`collect: ${file}: no such file`);
    let reader: PcapUdpReader;
    try {
      reader = new PcapUdpReader(readFileSync(file));
    } catch (err) {
      if (err instanceof PcapFormatError) throw new UsageError(`collect: ${file}: ${err.message}`);
      throw err;
    }
    // Time as the capture saw it, so templates and buffered records age as they did then.
    let captureNow = 0;
    const decoder = new NetflowDecoder({}, () => captureNow);
    const sflowDecoder = new SflowDecoder();
    const sflowInterfaces = new Set<string>();
    let sflowErrors = "";
    let datagrams = 0;
    let sflow = 0;
    let other = 0;
    let records = 0;
    let out = "";
    const print = (f: Parameters<typeof flowToRecord>[0]) => {
      records++;
      const r = flowToRecord(f);
      out += format === "ndjson" ? `${JSON.stringify(r)}\n` : `${tableRow(r)}\n`;
    };
    const flush = async () => {
      if (!out) return;
      const chunk = out;
      out = "";
      if (!stdout.write(chunk)) await new Promise((r) => stdout.once("drain", r));
    };
    try {
      for (const d of reader.datagrams()) {
        captureNow = d.timestampMs;
        if (!looksLikeNetflow(d.payload)) {
          if (looksLikeSflow(d.payload)) {
            sflow++;
            const result = sflowDecoder.decode(d.payload, d.srcAddr, d.timestampMs);
            for (const f of result.flows) print(f);
            for (const c of result.counters) sflowInterfaces.add(`${c.exporter}/${c.ifIndex}`);
          } else other++;
          if (out.length > 1 << 16) await flush();
          continue;
        }
        datagrams++;
        const result = decoder.decode(d.payload, d.srcAddr, d.timestampMs);
        for (const f of result.flows) print(f);
        if (out.length > 1 << 16) await flush();
      }
    } catch (err) {
      if (err instanceof PcapFormatError) {
        await flush();
        stderr.write(`flowlens: collect: ${file}: ${err.message}\n`);
        return 2;
      }
      throw err;
    }
    await flush();
    const s = decoder.stats();
    const sf = sflowDecoder.stats();
    sflowErrors = Object.entries(sf.errors)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k}=${n}`)
      .join(" ");
    const errors = Object.entries(s.errors)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k}=${n}`)
      .join(" ");
    stderr.write(
      [
        `frames ${reader.stats.frames}, UDP ${reader.stats.udp}; NetFlow/IPFIX datagrams ${datagrams}, sFlow ${sflow}, other UDP ${other}`,
        `records ${records}, options records ${s.optionsRecords}, templates ${s.templates}, exporters ${new Set(s.sources.map((x) => x.exporter)).size}`,
        `decode errors: ${errors || "none"}`,
        ...(sflow > 0
          ? [
              `sFlow: flow samples ${sf.flowSamples} (flows ${sf.flows}, discarded by the agent ${sf.discardedSamples}), counter samples ${sf.counterSamples} (interface counter records ${sf.counterRecords}, interfaces ${sflowInterfaces.size}), agents ${new Set(sf.sources.map((x) => x.source)).size}, datagrams lost ${sf.datagramsLost}`,
              `sFlow decode errors and skipped parts: ${sflowErrors || "none"}`,
            ]
          : []),
        "",
      ].join("\n"),
    );
    return 0;
  },
};
