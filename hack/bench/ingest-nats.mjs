#!/usr/bin/env node
// NATS JetStream transport throughput: a NatsExporter (in a worker thread, as an agent would be
// its own process) publishes pre-encoded FlowBatches of 1000 flows over 100k distinct hosts
// through a testkit nats-server into a NatsIngest with a counting sink (SequenceDeduper, no
// state). Prints, in flows/s:
//   decode       FlowBatch.decode of the same batches, nothing else (the ceiling)
//   end-to-end   exporter and ingest running together, first offer to last flow applied
//   publish      the exporter alone, until every PubAck is in
//   backlog      the ingest alone, draining what the publish phase stored
// and each transport rate as a ratio of the decode rate.
// Needs `npx tsc -b` first. Usage: ingest-nats.mjs [batches=500] [flowsPerBatch=1000] [hosts=100000]
import { randomUUID } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const { pb } = await import(join(root, "contracts/dist/index.js"));

if (!isMainThread) {
  // The agent: connects, says so, then on "go" offers every batch at once and reports when all
  // are acknowledged, so that worker startup and the copy of the batches are not timed.
  const { NatsExporter } = await import(join(root, "agent/dist/export/nats.js"));
  const { url, identity, batches } = workerData;
  const exporter = new NatsExporter({
    servers: [url],
    node: identity.node,
    identity,
    queue: { maxFlows: 1e9, maxBytes: 8 * 1024 ** 3 },
  });
  exporter.start();
  const connected = setInterval(() => {
    if (!exporter.stats().connected) return;
    clearInterval(connected);
    parentPort.postMessage({ ready: true });
  }, 5);
  parentPort.once("message", () => {
    const t0 = performance.now();
    for (const b of batches) exporter.offer(b);
    const timer = setInterval(async () => {
      const s = exporter.stats();
      if (s.batchesAcked < batches.length) return;
      clearInterval(timer);
      const seconds = (performance.now() - t0) / 1000;
      await exporter.stop(1000);
      parentPort.postMessage({ seconds, stats: exporter.stats() });
    }, 2);
  });
} else {
  await main();
}

async function main() {
  const [batchCount = 500, perBatch = 1000, hosts = 100_000] = process.argv.slice(2).map(Number);
  const { startNats, waitFor } = await import(join(root, "testkit/dist/index.js"));
  const { NatsIngest } = await import(join(root, "aggregator/dist/ingest/nats.js"));
  const { SequenceDeduper } = await import(join(root, "aggregator/dist/ingest/dedupe.js"));

  const flow = (i) =>
    pb.Flow.fromPartial({
      srcAddr: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      srcPort: 1024 + (i % 60000),
      dstAddr: `192.0.2.${i % 200}`,
      dstPort: 443,
      proto: 6,
      ipVersion: 4,
      firstSeenMs: 1_700_000_000_000n + BigInt(i),
      lastSeenMs: 1_700_000_001_000n + BigInt(i),
      srcToDstPackets: BigInt(10 + (i % 7)),
      srcToDstBytes: BigInt(1500 * (10 + (i % 7))),
      dstToSrcPackets: 8n,
      dstToSrcBytes: 9000n,
      srcTcpFlags: 0x1b,
      dstTcpFlags: 0x1b,
      l7: "TLS.Google",
      l7Category: "Web",
      info: { sni: "www.google.com", ja3c: "771,4865-4866,0-23", risks: [] },
      clientNwLatencyUs: 150n,
      serverNwLatencyUs: 900n,
      dstRetransmits: 1,
      endReason: 3,
      communityId: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
    });
  /** Batches of one agent; hosts cycle over `hosts` distinct source addresses. */
  const makeBatches = (identity) => {
    const out = [];
    for (let s = 1; s <= batchCount; s++) {
      const flows = Array.from({ length: perBatch }, (_, j) => flow(((s - 1) * perBatch + j) % hosts));
      const bytes = pb.FlowBatch.encode({ agent: identity, sequence: BigInt(s), sentAtMs: 0n, flows }).finish();
      out.push({ sequence: BigInt(s), flows: perBatch, bytes });
    }
    return out;
  };
  const total = batchCount * perBatch;
  const rate = (seconds) => total / seconds;
  const fmt = (n) => `${Math.round(n).toLocaleString("en-US")}`;

  const live = { node: "bench-live", agentId: randomUUID(), version: "bench" };
  const stored = { node: "bench-stored", agentId: randomUUID(), version: "bench" };
  const liveBatches = makeBatches(live);
  const storedBatches = makeBatches(stored);
  const mib = liveBatches.reduce((n, b) => n + b.bytes.length, 0) / 1024 ** 2;
  console.error(`${batchCount} batches of ${perBatch} flows (${hosts} hosts), ${mib.toFixed(1)} MiB per run`);

  // The ceiling: decode alone, best of a few passes over the same bytes (run again at the end:
  // on a busy machine the best pass is the fairest).
  let decodeSeconds = Number.POSITIVE_INFINITY;
  const measureDecode = (passes) => {
    for (let pass = 0; pass < passes; pass++) {
      const t0 = performance.now();
      let n = 0;
      for (const b of liveBatches) n += pb.FlowBatch.decode(b.bytes).flows.length;
      if (n !== total) throw new Error(`decoded ${n} flows, want ${total}`);
      decodeSeconds = Math.min(decodeSeconds, (performance.now() - t0) / 1000);
    }
  };
  measureDecode(3);

  class CountingSink {
    deduper = new SequenceDeduper();
    flows = 0;
    apply(batch) {
      const id = batch.agent?.agentId ?? "";
      if (this.deduper.isDuplicate(id, batch.sequence)) return false;
      this.flows += batch.flows.length;
      this.deduper.markApplied(id, batch.sequence);
      return true;
    }
  }

  const largest = Math.max(...liveBatches.map((b) => b.bytes.length));
  // nats-server's default max_payload; the exporter drops (and counts) anything larger.
  if (largest > 1024 * 1024) throw new Error(`a batch is ${largest} bytes, above nats-server's 1 MiB max_payload`);
  const nats = await startNats();
  const opts = {
    servers: [nats.url],
    stream: { maxBytes: 16 * 1024 ** 3 },
    maxAckPending: 4096,
    pullBatch: 256,
    lagIntervalMs: 0,
  };
  /** Starts the exporter worker; resolves with go(), which starts publishing and resolves when all are acked. */
  const startExporter = (identity, batches) =>
    new Promise((resolve, reject) => {
      const w = new Worker(fileURLToPath(import.meta.url), { workerData: { url: nats.url, identity, batches } });
      w.once("error", reject);
      w.once("message", () =>
        resolve(
          () =>
            new Promise((done) => {
              w.once("message", done);
              w.postMessage("go");
            }),
        ),
      );
    });
  try {
    // End to end: the ingest consumes while the exporter publishes.
    const sink = new CountingSink();
    const ingest = new NatsIngest(opts, sink);
    await ingest.start();
    const go = await startExporter(live, liveBatches);
    const t0 = performance.now();
    const published = go();
    await waitFor("every flow applied", () => sink.flows === total, { timeoutMs: 600_000, intervalMs: 2 });
    const e2eSeconds = (performance.now() - t0) / 1000;
    const exp = await published;
    if (exp.stats.errors > 0) console.error(`exporter errors: ${exp.stats.errors} (${exp.stats.lastError})`);
    await ingest.stop(2000);

    // Publish alone into the stream, then drain the backlog with the ingest alone.
    const alone = await (await startExporter(stored, storedBatches))();
    const sink2 = new CountingSink();
    const ingest2 = new NatsIngest(opts, sink2);
    await ingest2.start();
    const t1 = performance.now();
    await waitFor("backlog applied", () => sink2.flows === total, { timeoutMs: 600_000, intervalMs: 2 });
    const backlogSeconds = (performance.now() - t1) / 1000;
    await ingest2.stop(2000);
    measureDecode(2);

    const decodeRate = rate(decodeSeconds);
    const rows = [
      ["decode (FlowBatch.decode only)", decodeRate],
      ["end-to-end NatsExporter -> NatsIngest", rate(e2eSeconds)],
      ["publish (NatsExporter until PubAcks)", rate(alone.seconds)],
      ["backlog (NatsIngest alone)", rate(backlogSeconds)],
    ];
    console.log(`${"".padEnd(40)} ${"flows/s".padStart(12)}  vs decode`);
    for (const [name, r] of rows) {
      console.log(`${name.padEnd(40)} ${fmt(r).padStart(12)}  ${(r / decodeRate).toFixed(2)}`);
    }
  } finally {
    await nats.stop();
  }
}
