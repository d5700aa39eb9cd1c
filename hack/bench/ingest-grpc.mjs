#!/usr/bin/env node
// gRPC ingest throughput: one agent-side GrpcExporter streams pre-encoded FlowBatches (1000
// flows each, addresses drawn from 100k hosts) over loopback into a GrpcIngest whose sink only
// counts, running in its own process so that its CPU time is its own. Prints flows/s (wall),
// the aggregator's flows per CPU-second, the raw FlowBatch.decode rate of the same batches (per
// CPU-second too, so that other load on the machine skews neither) and the ratio: what the
// transport costs on top of decoding. Last line: {"items", "seconds"} for hack/bench/run.mjs.
// Usage: ingest-grpc.mjs [batches=500] [hosts=100000] [flowsPerBatch=1000]   (after `npx tsc -b`)
import { fork } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const { pb } = await import(join(root, "contracts/dist/index.js"));

if (process.argv[2] === "--aggregator") {
  // Child: the aggregator end. Counts flows; reports its CPU time when asked.
  const { GrpcIngest } = await import(join(root, "aggregator/dist/ingest/grpc.js"));
  let flows = 0;
  const ingest = new GrpcIngest(
    { listen: "127.0.0.1:0", maxBatchBytes: 64 << 20 },
    {
      apply(batch) {
        flows += batch.flows.length;
        return true;
      },
    },
  );
  const port = await ingest.start();
  process.send({ port });
  process.on("message", async (m) => {
    if (m === "mark") {
      const cpu = process.cpuUsage();
      process.send({ flows, cpuUs: cpu.user + cpu.system });
    } else if (m === "stop") {
      await ingest.stop(1000);
      process.exit(0);
    }
  });
} else {
  await agent(Number(process.argv[2] ?? 500), Number(process.argv[3] ?? 100_000), Number(process.argv[4] ?? 1000));
}

/** xorshift32: the same batches on every run. */
function prng(seed) {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

function makeBatches(count, perBatch, hosts) {
  const r = prng(0x5eed);
  const host = (i) =>
    i % 10 === 0
      ? `fd00:${(i >> 16).toString(16)}::${(i & 0xffff).toString(16)}`
      : `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const apps = [
    ["TLS.Google", "Web", 443, 6],
    ["HTTP", "Web", 80, 6],
    ["DNS", "Network", 53, 17],
    ["SSH", "RemoteAccess", 22, 6],
    ["TLS", "Web", 8443, 6],
    ["Unknown", "Unspecified", 9000, 17],
  ];
  const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const batches = [];
  let t = 1_700_000_000_000;
  for (let seq = 1; seq <= count; seq++) {
    const flows = [];
    for (let i = 0; i < perBatch; i++) {
      const src = r(hosts);
      let dst = r(hosts);
      // Addresses of one flow share a family.
      if ((src % 10 === 0) !== (dst % 10 === 0)) dst = src % 10 === 0 ? dst - (dst % 10) : dst - (dst % 10) + 1;
      const [l7, l7Category, dstPort, proto] = apps[r(apps.length)];
      const packets = 1 + r(2000);
      const k8s = r(3) === 0;
      t += r(3);
      flows.push(
        pb.Flow.fromPartial({
          srcAddr: host(src),
          srcPort: 1024 + r(64000),
          dstAddr: host(dst),
          dstPort,
          proto,
          ipVersion: src % 10 === 0 ? 6 : 4,
          firstSeenMs: BigInt(t - r(60_000)),
          lastSeenMs: BigInt(t),
          srcToDstPackets: BigInt(packets),
          srcToDstBytes: BigInt(packets * (60 + r(1400))),
          dstToSrcPackets: BigInt(r(packets + 1)),
          dstToSrcBytes: BigInt(r(packets + 1) * (60 + r(1400))),
          srcTcpFlags: proto === 6 ? 0x1b : 0,
          dstTcpFlags: proto === 6 ? 0x1b : 0,
          l7,
          l7Category,
          info:
            l7 === "DNS"
              ? { dnsQuery: `svc-${r(5000)}.example.com`, dnsRcode: r(4) }
              : l7.startsWith("TLS")
                ? { sni: `api-${r(2000)}.example.org`, ja4c: "t13d1516h2_8daaf6152771_02713d6af862" }
                : {},
          clientNwLatencyUs: proto === 6 ? BigInt(50 + r(5000)) : undefined,
          serverNwLatencyUs: proto === 6 ? BigInt(50 + r(5000)) : undefined,
          srcRetransmits: r(4),
          endReason: 1 + r(5),
          communityId: `1:${Array.from({ length: 27 }, () => b64[r(64)]).join("")}=`,
          srcK8s: k8s
            ? { node: `node-${r(50)}`, namespace: `ns-${r(20)}`, pod: `pod-${r(3000)}`, workload: `wl-${r(300)}` }
            : undefined,
        }),
      );
    }
    const message = {
      agent: { node: "bench-node", agentId: "bench-agent", version: "bench" },
      sequence: BigInt(seq),
      sentAtMs: BigInt(t),
      flows,
    };
    batches.push({ sequence: message.sequence, flows: perBatch, bytes: pb.FlowBatch.encode(message).finish() });
  }
  return batches;
}

async function agent(count, hosts, PER_BATCH) {
  const warmup = Math.max(20, Math.floor(count / 10));
  const batches = makeBatches(count + warmup, PER_BATCH, hosts);
  const wireBytes = batches.slice(warmup).reduce((n, b) => n + b.bytes.length, 0);

  // Raw decode of the measured batches, in CPU time (other load on the machine does not count),
  // best of three after a warm-up of the decoder.
  for (const b of batches.slice(0, warmup)) pb.FlowBatch.decode(b.bytes);
  let decodeCpuSeconds = Number.POSITIVE_INFINITY;
  let decoded = 0;
  for (let round = 0; round < 3; round++) {
    decoded = 0;
    const c0 = process.cpuUsage();
    for (const b of batches.slice(warmup)) decoded += pb.FlowBatch.decode(b.bytes).flows.length;
    const c = process.cpuUsage(c0);
    decodeCpuSeconds = Math.min(decodeCpuSeconds, (c.user + c.system) / 1e6);
  }

  const child = fork(fileURLToPath(import.meta.url), ["--aggregator"], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const next = () => new Promise((resolve) => child.once("message", resolve));
  const { port } = await next();
  const { GrpcExporter } = await import(join(root, "agent/dist/export/grpc.js"));
  const exporter = new GrpcExporter({
    target: `127.0.0.1:${port}`,
    queue: { maxFlows: (count + warmup) * PER_BATCH, maxBytes: 4 * 1024 ** 3 },
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
        else if (Date.now() > deadline)
          reject(new Error(`only ${s.batchesAcked} of ${n} batches acked: ${s.lastError}`));
        else setTimeout(poll, 2);
      };
      poll();
    });

  for (const b of batches.slice(0, warmup)) exporter.offer(b);
  await acked(warmup);
  child.send("mark");
  const before = await next();
  const agentCpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (const b of batches.slice(warmup)) exporter.offer(b);
  await acked(count + warmup);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const agentCpu = process.cpuUsage(agentCpu0);
  child.send("mark");
  const afterMark = await next();
  await exporter.stop(Date.now() + 1000);
  child.send("stop");

  const flows = afterMark.flows - before.flows;
  if (flows !== count * PER_BATCH || decoded !== flows) {
    throw new Error(`aggregator counted ${flows} flows and decode ${decoded}, want ${count * PER_BATCH}`);
  }
  const s = exporter.stats();
  if (s.errors > 0) throw new Error(`exporter errors during the run: ${s.lastError}`);
  const cpuSeconds = (afterMark.cpuUs - before.cpuUs) / 1e6;
  const rate = flows / seconds;
  const perCpu = flows / cpuSeconds;
  const decodeRate = decoded / decodeCpuSeconds;
  const fmt = (n) => Math.round(n).toLocaleString("en-US");
  console.log(
    `ingest-grpc: ${count} batches x ${PER_BATCH} flows, ${hosts} hosts, ${(wireBytes / count / 1024).toFixed(1)} KiB a batch`,
  );
  console.log(`  gRPC ingest (wall)          ${fmt(rate)} flows/s  (${seconds.toFixed(2)} s)`);
  console.log(`  aggregator CPU              ${cpuSeconds.toFixed(2)} s -> ${fmt(perCpu)} flows per CPU-second`);
  console.log(`  agent CPU                   ${((agentCpu.user + agentCpu.system) / 1e6).toFixed(2)} s`);
  console.log(`  FlowBatch.decode alone      ${fmt(decodeRate)} flows per CPU-second`);
  console.log(
    `  ingest / decode             ${(perCpu / decodeRate).toFixed(2)} per CPU-second, ${(rate / decodeRate).toFixed(2)} wall`,
  );
  console.log(JSON.stringify({ items: flows, seconds }));
}
