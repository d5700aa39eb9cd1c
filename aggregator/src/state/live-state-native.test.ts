// The live state with its hosts looked up and counted in C (agent/native/src/host_resolve.c)
// against the same state counted by JS alone: fed the same batches, encoded as agents send them
// (addresses as bytes, the resolver's path) and as messages (strings, JS lookups, C counting),
// both must answer every query the same. The batches are made to reach every case C hands back
// to JS: new hosts and evictions from a full table (mid-group, with the group's earlier records
// not yet counted), hosts that leave and come back as peers, caps on applications and peers,
// several reporting nodes, hosts talking to themselves, fields that are not addresses.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pb } from "@flowlens/contracts";
import { FlowBatchDecoder } from "../ingest/batch-decoder.js";
import { LocalNetworks } from "../networks.js";
import { defaultStateConfig, LiveState } from "./live-state.js";
import { hostResolverFactory } from "./table-memory.js";
import { rng, T0, TestClock, testFlow } from "./testing.js";
import type { FlowOrigin, StateConfig, Window } from "./types.js";

const LOCAL = new LocalNetworks(["10.0.0.0/8", "fd00::/8"]);
const APPS = ["TLS", "DNS", "HTTP", "SSH", "QUIC", "NTP", "Unknown"];
const ORIGINS: FlowOrigin[] = [
  { node: "node-1", agentId: "a" },
  { node: "node-2", agentId: "b" },
  { node: "node-3", agentId: "c" },
];

function addresses(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(i % 7 === 0 ? `fd00::${i.toString(16)}` : `10.1.${i >> 8}.${i & 255}`);
  out.push("192.0.2.1", "198.51.100.7", "10.2.219.40", "10.0.107.237", "", "not an address");
  return out;
}

function flows(r: () => number, pool: string[], n: number): pb.Flow[] {
  const pick = () => pool[Math.floor(r() < 0.5 ? r() * 12 : r() * pool.length)] as string;
  const out: pb.Flow[] = [];
  for (let i = 0; i < n; i++) {
    const src = pick();
    const dst = r() < 0.02 ? src : pick();
    const tcp = r() < 0.6;
    out.push(
      testFlow({
        srcAddr: src,
        dstAddr: dst,
        srcPort: 1024 + Math.floor(r() * 6),
        dstPort: 443,
        proto: tcp ? 6 : 17,
        l7: APPS[Math.floor(r() * APPS.length)] as string,
        srcToDstBytes: BigInt(Math.floor(r() * 5000)),
        srcToDstPackets: BigInt(Math.floor(r() * 9)),
        dstToSrcBytes: BigInt(Math.floor(r() * 5000)),
        dstToSrcPackets: BigInt(Math.floor(r() * 9)),
        clientNwLatencyUs: tcp && r() < 0.8 ? BigInt(Math.floor(r() * 900)) : undefined,
        serverNwLatencyUs: tcp && r() < 0.8 ? BigInt(Math.floor(r() * 900)) : undefined,
        srcRetransmits: Math.floor(r() * 3),
        dstRetransmits: Math.floor(r() * 3),
        endReason: r() < 0.2 ? pb.EndReason.END_REASON_ACTIVE : pb.EndReason.END_REASON_FIN,
        // Keys that repeat, so that active flows are continued and ended; some records without
        // one (keyed by their 5-tuple), and a non-ASCII one (its key hashed from the string).
        communityId: r() < 0.1 ? "" : r() < 0.01 ? "1:é" : `1:k${Math.floor(r() * 60)}=`,
      }),
    );
  }
  return out;
}

/** Everything the API can ask, in a comparable form. */
function snapshot(s: LiveState): unknown {
  const hosts = s.hosts({ sort: "bytes", order: "desc", offset: 0, limit: 100_000 });
  return {
    totals: s.totals(),
    hosts: hosts.items.map((h) => ({ ...s.host(h.ip), nodes: [...h.nodes].sort() })),
    total: hosts.total,
    applications: s.applications(),
    categories: s.categories(),
    protocols: s.protocols(),
    networks: s.networks(),
    talkers: (["1m", "5m", "1h"] as Window[]).map((w) => s.topTalkers(w, 50)),
    flows: s.flows({ state: "all", sort: "bytes", order: "desc", offset: 0, limit: 100_000 }),
    // The top hosts have time series (re-chosen every minute of ingest time).
    series: hosts.items.slice(0, 30).map((h) => s.series({ entity: { kind: "host", ip: h.ip }, resolution: "10s" })),
  };
}

const skip = hostResolverFactory() === null ? "the native addon is not built (make native)" : false;

describe("LiveState with native host counting", { skip }, () => {
  const cases: Array<[string, Partial<StateConfig>, number]> = [
    ["a table that holds every host", {}, 400],
    ["a full table", { maxHosts: 40 }, 150],
    // Fewer hosts than a group of records has: a host JS adds evicts one that an earlier
    // record of the group has, not yet counted.
    ["a table smaller than a group's hosts", { maxHosts: 6 }, 60],
    ["few cells per host", { maxHosts: 300, maxPeersPerHost: 3 }, 400],
    ["more cells than a record holds", { maxPeersPerHost: 40 }, 100],
  ];
  for (const [name, over, hostsInPool] of cases) {
    it(`answers as JS counting does: ${name}`, () => {
      const r = rng(hostsInPool + (over.maxHosts ?? 0));
      const pool = addresses(hostsInPool);
      const clock = new TestClock(T0);
      const config = { ...defaultStateConfig(), ...over };
      const native = new LiveState(config, LOCAL, clock.now, true);
      const js = new LiveState(config, LOCAL, clock.now, false);
      const decoder = new FlowBatchDecoder();
      for (let b = 0; b < 80; b++) {
        const origin = ORIGINS[Math.floor(r() * ORIGINS.length)] as FlowOrigin;
        const batch = flows(r, pool, 1 + Math.floor(r() * 200));
        if (b % 3 === 0) {
          native.applyBatch(batch, origin);
          js.applyBatch(batch, origin);
        } else {
          const bytes = pb.FlowBatch.encode(pb.FlowBatch.fromPartial({ sequence: BigInt(b), flows: batch })).finish();
          for (const s of [native, js]) {
            const d = decoder.decode(bytes);
            s.applyRecords(d.flows, origin, d.flows.length);
          }
        }
        clock.advance(Math.floor(r() * 8000));
        if (b % 10 === 9) assert.deepEqual(snapshot(native), snapshot(js), `after batch ${b}`);
      }
      assert.deepEqual(snapshot(native), snapshot(js));
      if (over.maxHosts !== undefined && over.maxHosts < 100) assert.ok(native.totals().hostsEvicted > 100);
    });
  }
});
