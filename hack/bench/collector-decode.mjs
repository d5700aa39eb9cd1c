#!/usr/bin/env node
// Throughput of the NetFlow v9 / IPFIX decoder alone (aggregator/src/collector/netflow), on
// real export datagrams from ../shared/testdata/flowexports replayed many times: no sockets, no
// pipeline. Templates are learned once from the capture, then its data datagrams are decoded
// in a loop for a fixed time per case. Usage: node hack/bench/collector-decode.mjs [seconds]
// Needs `npx tsc -b` first. Prints one line per case and way: into the collector's reused
// records (what the aggregator's listeners do), into pb.Flow messages (flowlens collect), and
// with a Community ID per record; last, {"items": N, "seconds": S} for the IPFIX case as the
// aggregator runs it (records, no Community ID: its API hashes the flows it shows), as
// hack/bench's runner reads it.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const { NetflowDecoder } = await import(join(root, "aggregator/dist/collector/netflow/index.js"));
const { FlowRecords } = await import(join(root, "aggregator/dist/collector/flow-records.js"));
const { readUdpDatagrams } = await import(join(root, "aggregator/dist/collector/pcap-udp.js"));
const data = join(root, "../shared/testdata/flowexports");

const seconds = Number(process.argv[2] ?? 3);
const cases = [
  { name: "IPFIX (ipfixcol2 example_flows, 5 templates)", file: "ipfixcol2/example_flows.ipfix.pcap" },
  {
    name: "NetFlow v9 (Cisco ASR9k, pmacct 101)",
    file: "pmacct-test-automation/101-NFv9-CISCO-cust_primitives.traffic-00.pcap",
  },
  { name: "NetFlow v5 (akvorado, 29 records)", file: "akvorado/netflow_nfv5.pcap" },
];

/**
 * Decodes the case's data datagrams in a loop. "records": into the collector's reused records,
 * as the aggregator's listeners do; "messages": into pb.Flow messages, as `flowlens collect` does.
 */
function bench(c, communityId, mode) {
  const path = join(data, c.file);
  if (!existsSync(path)) return undefined;
  const { datagrams } = readUdpDatagrams(path);
  const dec = new NetflowDecoder({ communityId }, () => 0);
  // First pass learns the templates; the loop then only sees the datagrams with records.
  const loop = [];
  for (const d of datagrams) {
    const payload = new Uint8Array(d.payload);
    const r = dec.decode(payload, d.srcAddr, 0);
    if (r.flows.length > 0) loop.push({ payload, exporter: d.srcAddr, flows: r.flows.length });
  }
  const perRound = loop.reduce((a, d) => a + d.flows, 0);
  if (perRound === 0) throw new Error(`${c.file}: no flows decoded`);
  const bytes = loop.reduce((a, d) => a + d.payload.length, 0);
  const out = new FlowRecords();
  let sink = 0;
  const once = (d) => {
    if (mode === "messages") {
      const r = dec.decode(d.payload, d.exporter, 0);
      sink += r.flows.length ? r.flows[0].srcPort : 0;
      return r.flows.length;
    }
    dec.decodeInto(d.payload, d.exporter, 0, out);
    const n = out.length;
    sink += n ? out.records[0].srcPort : 0;
    out.clear();
    return n;
  };
  // Warm-up so the JIT has compiled the decode path before timing.
  for (let i = 0; i < 200; i++) for (const d of loop) once(d);
  let records = 0;
  let rounds = 0;
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(Math.round(seconds * 1e9));
  do {
    for (let i = 0; i < 50; i++) {
      for (const d of loop) records += once(d);
      rounds++;
    }
  } while (process.hrtime.bigint() < deadline);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (records !== rounds * perRound) throw new Error(`${c.file}: decoded ${records}, expected ${rounds * perRound}`);
  if (dec.internalErrorCount !== 0) throw new Error(`${c.file}: ${String(dec.lastInternalError)}`);
  return { records, seconds: s, rate: records / s, mbps: (rounds * bytes * 8) / s / 1e6, sink };
}

let ipfix;
for (const c of cases) {
  for (const [communityId, mode] of [
    [false, "records"],
    [false, "messages"],
    [true, "messages"],
  ]) {
    const r = bench(c, communityId, mode);
    if (!r) {
      console.log(`${c.name}: test data missing, skipped`);
      break;
    }
    const how = mode === "records" ? "into records, as the aggregator" : "into messages, as flowlens collect";
    console.log(
      `${c.name} [${how}${communityId ? ", with Community ID" : ""}]: ${(r.rate / 1e6).toFixed(2)} M records/s ` +
        `(${r.records} records in ${r.seconds.toFixed(2)} s, ${r.mbps.toFixed(0)} Mbit/s of export datagrams)`,
    );
    // The aggregator's way: its API computes Community IDs for the flows it shows.
    if (c === cases[0] && mode === "records") ipfix = r;
  }
}
if (ipfix) console.log(JSON.stringify({ items: ipfix.records, seconds: ipfix.seconds }));
