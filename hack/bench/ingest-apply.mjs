#!/usr/bin/env node
// The gRPC ingest bench's batches (ingest-batches.mjs: 1000 flows each over 100k hosts) decoded
// and applied in this one process, without a transport: the per-record work of the ingest path
// (FlowBatchDecoder + IngestPipeline + LiveState) in CPU time, steadier than ingest.mjs on a
// shared machine, for comparing changes to the state. ingest.mjs stays the benchmark of record.
//
//   ingest-apply.mjs [apply|decode] [batches=900] [warmup=300] [rounds=3]
//
// Each round is a fresh process-wide state warmed with `warmup` batches, then measured on the
// rest; the median round is reported, and the best (the least disturbed by other load). Needs `npx tsc -b`. FLOWLENS_BENCH_PROF=DIR writes the
// CPU profile of the measured part of the last round there; FLOWLENS_BENCH_JS_DECODE=1 decodes
// batches with the JS reader alone.
// Last stdout line: {"items": flows, "seconds": CPU seconds} (median round).
import { mkdirSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cachedBatches, readBatches } from "./ingest-batches.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const agg = await import(join(root, "aggregator/dist/index.js"));
const [mode = "apply", countArg = "900", warmupArg = "300", roundsArg = "3"] = process.argv.slice(2);
const warmup = Number(warmupArg);
const batches = readBatches(
  cachedBatches(Number(countArg), { hosts: Number(process.env.FLOWLENS_BENCH_HOSTS ?? 100_000) }),
);
const fmt = (n) => Math.round(n).toLocaleString("en-US");

async function round(profile) {
  const state = new agg.LiveState(agg.defaultStateConfig(), new agg.LocalNetworks(["10.0.0.0/8", "fd00::/8"]));
  // FLOWLENS_BENCH_JS_DECODE=1: the JS batch reader only (the C one's gain, by A/B).
  const decoder = new agg.FlowBatchDecoder({ native: !process.env.FLOWLENS_BENCH_JS_DECODE });
  const pipeline = new agg.IngestPipeline(state, new agg.SequenceDeduper(), Date.now, decoder);
  const fast = pipeline.fast;
  const run = (from, to) => {
    let flows = 0;
    for (let i = from; i < to; i++) {
      const b = fast.decode(batches[i]);
      flows += b.flows.length;
      if (mode === "apply" && !fast.apply(b, "grpc")) throw new Error(`batch ${i} not applied`);
    }
    return flows;
  };
  run(0, warmup);
  let session;
  if (profile) {
    session = new Session();
    session.connect();
    await session.post("Profiler.enable");
    await session.post("Profiler.start");
  }
  const c0 = process.cpuUsage();
  const flows = run(warmup, batches.length);
  const c = process.cpuUsage(c0);
  if (session) {
    const { profile: p } = await session.post("Profiler.stop");
    mkdirSync(profile, { recursive: true });
    writeFileSync(join(profile, `ingest-apply-${mode}-${process.pid}.cpuprofile`), JSON.stringify(p));
  }
  return { flows, cpu: (c.user + c.system) / 1e6 };
}

const rounds = [];
const n = Number(roundsArg);
for (let i = 0; i < n; i++) rounds.push(await round(i === n - 1 ? process.env.FLOWLENS_BENCH_PROF : undefined));
const sorted = [...rounds].sort((a, b) => a.flows / a.cpu - b.flows / b.cpu);
const med = sorted[Math.floor(sorted.length / 2)];
const best = sorted[sorted.length - 1];
console.log(
  `ingest-apply ${mode}: ${fmt(med.flows)} flows, CPU ${med.cpu.toFixed(2)} s -> ${fmt(med.flows / med.cpu)} flows per CPU-second, best ${fmt(best.flows / best.cpu)} ` +
    `(rounds: ${rounds.map((r) => fmt(r.flows / r.cpu)).join(", ")})`,
);
console.log(JSON.stringify({ items: med.flows, seconds: med.cpu }));
