#!/usr/bin/env node
// Measures LiveState.applyBatch (the aggregator's hot path) on batches of 1000 records over
// 100k distinct hosts: 80% one-record flows, 20% long flows sent as an active update then a
// final record five batches later. Build first (npx tsc -b). Usage: state.mjs [seconds]
// Prints flows/s and heap, and {"items": N, "seconds": S} last, as hack/bench/runner expects.
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc");
const heapMiB = () => {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const { LiveState, LocalNetworks, defaultStateConfig } = await import(
  pathToFileURL(join(root, "aggregator/dist/index.js")).href
);

const seconds = Number(process.argv[2] ?? "5");
/** Batches in a cycle: after one, every host exists and the state is in its steady state. */
const BATCHES = 100;
const PER_BATCH = 1000;
const CLIENTS = 90_000;
const SERVERS = 10_000;
const APPS = [
  ["TLS.Google", "Web"],
  ["HTTP", "Web"],
  ["DNS", "Network"],
  ["SSH", "RemoteAccess"],
  ["TLS.Microsoft", "Cloud"],
  ["QUIC.YouTube", "Media"],
  ["NTP", "System"],
  ["Unknown", "Unspecified"],
];
const ACTIVE = 2;
const FIN = 3;

const ip = (n, a) => `${a}.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;

function flow(id, endReason) {
  const client = (id * 7919) % CLIENTS;
  const server = (id * 104729) % SERVERS;
  const [l7, l7Category] = APPS[id % APPS.length];
  const udp = l7 === "DNS" || l7 === "NTP" || l7.startsWith("QUIC");
  return {
    srcAddr: ip(client, 10),
    srcPort: 1024 + (id % 60000),
    dstAddr: ip(server, 172),
    dstPort: udp ? 53 : 443,
    proto: udp ? 17 : 6,
    ipVersion: 4,
    vlan: 0,
    firstSeenMs: 1_700_000_000_000n + BigInt(id),
    lastSeenMs: 1_700_000_001_000n + BigInt(id),
    srcToDstPackets: BigInt(10 + (id % 7)),
    srcToDstBytes: BigInt(1500 * (10 + (id % 7))),
    dstToSrcPackets: 8n,
    dstToSrcBytes: 9000n,
    srcTcpFlags: 0x1b,
    dstTcpFlags: 0x1b,
    l7,
    l7Category,
    info: undefined,
    clientNwLatencyUs: 150n,
    serverNwLatencyUs: 900n,
    applLatencyUs: undefined,
    srcRetransmits: 0,
    dstRetransmits: id % 3,
    srcOutOfOrder: 0,
    dstOutOfOrder: 0,
    endReason,
    communityId: `1:${id.toString(36).padStart(27, "x")}=`,
    exporter: "",
    observationDomain: 0,
    exportVersion: 0,
    samplingRate: 1n,
    rawPackets: 0n,
    rawBytes: 0n,
    inIf: 0,
    outIf: 0,
    srcK8s: undefined,
    dstK8s: undefined,
  };
}

// Each batch is built just before it is applied, as the decoder would hand it over (fresh in
// cache, new strings); only applyBatch is timed.
function makeBatch(b) {
  const batch = [];
  const base = (b % BATCHES) * 900;
  const prev = ((b - 5 + BATCHES) % BATCHES) * 900;
  for (let r = 0; r < PER_BATCH; r++) {
    // Flow ids 0..89999 (900 new flows a batch), each its own client: 90k clients, 10k servers.
    if (r < 800) batch.push(flow(base + r, FIN));
    else if (r < 900) batch.push(flow(base + r, ACTIVE));
    else batch.push(flow(prev + r - 100, FIN));
  }
  return batch;
}

const state = new LiveState(defaultStateConfig(), new LocalNetworks(["10.0.0.0/8"]));
const origin = { node: "node-1", agentId: "agent-1" };
const heapBefore = heapMiB();

let next = 0;
function run(ms) {
  let items = 0;
  let ns = 0n;
  // CPU time of the process (GC threads included) as well as wall time: on a busy machine the
  // wall clock also counts the time other processes had the core.
  let cpuUs = 0;
  const deadline = BigInt(ms) * 1_000_000n;
  while (ns < deadline) {
    const batch = makeBatch(next++);
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    state.applyBatch(batch, origin);
    ns += process.hrtime.bigint() - t0;
    const c = process.cpuUsage(c0);
    cpuUs += c.user + c.system;
    items += batch.length;
  }
  return { items, seconds: Number(ns) / 1e9, cpuSeconds: cpuUs / 1e6 };
}

// Warm-up: JIT, and one whole cycle so every host exists and the flow ring is full.
for (let b = 0; b < BATCHES; b++) state.applyBatch(makeBatch(next++), origin);
run(500);
const r = run(seconds * 1000);
const hosts = state.structures().find((s) => s.name === "hosts");
const rate = (n) => Math.round(n).toLocaleString("en");
console.log(
  `applyBatch: ${rate(r.items / r.seconds)} flows/s (wall), ${rate(r.items / r.cpuSeconds)} flows per CPU second`,
);
console.log(`hosts ${hosts.entries}, state heap ${(heapMiB() - heapBefore).toFixed(0)} MiB after GC`);
console.log(JSON.stringify({ items: r.items, seconds: r.seconds }));
