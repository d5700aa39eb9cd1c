#!/usr/bin/env node
// Throughput of the sFlow v5 decoder alone (aggregator/src/collector/sflow, raw headers through
// the native packet decoder), on one core: the frames of a real capture
// (../shared/testdata/pcaps/ndpi/1kxun.pcap) as an sFlow agent would sample them (first 128
// bytes of each, 8 flow samples a datagram, 1-in-1000), decoded in a loop for a fixed time.
// Usage:
//   node hack/bench/sflow-decode.mjs flowlens [seconds]  -> our decoder, last line {"items","seconds"}
//   node hack/bench/sflow-decode.mjs write FILE [copies] -> the same datagrams as a pcap (UDP 6343)
//   node hack/bench/sflow-decode.mjs sfacctd [copies]    -> sfacctd (pmacct) reading that pcap
// Needs `npx tsc -b` and the native addon (make native) first.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { pmacctCpuSeconds } from "./pmacct.mjs";
import { writeUdpPcap } from "./udp-pcap.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const capture = join(root, "../shared/testdata/pcaps/ndpi/1kxun.pcap");
const SAMPLES_PER_DATAGRAM = 8;
const HEADER_BYTES = 128;
const RATE = 1000;

/** Ethernet frames of a classic pcap (either byte order). */
function frames(path) {
  const b = readFileSync(path);
  const le = b.readUInt32LE(0) === 0xa1b2c3d4 || b.readUInt32LE(0) === 0xa1b23c4d;
  const u32 = (o) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  if (u32(20) !== 1) throw new Error(`${path}: not Ethernet`);
  const out = [];
  for (let o = 24; o + 16 <= b.length; ) {
    const cap = u32(o + 8);
    const orig = u32(o + 12);
    out.push({ data: b.subarray(o + 16, o + 16 + cap), orig });
    o += 16 + cap;
  }
  return out;
}

/** sFlow v5 datagrams: flow samples with raw Ethernet headers, sequence numbers counting up. */
function datagrams() {
  const fs = frames(capture);
  const out = [];
  let seq = 0;
  let sampleSeq = 0;
  for (let i = 0; i < fs.length; i += SAMPLES_PER_DATAGRAM) {
    const group = fs.slice(i, i + SAMPLES_PER_DATAGRAM);
    const samples = group.map(({ data, orig }) => {
      const hdr = data.subarray(0, Math.min(HEADER_BYTES, data.length));
      const padded = (hdr.length + 3) & ~3;
      const rec = Buffer.alloc(8 + 16 + padded);
      rec.writeUInt32BE(1, 0);
      rec.writeUInt32BE(16 + padded, 4);
      rec.writeUInt32BE(1, 8); // Ethernet
      rec.writeUInt32BE(orig + 4, 12); // frame length with FCS
      rec.writeUInt32BE(4, 16); // FCS stripped
      rec.writeUInt32BE(hdr.length, 20);
      hdr.copy(rec, 24);
      const s = Buffer.alloc(8 + 32);
      s.writeUInt32BE(1, 0);
      s.writeUInt32BE(32 + rec.length, 4);
      s.writeUInt32BE(++sampleSeq, 8);
      s.writeUInt32BE(3, 12); // source id: ifIndex 3
      s.writeUInt32BE(RATE, 16);
      s.writeUInt32BE(sampleSeq * RATE, 20);
      s.writeUInt32BE(0, 24);
      s.writeUInt32BE(3, 28);
      s.writeUInt32BE(4, 32);
      s.writeUInt32BE(1, 36);
      return Buffer.concat([s, rec]);
    });
    const h = Buffer.alloc(28);
    h.writeUInt32BE(5, 0);
    h.writeUInt32BE(1, 4);
    h.set([192, 0, 2, 1], 8);
    h.writeUInt32BE(0, 12);
    h.writeUInt32BE(++seq, 16);
    h.writeUInt32BE(seq * 10, 20);
    h.writeUInt32BE(samples.length, 24);
    out.push(new Uint8Array(Buffer.concat([h, ...samples])));
  }
  return out;
}

/** The datagrams `copies` times over as UDP/IPv4/Ethernet frames to port 6343. */
const writePcap = (path, dgs, copies) => writeUdpPcap(path, dgs, { dstPort: 6343, copies });

async function ours(seconds, communityId) {
  const { SflowDecoder } = await import(join(root, "aggregator/dist/collector/sflow/index.js"));
  const { FlowRecords } = await import(join(root, "aggregator/dist/collector/flow-records.js"));
  const dgs = datagrams();
  const dec = new SflowDecoder({ communityId });
  if (!dec.headersAvailable) throw new Error("the native addon is not built (make native)");
  // Into the collector's reused records, as the aggregator's listener decodes them.
  const out = new FlowRecords();
  const once = (d) => {
    dec.decodeInto(d, "192.0.2.1", 0, out);
    const n = out.length;
    out.clear();
    return n;
  };
  let perRound = 0;
  for (const d of dgs) perRound += once(d);
  for (let i = 0; i < 20; i++) for (const d of dgs) once(d);
  let records = 0;
  let rounds = 0;
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(Math.round(seconds * 1e9));
  do {
    for (const d of dgs) records += once(d);
    rounds++;
  } while (process.hrtime.bigint() < deadline);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (records !== rounds * perRound) throw new Error(`decoded ${records}, expected ${rounds * perRound}`);
  if (dec.internalErrorCount !== 0) throw new Error(String(dec.lastInternalError));
  console.log(
    `sFlow v5 (${dgs.length} datagrams, ${perRound} flow samples of 1kxun.pcap)${communityId ? "" : " [no Community ID]"}: ${(records / s / 1e6).toFixed(2)} M records/s (${records} in ${s.toFixed(2)} s)`,
  );
  return { items: records, seconds: s };
}

/** sfacctd (pmacct) decoding the same datagrams from a pcap, aggregating into the print plugin. */
function sfacctd(copies) {
  const dir = mkdtempSync(join(tmpdir(), "flowlens-sflow-bench-"));
  try {
    const pcap = join(dir, "sflow.pcap");
    const dgs = datagrams();
    writePcap(pcap, dgs, copies);
    const conf = join(dir, "sfacctd.conf");
    writeFileSync(
      conf,
      [
        "daemonize: false",
        `pcap_savefile: ${pcap}`,
        "plugins: print",
        "aggregate: src_host, dst_host, src_port, dst_port, proto",
        `print_output_file: ${join(dir, "out.txt")}`,
        "print_refresh_time: 3600",
        "",
      ].join("\n"),
    );
    const cpu = pmacctCpuSeconds("sfacctd", conf);
    const samples = dgs.reduce((a, d) => a + new DataView(d.buffer, d.byteOffset).getUint32(24), 0) * copies;
    console.log(`sfacctd: ${samples} flow samples in ${cpu.toFixed(2)} s of CPU`);
    console.log(JSON.stringify({ items: samples, seconds: cpu }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const mode = process.argv[2] ?? "flowlens";
if (mode === "flowlens") {
  const seconds = Number(process.argv[3] ?? 3);
  await ours(seconds, true);
  // As the aggregator runs it (its API hashes the flows it shows), like the IPFIX bench.
  console.log(JSON.stringify(await ours(seconds, false)));
} else if (mode === "write") writePcap(process.argv[3], datagrams(), Number(process.argv[4] ?? 1));
else if (mode === "sfacctd") sfacctd(Number(process.argv[3] ?? 200));
else throw new Error(`unknown mode ${mode}: flowlens | write FILE [copies] | sfacctd [copies]`);
