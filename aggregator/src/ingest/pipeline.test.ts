// The pipeline's two ways in must build the same state: bytes decoded by FlowBatchDecoder
// straight into records (gRPC, NATS), and ts-proto messages (the in-process path). Random
// batches with long flows, evictions, invalid records and odd addresses go both ways into two
// states, whose every answer must then agree; per-host totals must also equal a plain sum.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pb } from "@flowlens/contracts";
import { LocalNetworks } from "../networks.js";
import { defaultStateConfig, LiveState } from "../state/live-state.js";
import { prng, TestClock } from "../state/testing.js";
import type { StateConfig } from "../state/types.js";
import { SequenceDeduper } from "./dedupe.js";
import { IngestPipeline } from "./pipeline.js";

const APPS = [
  ["TLS.Google", "Web"],
  ["DNS", "Network"],
  ["", ""],
  ["HTTP", "Web"],
  ["Ünïcode", "Odd"],
];

function address(r: (n: number) => number, hosts: number): string {
  const n = r(hosts);
  if (n === 0) return "hôte-ünïcode";
  if (n === 1) return `fe80::1%${"e".repeat(52)}`;
  return n % 7 === 0 ? `fd00::${n.toString(16)}` : `10.${(n >> 8) & 255}.${n & 255}.${n % 3}`;
}

/** Batches with flows that continue over several records (same Community ID, active first). */
function batches(seed: number, count: number, hosts: number): Uint8Array[] {
  const r = prng(seed);
  const open: pb.Flow[] = [];
  const out: Uint8Array[] = [];
  for (let seq = 1; seq <= count; seq++) {
    const flows: pb.Flow[] = [];
    for (let i = r(60); i > 0; i--) {
      let f: pb.Flow;
      if (open.length > 0 && r(3) === 0) {
        const g = open.splice(r(open.length), 1)[0] as pb.Flow;
        f = { ...g, endReason: r(2) === 0 ? pb.EndReason.END_REASON_ACTIVE : pb.EndReason.END_REASON_FIN };
      } else {
        const [l7, l7Category] = APPS[r(APPS.length)] as [string, string];
        f = pb.Flow.fromPartial({
          srcAddr: address(r, hosts),
          dstAddr: r(20) === 0 ? "" : address(r, hosts),
          srcPort: r(65536),
          dstPort: r(1024),
          proto: r(2) === 0 ? 6 : 17,
          ipVersion: r(30) === 0 ? 0 : 4,
          firstSeenMs: BigInt(1_700_000_000_000 + r(100000)),
          lastSeenMs: BigInt(1_700_000_100_000 + r(100000)),
          srcToDstPackets: BigInt(r(100)),
          srcToDstBytes: r(50) === 0 ? 2n ** 53n + 3n : BigInt(r(100000)),
          dstToSrcPackets: BigInt(r(100)),
          dstToSrcBytes: BigInt(r(100000)),
          srcTcpFlags: r(256),
          dstTcpFlags: r(256),
          l7,
          l7Category,
          info: r(2) === 0 ? { sni: "example.org", risks: ["x"] } : undefined,
          clientNwLatencyUs: r(2) === 0 ? BigInt(r(10000)) : undefined,
          serverNwLatencyUs: r(2) === 0 ? BigInt(r(10000)) : undefined,
          srcRetransmits: r(5),
          dstRetransmits: r(5),
          srcOutOfOrder: r(3),
          endReason: r(4) === 0 ? pb.EndReason.END_REASON_ACTIVE : pb.EndReason.END_REASON_IDLE,
          communityId: r(10) === 0 ? "" : `1:${seed}-${seq}-${i}`,
          exporter: r(10) === 0 ? "192.0.2.1" : "",
          exportVersion: r(10) === 0 ? 10 : 0,
          rawPackets: BigInt(r(10)),
          rawBytes: BigInt(r(1000)),
          inIf: r(4),
          outIf: r(4),
          srcK8s: r(3) === 0 ? { pod: "p", namespace: "n" } : undefined,
        });
      }
      if (f.endReason === pb.EndReason.END_REASON_ACTIVE) open.push(f);
      flows.push(f);
    }
    const agent = { node: `node-${r(3)}`, agentId: "agent", version: "t" };
    out.push(pb.FlowBatch.encode({ agent, sequence: BigInt(seq), sentAtMs: 0n, flows }).finish());
  }
  return out;
}

function states(config: Partial<StateConfig>) {
  const clock = new TestClock();
  const make = () => {
    const s = new LiveState(
      { ...defaultStateConfig(), ...config },
      new LocalNetworks(["10.0.0.0/8", "fd00::/8"]),
      clock.now,
    );
    return { s, p: new IngestPipeline(s, new SequenceDeduper()) };
  };
  return { clock, bytes: make(), messages: make() };
}

/** Every answer of the state, in a form that compares. */
function snapshot(s: LiveState): unknown {
  const all = { sort: "ip" as const, order: "asc" as const, offset: 0, limit: 100_000 };
  const hosts = s.hosts(all).items;
  const flows = s.flows({ state: "all", sort: "bytes", order: "desc", offset: 0, limit: 100_000 });
  return {
    totals: s.totals(),
    hosts,
    details: hosts.map((h) => s.host(h.ip)),
    flows: JSON.stringify(flows, (_, v) => (typeof v === "bigint" ? `${v}n` : v)),
    apps: s.applications(),
    categories: s.categories(),
    protocols: s.protocols(),
    networks: s.networks(),
    nodes: s.nodes(),
    exporters: s.exporters(),
    interfaces: s.interfaces("192.0.2.1"),
    top: s.topTalkers("1h", 1000),
    structures: s.structures().map((x) => [x.name, x.entries, x.evictions]),
  };
}

describe("IngestPipeline: bytes and messages", () => {
  for (const [name, config, hosts] of [
    ["every host kept", {}, 300],
    [
      "hosts, flows and cells evicted",
      { maxHosts: 40, maxPeersPerHost: 3, maxActiveFlows: 20, maxRecentFlows: 50 },
      300,
    ],
  ] as const) {
    it(`build the same state: ${name}`, () => {
      const { clock, bytes, messages } = states(config);
      for (const b of batches(name.length, 200, hosts)) {
        assert.equal(
          bytes.p.fast.apply(bytes.p.fast.decode(b), "grpc"),
          messages.p.apply(pb.FlowBatch.decode(b), "grpc"),
        );
        clock.advance(700);
      }
      assert.deepEqual(snapshot(bytes.s), snapshot(messages.s));
      assert.deepEqual(bytes.p.counters.grpc, messages.p.counters.grpc);
      assert.ok(bytes.p.counters.grpc.invalidFlows > 0, "some records were invalid");
    });
  }

  it("keeps per-host byte and packet totals exact", () => {
    const { bytes } = states({});
    const want = new Map<string, number[]>();
    const add = (ip: string, i: number, v: bigint) => {
      const t = want.get(ip) ?? [0, 0, 0, 0];
      t[i] = (t[i] as number) + Number(v);
      want.set(ip, t);
    };
    for (const b of batches(99, 150, 200)) {
      const m = pb.FlowBatch.decode(b);
      for (const f of m.flows) {
        if (f.ipVersion !== 4 || !f.dstAddr) continue;
        add(f.srcAddr, 0, f.srcToDstBytes);
        add(f.srcAddr, 1, f.dstToSrcBytes);
        add(f.srcAddr, 2, f.srcToDstPackets);
        add(f.srcAddr, 3, f.dstToSrcPackets);
        add(f.dstAddr, 0, f.dstToSrcBytes);
        add(f.dstAddr, 1, f.srcToDstBytes);
        add(f.dstAddr, 2, f.dstToSrcPackets);
        add(f.dstAddr, 3, f.srcToDstPackets);
      }
      bytes.p.fast.apply(bytes.p.fast.decode(b), "nats");
    }
    assert.ok(want.size > 100);
    for (const [ip, t] of want) {
      const h = bytes.s.host(ip);
      assert.ok(h, ip);
      assert.deepEqual([h.bytesSent, h.bytesRcvd, h.packetsSent, h.packetsRcvd], t, ip);
    }
  });
});
