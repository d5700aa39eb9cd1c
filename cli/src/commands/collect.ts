// flowlens collect: decode NetFlow v5/v9, IPFIX and sFlow v5 datagrams, templates kept per
// exporter and domain: the tool a network engineer reaches for when an exporter misbehaves.
// --pcap FILE reads the datagrams found in a capture (any UDP port); --listen collects them live
// (collect-listen.ts), as nfcapd or goflow2 do; --read prints the flows a protobuf output kept.
// sFlow v5 datagrams are recognised by their header; their flow samples print as flows, their
// counter samples are summed up on stderr.
import { existsSync, readFileSync } from "node:fs";
import {
  delimitedRanges,
  FlowStreamError,
  NetflowDecoder,
  PcapFormatError,
  PcapUdpReader,
  SflowDecoder,
} from "@flowlens/aggregator";
import { pb } from "@flowlens/contracts";
import { type Command, UsageError } from "../command.js";
import { collectLive, parseListen } from "./collect-listen.js";
import { FLOW_FORMATS, FlowOutput, isFlowFormat } from "./flow-output.js";
import { sizeOption, stringOption } from "./parse.js";
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

export const collectCommand: Command = {
  ...collectSpec,
  async run({ values, stderr }) {
    const format = values.format;
    if (!isFlowFormat(format)) {
      throw new UsageError(`collect: --format must be one of ${FLOW_FORMATS.join(", ")}, got '${format}'`);
    }
    const pcap = stringOption(values, "pcap");
    const read = stringOption(values, "read");
    const listen = Array.isArray(values.listen) ? values.listen : [];
    if ([pcap !== undefined, read !== undefined, listen.length > 0].filter(Boolean).length !== 1) {
      throw new UsageError("collect: one of --pcap FILE, --listen [HOST:]PORT or --read FILE is required");
    }
    for (const file of [pcap, read]) {
      if (file !== undefined && !existsSync(file)) throw new UsageError(`collect: ${file}: no such file`);
    }
    const endpoints = listen.length > 0 ? parseListen(listen) : [];
    const recvBufferBytes = sizeOption("collect", values, "buffer");
    let output: FlowOutput;
    try {
      output = FlowOutput.open(stringOption(values, "output"), format);
    } catch (err) {
      throw new UsageError(`collect: --output: ${(err as Error).message}`);
    }
    try {
      if (pcap !== undefined) return collectPcap(pcap, output, stderr);
      if (read !== undefined) return readFlows(read, output, stderr);
      return await collectLive(endpoints, recvBufferBytes, output, stderr);
    } catch (err) {
      // The reader went away (`| head`): done, as for any command-line filter.
      if ((err as NodeJS.ErrnoException).code === "EPIPE") return 0;
      throw err;
    } finally {
      output.close();
    }
  },
};

/** The flows of a file that --format protobuf wrote, printed in `output`'s format. */
function readFlows(file: string, output: FlowOutput, stderr: NodeJS.WritableStream): number {
  const bytes = readFileSync(file);
  try {
    for (const [start, end] of delimitedRanges(bytes)) {
      let f: pb.Flow;
      try {
        f = pb.Flow.decode(bytes.subarray(start, end));
      } catch (err) {
        throw new FlowStreamError(`the message at byte ${start} is not a Flow: ${(err as Error).message}`);
      }
      if (output.binary) output.encoded(bytes, start, end);
      else output.message(f);
    }
  } catch (err) {
    if (!(err instanceof FlowStreamError)) throw err;
    output.flush();
    stderr.write(`flowlens: collect: ${file}: ${err.message}\n`);
    return 2;
  }
  stderr.write(`records ${output.records}\n`);
  return 0;
}

function collectPcap(file: string, output: FlowOutput, stderr: NodeJS.WritableStream): number {
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
  const print = (f: pb.Flow) => output.message(f);
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
        continue;
      }
      datagrams++;
      const result = decoder.decode(d.payload, d.srcAddr, d.timestampMs);
      for (const f of result.flows) print(f);
    }
  } catch (err) {
    if (err instanceof PcapFormatError) {
      output.flush();
      stderr.write(`flowlens: collect: ${file}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  output.flush();
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
      `records ${output.records}, options records ${s.optionsRecords}, templates ${s.templates}, exporters ${new Set(s.sources.map((x) => x.exporter)).size}`,
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
}
