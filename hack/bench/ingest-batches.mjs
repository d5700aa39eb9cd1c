// FlowBatches as agents send them, for the ingest benchmarks: 1000 flows a batch, addresses from
// `hosts` distinct hosts (10% IPv6), nDPI metadata and Kubernetes enrichment on some flows. The
// flow mix follows what an agent exports: 80% of the records are flows that start and end
// within one export interval, 10% are active-timeout updates of long flows, 10% are the final
// records of long flows updated 5 batches before (so the aggregator sees continuations).
// Destinations are skewed (half of them among 1% of the hosts) as servers are in real traffic.
//
// distinctHosts: every address is new (flow i goes from host 2i to host 2i+1), for the memory
// bench that shows the state bounded whatever the number of hosts seen.
//
// The same arguments give the same bytes on every run. Batches are cached in one file (u32
// length + FlowBatch, repeated) so that both sides of a benchmark read the same input.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const { pb } = await import(join(root, "contracts/dist/index.js"));

/** xorshift32: deterministic, cheap. */
function prng(seed) {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

const APPS = [
  ["TLS.Google", "Web", 443, 6],
  ["TLS.Microsoft", "Cloud", 443, 6],
  ["HTTP", "Web", 80, 6],
  ["DNS", "Network", 53, 17],
  ["SSH", "RemoteAccess", 22, 6],
  ["QUIC.YouTube", "Media", 443, 17],
  ["NTP", "System", 123, 17],
  ["Unknown", "Unspecified", 9000, 17],
];
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const END = { idle: 1, active: 2, fin: 3, rst: 4 };

/** Host n: IPv6 for every tenth, so that the two families mix in every table. */
export function hostAddress(n) {
  return n % 10 === 0
    ? `fd00:${(n >>> 16).toString(16)}:${((n >>> 8) & 255).toString(16)}::${(n & 0xffff).toString(16)}`
    : `10.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/**
 * Returns `count` batches of `perBatch` flows as encoded bytes. Options: hosts (distinct hosts,
 * default 100k), distinctHosts (every address new), seed.
 */
export function makeBatches(count, { perBatch = 1000, hosts = 100_000, distinctHosts = false, seed = 0x5eed } = {}) {
  const r = prng(seed);
  const popular = Math.max(1, Math.floor(hosts / 100));
  let t = 1_700_000_000_000;
  let nextHost = 0;
  /** Long flows waiting for their final record: [sequence due, flow fields]. */
  const longFlows = [];
  const out = [];
  const pickPair = () => {
    if (distinctHosts) {
      const a = nextHost;
      nextHost += 2;
      return [a, a + 1];
    }
    const src = r(hosts);
    let dst = r(2) === 0 ? r(popular) * 100 + 1 : r(hosts);
    // Both ends of a flow in one family: move dst to src's.
    if ((src % 10 === 0) !== (dst % 10 === 0)) dst = src % 10 === 0 ? dst - (dst % 10) : dst - (dst % 10) + 1;
    if (dst >= hosts) dst -= 10;
    return [src, dst];
  };
  const newFlow = () => {
    const [src, dst] = pickPair();
    const [l7, l7Category, dstPort, proto] = APPS[r(APPS.length)];
    const packets = 1 + r(2000);
    const tcp = proto === 6;
    const k8s = r(3) === 0;
    return {
      srcAddr: hostAddress(src),
      srcPort: 1024 + r(64000),
      dstAddr: hostAddress(dst),
      dstPort,
      proto,
      ipVersion: src % 10 === 0 ? 6 : 4,
      firstSeenMs: BigInt(t - r(60_000)),
      lastSeenMs: BigInt(t),
      srcToDstPackets: BigInt(packets),
      srcToDstBytes: BigInt(packets * (60 + r(1400))),
      dstToSrcPackets: BigInt(r(packets + 1)),
      dstToSrcBytes: BigInt(r(packets + 1) * (60 + r(1400))),
      srcTcpFlags: tcp ? 0x1b : 0,
      dstTcpFlags: tcp ? 0x1b : 0,
      l7,
      l7Category,
      info:
        l7 === "DNS"
          ? { dnsQuery: `svc-${r(5000)}.example.com`, dnsRcode: r(4) }
          : l7.startsWith("TLS")
            ? { sni: `api-${r(2000)}.example.org`, ja4c: "t13d1516h2_8daaf6152771_02713d6af862" }
            : undefined,
      clientNwLatencyUs: tcp ? BigInt(50 + r(5000)) : undefined,
      serverNwLatencyUs: tcp ? BigInt(50 + r(5000)) : undefined,
      srcRetransmits: tcp ? r(4) : 0,
      dstRetransmits: tcp ? r(3) : 0,
      endReason: tcp ? (r(10) === 0 ? END.rst : END.fin) : END.idle,
      communityId: `1:${Array.from({ length: 27 }, () => B64[r(64)]).join("")}=`,
      srcK8s: k8s
        ? { node: `node-${r(50)}`, namespace: `ns-${r(20)}`, pod: `pod-${r(3000)}`, workload: `wl-${r(300)}` }
        : undefined,
    };
  };
  for (let seq = 1; seq <= count; seq++) {
    const flows = [];
    for (let i = 0; i < perBatch; i++) {
      t += r(3);
      const slot = i % 10;
      let f;
      if (slot === 9 && longFlows.length > 0 && longFlows[0][0] <= seq) {
        // The final record of a long flow: what it carried since its active update.
        const [, g] = longFlows.shift();
        f = {
          ...g,
          lastSeenMs: BigInt(t),
          srcToDstPackets: 3n,
          srcToDstBytes: 900n,
          dstToSrcPackets: 2n,
          dstToSrcBytes: 600n,
        };
      } else if (slot === 8) {
        f = { ...newFlow(), endReason: END.active };
        longFlows.push([seq + 5, { ...f, endReason: f.proto === 6 ? END.fin : END.idle }]);
      } else f = newFlow();
      flows.push(pb.Flow.fromPartial(f));
    }
    const agent = { node: "bench-node", agentId: "bench-agent", version: "bench" };
    out.push(pb.FlowBatch.encode({ agent, sequence: BigInt(seq), sentAtMs: BigInt(t), flows }).finish());
  }
  return out;
}

const cacheDir = process.env.FLOWLENS_BENCH_DIR ?? join(homedir(), ".cache/flowlens-bench");

/** The batches for these arguments, from the cache file (made on first use). */
export function cachedBatches(count, opts = {}) {
  const { perBatch = 1000, hosts = 100_000, distinctHosts = false } = opts;
  const file = join(cacheDir, `ingest-v1-${count}x${perBatch}-${distinctHosts ? "distinct" : hosts}.bin`);
  if (!existsSync(file)) {
    mkdirSync(cacheDir, { recursive: true });
    const batches = makeBatches(count, opts);
    const parts = [];
    for (const b of batches) {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length);
      parts.push(len, b);
    }
    writeFileSync(`${file}.tmp`, Buffer.concat(parts));
    renameSync(`${file}.tmp`, file);
  }
  return file;
}

/** Reads a cache file back into batches (views of one buffer). */
export function readBatches(file) {
  const all = readFileSync(file);
  const out = [];
  for (let p = 0; p < all.length; ) {
    const len = all.readUInt32LE(p);
    out.push(all.subarray(p + 4, p + 4 + len));
    p += 4 + len;
  }
  return out;
}
