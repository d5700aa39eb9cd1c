#!/usr/bin/env node
// Aggregator ingest on one core: FlowBatches (see ingest-batches.mjs) go over a real transport
// into the real ingest path (IngestPipeline: validate, dedupe, LiveState), and what counts is
// the aggregator process's CPU time, so that other load on the machine (this is a shared
// 2-core box) does not count against it. The aggregator runs in its own process pinned to core
// 0 with taskset when there is one; the sending side (agent exporter, nats-server) stays on
// core 1, so the aggregator's CPU time is one core's work: its GC and libuv threads included.
//
//   ingest.mjs grpc [batches=1800] [warmup=1200]
//                                         GrpcExporter -> GrpcIngest -> pipeline -> state
//   ingest.mjs nats [batches] [warmup]    NatsExporter fills the stream first, then NatsIngest
//                                         drains it into pipeline -> state (the backlog case)
//   ingest.mjs decode [batches] [warmup]  FlowBatch.decode of the same batches, nothing else:
//                                         the ceiling, in the same process set-up (core 0)
//   ingest.mjs rss distinct|HOSTS [batches=560]
//                                         this process is the aggregator (gRPC, full state);
//                                         an agent child streams batches over HOSTS distinct
//                                         hosts, or every address new; peak RSS is the result
//
// Warm-up batches (JIT, and a state that has every host and a full flow ring) are applied
// before the measured ones. The transports' code (nats.js's parser, streams, HTTP/2) is called
// per read or per message, not per flow, and V8 optimises it late: with 300 warm-up batches,
// --trace-opt showed 100 to 190 ms of TurboFan compiles (background threads, on the pinned core,
// so in the CPU time) inside the ~1.1 s measured, one-time work a running aggregator is long
// past; with 1200, some 30 ms. Last stdout line: {"items": flows, "seconds": CPU seconds} for
// hack/bench/run.mjs. Needs `npx tsc -b` first. For diagnosis: FLOWLENS_BENCH_SINK=decode drops
// batches once decoded (what transport and decoder cost alone), FLOWLENS_BENCH_PROF=DIR writes
// the aggregator's CPU profile of the measured batches there.
import { fork } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { cachedBatches, readBatches } from "./ingest-batches.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../..");
const self = fileURLToPath(import.meta.url);
const TASKSET = ["/usr/bin/taskset", "/bin/taskset"].find((p) => existsSync(p));
/** Local networks of the bench hosts (ingest-batches.mjs), so network accounting runs too. */
const LOCAL_NETWORKS = ["10.0.0.0/8", "fd00::/8"];
const fmt = (n) => Math.round(n).toLocaleString("en-US");
const cpuSeconds = (c) => (c.user + c.system) / 1e6;

/** Forks this script as the aggregator, on core 0 when taskset exists. */
function forkAggregator(args) {
  const opts = { stdio: ["ignore", "inherit", "inherit", "ipc"] };
  if (TASKSET) Object.assign(opts, { execPath: TASKSET, execArgv: ["-c", "0", process.execPath] });
  const child = fork(self, args, opts);
  const queue = [];
  const waiters = [];
  child.on("message", (m) => (waiters.length ? waiters.shift()(m) : queue.push(m)));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.once("exit", (code) => {
    for (const w of waiters.splice(0)) w({ error: `aggregator exited ${code}` });
  });
  return {
    next: () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r))),
    send: (m) => child.send(m),
    exited,
  };
}

/** Moves this process to core 1, leaving core 0 to the aggregator. */
async function pinSelf(core) {
  if (!TASKSET) return;
  const { execFileSync } = await import("node:child_process");
  execFileSync(TASKSET, ["-a", "-p", "-c", String(core), String(process.pid)], { stdio: "ignore" });
}

async function newState() {
  const agg = await import(join(root, "aggregator/dist/index.js"));
  const state = new agg.LiveState(agg.defaultStateConfig(), new agg.LocalNetworks(LOCAL_NETWORKS));
  const pipeline = new agg.IngestPipeline(state, new agg.SequenceDeduper());
  return { agg, state, pipeline };
}

/** The aggregator child: a transport into the real pipeline; reports its CPU time on "mark". */
async function aggregatorChild(transport, natsUrl) {
  const { agg, pipeline } = await newState();
  if (process.env.FLOWLENS_BENCH_SINK === "decode") {
    // Diagnosis: the transport and the decoder only, every batch counted and dropped.
    const c = pipeline.counters[transport];
    const fast = pipeline.fast;
    pipeline.fast = {
      decode: (bytes) => fast.decode(bytes),
      apply: (batch) => {
        c.flows += batch.flows.length;
        return true;
      },
    };
  }
  const applied = () => pipeline.counters[transport].flows;
  let ingest;
  if (transport === "grpc") {
    ingest = new agg.GrpcIngest({ listen: "127.0.0.1:0", maxBatchBytes: 64 << 20 }, pipeline);
    process.send({ port: await ingest.start() });
  } else {
    ingest = new agg.NatsIngest(
      {
        servers: [natsUrl],
        stream: { maxBytes: 16 * 1024 ** 3 },
        maxAckPending: 4096,
        // pullBatch: the aggregator's default (64 batches in flight), as users run it.
        lagIntervalMs: 0,
      },
      pipeline,
    );
  }
  // FLOWLENS_BENCH_PROF=DIR: the CPU profile of the measured part (first mark to second), not
  // of the warm-up, whose host inserts and table growth the measured batches do not have.
  const profileDir = process.env.FLOWLENS_BENCH_PROF;
  let session;
  let marks = 0;
  const report = async () => {
    const c = process.cpuUsage();
    process.send({ flows: applied(), cpu: cpuSeconds(c), sys: c.system / 1e6 });
    if (!profileDir) return;
    if (++marks === 1) {
      session = new Session();
      session.connect();
      await session.post("Profiler.enable");
      await session.post("Profiler.start");
    } else if (marks === 2) {
      const { profile } = await session.post("Profiler.stop");
      mkdirSync(profileDir, { recursive: true });
      writeFileSync(join(profileDir, `ingest-${transport}-${process.pid}.cpuprofile`), JSON.stringify(profile));
      session.disconnect();
    }
  };
  process.on("message", async (m) => {
    if (m.cmd === "mark") report();
    else if (m.cmd === "start") {
      // NATS: consume the backlog; mark when `at` flows are in, and again at `end`.
      await ingest.start();
      const poll = setInterval(() => {
        const n = applied();
        if (m.marks.length && n >= m.marks[0]) {
          m.marks.shift();
          report();
        }
        if (m.marks.length === 0) clearInterval(poll);
      }, 1);
    } else if (m.cmd === "stop") {
      await ingest.stop(1000);
      process.exit(0);
    }
  });
  if (transport === "nats") process.send({ ready: true });
}

function measuredResult(name, before, after, flows, extra = "") {
  const cpu = after.cpu - before.cpu;
  const sys = after.sys - before.sys;
  console.log(
    `${name}: ${fmt(flows)} flows, aggregator CPU ${cpu.toFixed(2)} s (${sys.toFixed(2)} s system) -> ${fmt(flows / cpu)} flows per CPU-second${extra}`,
  );
  console.log(JSON.stringify({ items: flows, seconds: cpu }));
}

async function grpcBench(batches, warmup) {
  await pinSelf(1);
  const agg = forkAggregator(["--aggregator", "grpc"]);
  const { port } = await agg.next();
  const { GrpcExporter } = await import(join(root, "agent/dist/export/grpc.js"));
  const { pb } = await import(join(root, "contracts/dist/index.js"));
  const counts = batches.map((b) => pb.FlowBatch.decode(b).flows.length);
  const exporter = new GrpcExporter({
    target: `127.0.0.1:${port}`,
    queue: { maxFlows: 1e9, maxBytes: 8 * 1024 ** 3 },
    maxInFlightBatches: 64,
    backoff: { initialMs: 50, maxMs: 1000 },
  });
  exporter.start();
  const acked = (n) =>
    new Promise((resolve, reject) => {
      const deadline = Date.now() + 600_000;
      const poll = () => {
        const s = exporter.stats();
        if (s.batchesAcked >= n) resolve();
        else if (Date.now() > deadline) reject(new Error(`${s.batchesAcked} of ${n} batches acked: ${s.lastError}`));
        else setTimeout(poll, 1);
      };
      poll();
    });
  const offer = (from, to) => {
    for (let i = from; i < to; i++) exporter.offer({ sequence: BigInt(i + 1), flows: counts[i], bytes: batches[i] });
  };
  offer(0, warmup);
  await acked(warmup);
  agg.send({ cmd: "mark" });
  const before = await agg.next();
  const t0 = performance.now();
  offer(warmup, batches.length);
  await acked(batches.length);
  const wall = (performance.now() - t0) / 1000;
  agg.send({ cmd: "mark" });
  const after = await agg.next();
  await exporter.stop(Date.now() + 1000);
  agg.send({ cmd: "stop" });
  await agg.exited;
  const flows = after.flows - before.flows;
  const want = counts.slice(warmup).reduce((n, c) => n + c, 0);
  if (flows !== want) throw new Error(`aggregator applied ${flows} flows, want ${want}`);
  measuredResult("ingest-grpc", before, after, flows, ` (wall ${fmt(flows / wall)} flows/s)`);
}

async function natsBench(batches, warmup) {
  await pinSelf(1);
  const { startNats } = await import(join(root, "testkit/dist/index.js"));
  const { pb, FLOWS_STREAM, FLOWS_SUBJECT_WILDCARD } = await import(join(root, "contracts/dist/index.js"));
  const { NatsExporter } = await import(join(root, "agent/dist/export/nats.js"));
  const { connect } = await import("@nats-io/transport-node");
  const js = await import("@nats-io/jetstream");
  const flowsOf = (b) => pb.FlowBatch.decode(b).flows.length;
  const nats = await startNats();
  try {
    // The stream as NatsIngest makes it, so that the agent can fill it before the aggregator runs.
    const nc = await connect({ servers: [nats.url] });
    await (await js.jetstreamManager(nc)).streams.add({
      name: FLOWS_STREAM,
      subjects: [FLOWS_SUBJECT_WILDCARD],
      storage: js.StorageType.File,
      retention: js.RetentionPolicy.Limits,
      max_bytes: 16 * 1024 ** 3,
      discard: js.DiscardPolicy.Old,
    });
    await nc.close();
    const identity = { node: "bench-node", agentId: "bench-agent", version: "bench" };
    const exporter = new NatsExporter({
      servers: [nats.url],
      node: identity.node,
      identity,
      queue: { maxFlows: 1e9, maxBytes: 8 * 1024 ** 3 },
    });
    exporter.start();
    for (const [i, bytes] of batches.entries())
      exporter.offer({ sequence: BigInt(i + 1), flows: flowsOf(bytes), bytes });
    const deadline = Date.now() + 600_000;
    while (exporter.stats().batchesAcked < batches.length) {
      if (Date.now() > deadline) throw new Error(`publishing: ${exporter.stats().lastError}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    await exporter.stop(1000);

    const agg = forkAggregator(["--aggregator", "nats", nats.url]);
    await agg.next();
    const warmFlows = batches.slice(0, warmup).reduce((n, b) => n + flowsOf(b), 0);
    const total = batches.reduce((n, b) => n + flowsOf(b), 0);
    agg.send({ cmd: "start", marks: [warmFlows, total] });
    const before = await agg.next();
    const after = await agg.next();
    if (after.error || before.error) throw new Error(after.error ?? before.error);
    agg.send({ cmd: "stop" });
    await agg.exited;
    measuredResult("ingest-nats", before, after, after.flows - before.flows);
  } finally {
    await nats.stop();
  }
}

async function decodeBench(batches, warmup) {
  // The peer runs where the aggregator would: core 0, its own process.
  await pinSelf(0);
  const { pb } = await import(join(root, "contracts/dist/index.js"));
  for (const b of batches.slice(0, warmup)) pb.FlowBatch.decode(b);
  const c0 = process.cpuUsage();
  let flows = 0;
  for (const b of batches.slice(warmup)) flows += pb.FlowBatch.decode(b).flows.length;
  const cpu = cpuSeconds(process.cpuUsage(c0));
  console.log(
    `FlowBatch.decode: ${fmt(flows)} flows, CPU ${cpu.toFixed(2)} s -> ${fmt(flows / cpu)} flows per CPU-second`,
  );
  console.log(JSON.stringify({ items: flows, seconds: cpu }));
}

/** Agent child of the RSS bench: streams the batches file one batch at a time (small RSS). */
async function rssAgentChild(file, port) {
  const { GrpcExporter } = await import(join(root, "agent/dist/export/grpc.js"));
  const exporter = new GrpcExporter({
    target: `127.0.0.1:${port}`,
    queue: { maxFlows: 64_000, maxBytes: 64 << 20 },
    maxInFlightBatches: 16,
    backoff: { initialMs: 50, maxMs: 1000 },
  });
  exporter.start();
  const fd = openSync(file, "r");
  const len = Buffer.alloc(4);
  let pos = 0;
  let seq = 0;
  for (;;) {
    if (readSync(fd, len, 0, 4, pos) < 4) break;
    const bytes = Buffer.alloc(len.readUInt32LE(0));
    readSync(fd, bytes, 0, bytes.length, pos + 4);
    pos += 4 + bytes.length;
    seq++;
    while (exporter.stats().batches >= 32) await new Promise((r) => setTimeout(r, 1));
    exporter.offer({ sequence: BigInt(seq), flows: 1000, bytes });
  }
  closeSync(fd);
  while (exporter.stats().batchesAcked < seq) await new Promise((r) => setTimeout(r, 2));
  await exporter.stop(Date.now() + 1000);
  process.send({ batches: seq });
}

async function rssBench(hostsArg, count) {
  const distinct = hostsArg === "distinct";
  const file = cachedBatches(count, distinct ? { distinctHosts: true } : { hosts: Number(hostsArg) });
  const { agg, state, pipeline } = await newState();
  const ingest = new agg.GrpcIngest({ listen: "127.0.0.1:0" }, pipeline);
  const port = await ingest.start();
  const c0 = process.cpuUsage();
  const child = fork(self, ["--rss-agent", file, String(port)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const done = await new Promise((resolve, reject) => {
    child.once("message", resolve);
    child.once("exit", (code) => reject(new Error(`agent exited ${code}`)));
  });
  const cpu = cpuSeconds(process.cpuUsage(c0));
  await ingest.stop(1000);
  const flows = pipeline.counters.grpc.flows;
  if (flows !== done.batches * 1000) throw new Error(`applied ${flows} flows of ${done.batches * 1000}`);
  setFlagsFromString("--expose-gc");
  runInNewContext("gc")();
  const s = Object.fromEntries(state.structures().map((x) => [x.name, x.entries]));
  const t = state.totals();
  console.log(
    `rss ${distinct ? "every address new" : `${hostsArg} hosts`}: ${fmt(flows)} flows, ${fmt(
      t.hostsEvicted + s.hosts,
    )} hosts seen, ${fmt(s.hosts)} kept; active ${fmt(s.active_flows)}, recent ${fmt(s.recent_flows)}; peak RSS ${(
      process.resourceUsage().maxRSS / 1024
    ).toFixed(0)} MiB, heap after GC ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`,
  );
  console.log(JSON.stringify({ items: flows, seconds: cpu }));
}

const [mode, a1, a2] = process.argv.slice(2);
if (mode === "--aggregator") await aggregatorChild(a1, a2);
else if (mode === "--rss-agent") await rssAgentChild(a1, Number(a2));
else if (mode === "rss") await rssBench(a1 ?? "distinct", Number(a2 ?? 560));
else {
  const batchCount = Number(a1 ?? 1800);
  const warmup = Number(a2 ?? 1200);
  const batches = readBatches(cachedBatches(batchCount));
  if (mode === "grpc") await grpcBench(batches, warmup);
  else if (mode === "nats") await natsBench(batches, warmup);
  else if (mode === "decode") await decodeBench(batches, warmup);
  else {
    console.error("usage: ingest.mjs grpc|nats|decode [batches] [warmup] | rss distinct|HOSTS [batches]");
    process.exit(2);
  }
}
