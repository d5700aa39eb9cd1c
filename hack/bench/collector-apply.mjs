#!/usr/bin/env node
// The collector's per-datagram work without the socket: the IPFIX datagrams of the live bench
// (ipfixcol2's example capture) handed to the UDP listener's datagram entry point in a loop,
// decoded and applied to the live state (and, with `alerts`, seen by the alert engine with its
// default rules), as the aggregator does for each datagram it reads. Measured in CPU time of
// this process, so that other load on the shared machine counts less.
//
//   collector-apply.mjs [state|alerts] [seconds=5]
//   collector-apply.mjs nfacctd [copies=300]   the peer: nfacctd (pmacct) reading the same
//                                             datagrams from a pcap (the capture repeated
//                                             `copies` times) into its print plugin's cache,
//                                             aggregated per 5-tuple: a collector that keeps
//                                             state too, measured by its processes' CPU time
//
// Needs `npx tsc -b`. FLOWLENS_BENCH_PROF=DIR writes a CPU profile of the measured part there.
// Last stdout line: {"items": records, "seconds": CPU seconds} for hack/bench/run.mjs.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { pmacctCpuSeconds, sumCsvColumn, writePrintConfig } from "./pmacct.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const agg = await import(join(root, "aggregator/dist/index.js"));
const SOURCE = join(root, "../shared/testdata/flowexports/ipfixcol2/example_flows.ipfix.pcap");
const [mode = "state", secondsArg = "5"] = process.argv.slice(2);
const seconds = Number(secondsArg);
const EXPORTER = "10.231.7.1";
/** Records in one pass of SOURCE (flowlens collect, tshark and nfacctd agree). */
const RECORDS_PER_PASS = 3979;

/**
 * nfacctd on SOURCE repeated `copies` times (pcap_savefile), aggregating into the print plugin;
 * its byte total is checked against `copies` passes' so that every record counts.
 */
function nfacctd(copies) {
  const dir = mkdtempSync(join(tmpdir(), "flowlens-nfacctd-bench-"));
  try {
    const pcap = readFileSync(SOURCE);
    const header = pcap.subarray(0, 24);
    const body = pcap.subarray(24);
    const run = (n) => {
      const file = join(dir, `ipfix-${n}.pcap`);
      writeFileSync(file, Buffer.concat([header, ...Array.from({ length: n }, () => body)]));
      const out = join(dir, `out-${n}.txt`);
      const conf = join(dir, `nfacctd-${n}.conf`);
      writePrintConfig(conf, [`pcap_savefile: ${file}`], out);
      const cpu = pmacctCpuSeconds("nfacctd", conf);
      const bytes = sumCsvColumn(out, "BYTES");
      return { cpu, bytes };
    };
    const one = run(1);
    const r = run(copies);
    if (r.bytes !== one.bytes * copies)
      throw new Error(`nfacctd counted ${r.bytes} bytes, not ${copies} x ${one.bytes}`);
    const records = RECORDS_PER_PASS * copies;
    console.log(
      `nfacctd: ${records.toLocaleString("en-US")} records (${copies} passes) in ${r.cpu.toFixed(2)} s of CPU -> ` +
        `${Math.round(records / r.cpu).toLocaleString("en-US")} records per CPU-second`,
    );
    console.log(JSON.stringify({ items: records, seconds: r.cpu }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (mode === "nfacctd") {
  nfacctd(Number(process.argv[3] ?? 300));
  process.exit(0);
}

const { MessageViews } = await import(join(root, "aggregator/dist/state/ingest-flow.js"));

async function alertEngine() {
  const { createRequire } = await import("node:module");
  const { pino } = createRequire(join(root, "aggregator/package.json"))("pino");
  const { AlertEngine } = await import(join(root, "aggregator/dist/alerts/engine.js"));
  const { loadRules } = await import(join(root, "aggregator/dist/alerts/rules-loader.js"));
  const engine = new AlertEngine({ logger: pino({ level: "silent" }), localNetworks: ["10.0.0.0/8"] });
  engine.setRules(loadRules(undefined, true));
  return engine;
}

const state = new agg.LiveState(agg.defaultStateConfig(), new agg.LocalNetworks(["10.0.0.0/8"]));
const pipeline = new agg.IngestPipeline(state, new agg.SequenceDeduper());
if (mode === "alerts") pipeline.observer = await alertEngine();
const decoder = new agg.NetflowDecoder({ communityId: false });
const options = { host: "127.0.0.1", ports: [], recvBufferBytes: 0 };
// The listener as the aggregator wires it: the pipeline's collector hand-off when there is one,
// else (before it) messages applied to the state and shown to the observer, as
// Aggregator.applyCollected did.
const views = new MessageViews();
const listener =
  typeof pipeline.collected === "function"
    ? new agg.CollectorListener(options, decoder, pipeline.collected)
    : new agg.CollectorListener(options, decoder, (flows, exporter) => {
        state.applyBatch(flows, { node: "collector", agentId: exporter });
        if (pipeline.observer) {
          const n = views.fill(flows);
          pipeline.observer.observeRecords(views.views, n, "collector");
          views.release(n);
        }
      });
const receive = (listener.receive ?? listener.onDatagram).bind(listener);

const datagrams = agg.readUdpDatagrams(SOURCE).datagrams.map((d) => Buffer.from(d.payload));
// Templates, and a warm state and JIT.
for (let i = 0; i < 300; i++) for (const d of datagrams) receive(d, EXPORTER);

const prof = process.env.FLOWLENS_BENCH_PROF;
let session;
if (prof) {
  session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
}
const r0 = listener.stats().records;
const c0 = process.cpuUsage();
const t0 = performance.now();
const until = t0 + seconds * 1000;
let datagramCount = 0;
while (performance.now() < until) {
  for (let k = 0; k < 20; k++) for (const d of datagrams) receive(d, EXPORTER);
  datagramCount += 20 * datagrams.length;
}
const c1 = process.cpuUsage(c0);
const wall = (performance.now() - t0) / 1000;
const records = listener.stats().records - r0;
if (session) {
  const { profile } = await session.post("Profiler.stop");
  mkdirSync(prof, { recursive: true });
  writeFileSync(join(prof, `collector-apply-${mode}-${process.pid}.cpuprofile`), JSON.stringify(profile));
}
const cpu = (c1.user + c1.system) / 1e6;
const errors = listener.stats().decodeErrors;
if (Object.values(errors).some((n) => n > 0)) throw new Error(`decode errors: ${JSON.stringify(errors)}`);
if (state.totals().records < records) throw new Error(`state took ${state.totals().records} of ${records} records`);
const fmt = (n) => Math.round(n).toLocaleString("en-US");
console.log(
  `collector-apply ${mode}: ${fmt(records)} records in ${fmt(datagramCount)} datagrams, CPU ${cpu.toFixed(2)} s ` +
    `(wall ${wall.toFixed(2)} s) -> ${fmt(records / cpu)} records per CPU-second, ` +
    `${((cpu / datagramCount) * 1e6).toFixed(1)} µs per datagram`,
);
console.log(JSON.stringify({ items: records, seconds: cpu }));
