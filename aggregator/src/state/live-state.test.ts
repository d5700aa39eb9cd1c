import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pb } from "@flowlens/contracts";
import { CidrError, LocalNetworks } from "../networks.js";
import { StateConfigError } from "./config.js";
import { defaultStateConfig, LiveState, StateQueryError } from "./live-state.js";
import { rng, T0, TestClock, testFlow } from "./testing.js";
import type { FlowOrigin, FlowQuery, HostQuery, StateConfig } from "./types.js";

const ACTIVE = pb.EndReason.END_REASON_ACTIVE;
const FIN = pb.EndReason.END_REASON_FIN;
const N1: FlowOrigin = { node: "node-1", agentId: "agent-a" };
const N2: FlowOrigin = { node: "node-2", agentId: "agent-b" };
const LOCAL = new LocalNetworks(["10.0.0.0/8", "fd00::/8"]);

function state(over: Partial<StateConfig> = {}, clock = new TestClock()) {
  return { s: new LiveState({ ...defaultStateConfig(), ...over }, LOCAL, clock.now), clock };
}

const hostQuery = (q: Partial<HostQuery> = {}): HostQuery => ({
  sort: "bytes",
  order: "desc",
  offset: 0,
  limit: 100,
  ...q,
});
const flowQuery = (q: Partial<FlowQuery> = {}): FlowQuery => ({
  state: "all",
  sort: "bytes",
  order: "desc",
  offset: 0,
  limit: 100,
  ...q,
});

/** The host accounting of DESIGN.md done the obvious way, to compare the live state against. */
function reference(batches: Array<[FlowOrigin, pb.Flow[]]>) {
  const hosts = new Map<
    string,
    {
      bytesSent: number;
      bytesRcvd: number;
      packetsSent: number;
      packetsRcvd: number;
      flowsAsClient: number;
      flowsAsServer: number;
    }
  >();
  const active = new Set<string>();
  let flows = 0;
  const host = (ip: string) => {
    let h = hosts.get(ip);
    if (h === undefined) {
      h = { bytesSent: 0, bytesRcvd: 0, packetsSent: 0, packetsRcvd: 0, flowsAsClient: 0, flowsAsServer: 0 };
      hosts.set(ip, h);
    }
    return h;
  };
  for (const [origin, batch] of batches) {
    for (const f of batch) {
      const key = `${origin.node}/${f.communityId || `${f.srcAddr}|${f.srcPort}|${f.dstAddr}|${f.dstPort}|${f.proto}|${f.vlan}`}`;
      const isNew = !active.has(key);
      if (f.endReason === ACTIVE) active.add(key);
      else active.delete(key);
      const src = host(f.srcAddr);
      const dst = host(f.dstAddr);
      src.bytesSent += Number(f.srcToDstBytes);
      src.packetsSent += Number(f.srcToDstPackets);
      src.bytesRcvd += Number(f.dstToSrcBytes);
      src.packetsRcvd += Number(f.dstToSrcPackets);
      dst.bytesSent += Number(f.dstToSrcBytes);
      dst.packetsSent += Number(f.dstToSrcPackets);
      dst.bytesRcvd += Number(f.srcToDstBytes);
      dst.packetsRcvd += Number(f.srcToDstPackets);
      if (isNew) {
        src.flowsAsClient++;
        dst.flowsAsServer++;
        flows++;
      }
    }
  }
  return { hosts, flows };
}

/** Long and short flows over a few hosts, some split in active updates, from two nodes. */
function handBuiltBatches(): Array<[FlowOrigin, pb.Flow[]]> {
  const f = testFlow;
  return [
    [
      N1,
      [
        // A long flow: two active updates then the final record.
        f({ communityId: "1:long", srcToDstBytes: 1000n, srcToDstPackets: 10n, endReason: ACTIVE }),
        // Short flows, one record each.
        f({ communityId: "1:s1", dstAddr: "10.0.0.3", srcToDstBytes: 60n, dstToSrcBytes: 0n, dstToSrcPackets: 0n }),
        f({ communityId: "1:s2", srcAddr: "8.8.8.8", dstAddr: "10.0.0.1", l7: "DNS", l7Category: "Network" }),
        // No Community ID: keyed by 5-tuple and VLAN.
        f({ communityId: "", srcPort: 5000, vlan: 7, endReason: ACTIVE, srcToDstBytes: 7n }),
      ],
    ],
    [
      N1,
      [
        f({ communityId: "1:long", srcToDstBytes: 2000n, srcToDstPackets: 20n, endReason: ACTIVE }),
        f({ communityId: "", srcPort: 5000, vlan: 7, srcToDstBytes: 3n, endReason: pb.EndReason.END_REASON_IDLE }),
        // Same 5-tuple, other VLAN: another flow.
        f({ communityId: "", srcPort: 5000, vlan: 8, srcToDstBytes: 5n }),
      ],
    ],
    [
      // The same Community ID from another node is another flow.
      N2,
      [f({ communityId: "1:long", srcAddr: "10.0.0.9", endReason: ACTIVE })],
    ],
    [
      N1,
      [
        f({ communityId: "1:long", srcToDstBytes: 400n, srcToDstPackets: 4n, dstToSrcBytes: 9000n, endReason: FIN }),
        // After the final record, the same ID starts a new flow.
        f({ communityId: "1:long", srcToDstBytes: 1n, endReason: ACTIVE }),
        f({
          communityId: "1:v6",
          srcAddr: "fd00::1",
          dstAddr: "2001:db8::80",
          ipVersion: 6,
          srcToDstBytes: 18446744073709551615n,
        }),
      ],
    ],
  ];
}

describe("LiveState host accounting", () => {
  it("matches a reference exactly, continuations of active flows counted once", () => {
    const batches = handBuiltBatches();
    const { s } = state();
    for (const [o, b] of batches) s.applyBatch(b, o);
    const ref = reference(batches);
    const page = s.hosts(hostQuery({ limit: 1000 }));
    assert.equal(page.total, ref.hosts.size);
    for (const h of page.items) {
      const r = ref.hosts.get(h.ip);
      assert.ok(r, `unexpected host ${h.ip}`);
      assert.deepEqual(
        {
          bytesSent: h.bytesSent,
          bytesRcvd: h.bytesRcvd,
          packetsSent: h.packetsSent,
          packetsRcvd: h.packetsRcvd,
          flowsAsClient: h.flowsAsClient,
          flowsAsServer: h.flowsAsServer,
        },
        r,
        h.ip,
      );
    }
    const t = s.totals();
    assert.equal(t.flows, ref.flows);
    assert.equal(t.records, 11);
    assert.equal(t.batches, 4);
    // Spelled out for the host at the heart of it: 10.0.0.1 is the client of "long" (one flow in
    // three records, then a second one), s1, the two 5-tuple flows; the server of s2.
    const h1 = s.host("10.0.0.1");
    assert.ok(h1);
    assert.equal(h1.flowsAsClient, 5);
    assert.equal(h1.flowsAsServer, 1);
    assert.equal(h1.bytesSent, 1000 + 60 + 7 + 2000 + 3 + 5 + 400 + 1 + 100);
    assert.equal(h1.local, true);
    assert.equal(h1.network, "10.0.0.0/8");
    assert.deepEqual(h1.nodes, ["node-1"]);
    const far = s.host("8.8.8.8");
    assert.equal(far?.local, false);
    assert.equal(far?.network, undefined);
  });

  it("matches the reference on a random stream of interleaved long and short flows", () => {
    const random = rng(11);
    const open: Array<{ origin: FlowOrigin; id: string; src: string; dst: string }> = [];
    const batches: Array<[FlowOrigin, pb.Flow[]]> = [];
    for (let b = 0; b < 200; b++) {
      const origin = random() < 0.5 ? N1 : N2;
      const batch: pb.Flow[] = [];
      for (let i = 0; i < 50; i++) {
        const bytes = (n: number) => BigInt(Math.floor(random() * n));
        const mine = open.filter((o) => o.origin === origin);
        if (mine.length > 0 && random() < 0.4) {
          const o = mine[Math.floor(random() * mine.length)] as (typeof mine)[number];
          const end = random() < 0.5;
          if (end) open.splice(open.indexOf(o), 1);
          batch.push(
            testFlow({
              communityId: o.id,
              srcAddr: o.src,
              dstAddr: o.dst,
              srcToDstBytes: bytes(1e9),
              srcToDstPackets: bytes(1e6),
              dstToSrcBytes: bytes(1e9),
              dstToSrcPackets: bytes(1e6),
              endReason: end ? FIN : ACTIVE,
            }),
          );
        } else {
          const id = `1:${b}-${i}`;
          const src = `10.1.${Math.floor(random() * 4)}.${Math.floor(random() * 50)}`;
          const dst = random() < 0.5 ? `192.0.2.${Math.floor(random() * 20)}` : `10.2.0.${Math.floor(random() * 20)}`;
          const active = random() < 0.3;
          if (active) open.push({ origin, id, src, dst });
          batch.push(
            testFlow({
              communityId: id,
              srcAddr: src,
              dstAddr: dst,
              srcToDstBytes: bytes(1e6),
              srcToDstPackets: bytes(1e3),
              dstToSrcBytes: bytes(1e6),
              dstToSrcPackets: bytes(1e3),
              endReason: active ? ACTIVE : FIN,
            }),
          );
        }
      }
      batches.push([origin, batch]);
    }
    const { s } = state();
    for (const [o, b] of batches) s.applyBatch(b, o);
    const ref = reference(batches);
    const got = s.hosts(hostQuery({ limit: 10_000, sort: "ip", order: "asc" }));
    assert.equal(got.total, ref.hosts.size);
    for (const h of got.items) {
      const { ip, bytesSent, bytesRcvd, packetsSent, packetsRcvd, flowsAsClient, flowsAsServer } = h;
      assert.deepEqual(
        { bytesSent, bytesRcvd, packetsSent, packetsRcvd, flowsAsClient, flowsAsServer },
        ref.hosts.get(ip),
        ip,
      );
    }
    assert.equal(s.totals().flows, ref.flows);
    assert.ok(ref.flows < 200 * 50, "the stream must contain continuations for this test to mean anything");
  });

  it("keeps per-host applications, peers, retransmits and latency", () => {
    const { s } = state();
    s.applyBatch(
      [
        testFlow({ communityId: "a", l7: "TLS.Google", srcRetransmits: 2, dstRetransmits: 5, clientNwLatencyUs: 100n }),
        testFlow({ communityId: "b", l7: "TLS.Google", clientNwLatencyUs: 300n, serverNwLatencyUs: 50n }),
        testFlow({ communityId: "c", l7: "", l7Category: "", dstAddr: "10.0.0.3" }),
      ],
      N1,
    );
    const h = s.host("10.0.0.1");
    assert.ok(h);
    assert.deepEqual(h.applications, [
      { name: "TLS.Google", category: "Web", bytes: 400, packets: 4, flows: 2 },
      { name: "Unknown", category: "Unspecified", bytes: 200, packets: 2, flows: 1 },
    ]);
    assert.deepEqual(h.peers, [
      { ip: "10.0.0.2", bytes: 400, packets: 4, flows: 2 },
      { ip: "10.0.0.3", bytes: 200, packets: 2, flows: 1 },
    ]);
    assert.equal(h.retransmits, 2);
    assert.equal(h.meanClientNwLatencyUs, 200);
    assert.equal(h.meanServerNwLatencyUs, undefined);
    const server = s.host("10.0.0.2");
    assert.equal(server?.retransmits, 5);
    assert.equal(server?.meanServerNwLatencyUs, 50);
    assert.equal(s.host("10.9.9.9"), undefined);
  });
});

describe("LiveState aggregates", () => {
  it("counts applications, categories, protocols and networks", () => {
    const { s } = state();
    s.applyBatch(
      [
        testFlow({ communityId: "1", l7: "DNS", l7Category: "Network", proto: 17, dstAddr: "192.0.2.53" }),
        testFlow({ communityId: "2", l7: "DNS", l7Category: "Network", proto: 17, endReason: ACTIVE }),
        testFlow({ communityId: "2", l7: "DNS", l7Category: "Network", proto: 17 }),
        testFlow({ communityId: "3", l7: "HTTP", l7Category: "Web", srcToDstBytes: 1000n }),
      ],
      N1,
    );
    assert.deepEqual(s.applications(), [
      { name: "HTTP", category: "Web", bytes: 1100, packets: 2, flows: 1, hosts: 2 },
      { name: "DNS", category: "Network", bytes: 600, packets: 6, flows: 2, hosts: 3 },
    ]);
    assert.deepEqual(s.categories(), [
      { name: "Web", bytes: 1100, packets: 2, flows: 1 },
      { name: "Network", bytes: 600, packets: 6, flows: 2 },
    ]);
    assert.deepEqual(s.protocols(), [
      { proto: 6, name: "TCP", bytes: 1100, packets: 2, flows: 1 },
      { proto: 17, name: "UDP", bytes: 600, packets: 6, flows: 2 },
    ]);
    const [n10, n6] = s.networks();
    // A flow between two hosts of one network is one flow of it; bytes count on both sides.
    assert.deepEqual(n10, {
      cidr: "10.0.0.0/8",
      hosts: 2,
      // To 192.0.2.53 (one side local), "2" in two records (both sides), "3" (both sides).
      bytesSent: 100 + 400 + 1100,
      bytesRcvd: 100 + 400 + 1100,
      packetsSent: 1 + 4 + 2,
      packetsRcvd: 1 + 4 + 2,
      flows: 3,
    });
    assert.deepEqual(n6, {
      cidr: "fd00::/8",
      hosts: 0,
      bytesSent: 0,
      bytesRcvd: 0,
      packetsSent: 0,
      packetsRcvd: 0,
      flows: 0,
    });
  });

  it("counts nodes with their agent ids, records and flows", () => {
    const { s, clock } = state();
    s.applyBatch([testFlow({ communityId: "x", endReason: ACTIVE })], N1);
    clock.advance(5000);
    s.applyBatch([testFlow({ communityId: "x" })], { node: "node-1", agentId: "agent-a2" });
    s.applyBatch([], N2);
    assert.deepEqual(s.nodes(), [
      {
        node: "node-1",
        agentIds: ["agent-a", "agent-a2"],
        batches: 2,
        records: 2,
        flows: 1,
        bytes: 400,
        packets: 4,
        firstSeenMs: T0,
        lastSeenMs: T0 + 5000,
      },
      {
        node: "node-2",
        agentIds: ["agent-b"],
        batches: 1,
        records: 0,
        flows: 0,
        bytes: 0,
        packets: 0,
        firstSeenMs: T0 + 5000,
        lastSeenMs: T0 + 5000,
      },
    ]);
  });

  it("accounts collected records to their exporter and interfaces", () => {
    const { s } = state();
    const collected = (p: Partial<pb.Flow>) =>
      testFlow({
        exporter: "192.0.2.1",
        exportVersion: pb.ExportVersion.EXPORT_VERSION_IPFIX,
        dstToSrcBytes: 0n,
        dstToSrcPackets: 0n,
        srcToDstBytes: 1000n,
        srcToDstPackets: 2n,
        ...p,
      });
    s.applyBatch(
      [
        collected({ communityId: "a", inIf: 1, outIf: 2, l7: "HTTP" }),
        collected({ communityId: "b", inIf: 2, outIf: 1, l7: "DNS", srcToDstBytes: 10n }),
        collected({ communityId: "c", inIf: 1, outIf: 0, exportVersion: pb.ExportVersion.EXPORT_VERSION_SFLOW_V5 }),
        collected({ communityId: "d", exporter: "192.0.2.2", inIf: 7 }),
        testFlow({ communityId: "e", inIf: 1 }),
      ],
      N1,
    );
    const [e1, e2] = s.exporters();
    assert.deepEqual(e1 && { ...e1, firstSeenMs: 0, lastSeenMs: 0 }, {
      exporter: "192.0.2.1",
      exportVersions: ["10", "sflow5"],
      flows: 3,
      bytes: 2010,
      packets: 6,
      interfaces: 2,
      firstSeenMs: 0,
      lastSeenMs: 0,
    });
    assert.equal(e2?.exporter, "192.0.2.2");
    const ifs = s.interfaces("192.0.2.1");
    assert.ok(ifs);
    assert.deepEqual(
      ifs.map((i) => [i.ifIndex, i.bytesIn, i.bytesOut, i.packetsIn, i.packetsOut, i.flowsIn, i.flowsOut]),
      [
        [1, 2000, 10, 4, 2, 2, 1],
        [2, 10, 1000, 2, 2, 1, 1],
      ],
    );
    assert.deepEqual(ifs[0]?.topApplications, [
      { name: "HTTP", bytes: 1000 },
      { name: "TLS", bytes: 1000 },
      { name: "DNS", bytes: 10 },
    ]);
    assert.equal(s.interfaces("203.0.113.1"), undefined);

    const counters = {
      inOctets: 1,
      outOctets: 2,
      inPackets: 3,
      outPackets: 4,
      inErrors: 0,
      outErrors: 0,
      inDiscards: 0,
      outDiscards: 0,
      speedBps: 1e9,
      operUp: true,
      atMs: T0,
    };
    s.applyInterfaceCounters("192.0.2.1", 2, counters);
    s.applyInterfaceCounters("192.0.2.9", 3, counters);
    assert.deepEqual(s.interfaces("192.0.2.1")?.[1]?.counters, counters);
    assert.equal(s.interfaces("192.0.2.9")?.[0]?.ifIndex, 3);
  });
});

describe("LiveState caps and evictions", () => {
  it("evicts the least recently seen host and keeps dependent counts right", () => {
    const { s } = state({ maxHosts: 3 });
    const f = (id: string, src: string, dst: string) => testFlow({ communityId: id, srcAddr: src, dstAddr: dst });
    s.applyBatch([f("1", "10.0.0.1", "10.0.0.2")], N1);
    s.applyBatch([f("2", "10.0.0.3", "10.0.0.1")], N1);
    // Table: 2, 3, 1 (least to most recent). A new host evicts 10.0.0.2.
    s.applyBatch([f("3", "10.0.0.4", "10.0.0.1")], N1);
    assert.equal(s.host("10.0.0.2"), undefined);
    assert.deepEqual(
      s.hosts(hostQuery({ sort: "ip", order: "asc" })).items.map((h) => h.ip),
      ["10.0.0.1", "10.0.0.3", "10.0.0.4"],
    );
    // 10.0.0.3 is now the least recently seen.
    s.applyBatch([f("4", "10.0.0.5", "10.0.0.4")], N1);
    assert.equal(s.host("10.0.0.3"), undefined);
    assert.equal(s.totals().hostsEvicted, 2);
    assert.equal(s.networks()[0]?.hosts, 3);
    assert.equal(s.applications()[0]?.hosts, 3);
    const hosts = s.structures().find((x) => x.name === "hosts");
    assert.deepEqual([hosts?.entries, hosts?.capacity, hosts?.evictions], [3, 3, 2]);
    // An evicted host comes back with fresh counters.
    s.applyBatch([f("5", "10.0.0.2", "10.0.0.5")], N1);
    assert.equal(s.host("10.0.0.2")?.flowsAsServer, 0);
    assert.equal(s.host("10.0.0.2")?.flowsAsClient, 1);
  });

  it("caps peers and applications per host, the rest counted as other", () => {
    const { s } = state({ maxPeersPerHost: 2 });
    const batch = [1, 2, 3, 4].map((i) =>
      testFlow({ communityId: `${i}`, dstAddr: `10.0.1.${i}`, l7: `App${i}`, srcToDstBytes: BigInt(i * 1000) }),
    );
    s.applyBatch(batch, N1);
    const h = s.host("10.0.0.1");
    assert.ok(h);
    assert.deepEqual(
      h.peers.map((p) => p.ip),
      ["10.0.1.2", "10.0.1.1"],
    );
    assert.deepEqual(h.otherPeers, { bytes: 3100 + 4100, packets: 4, flows: 2 });
    assert.deepEqual(
      h.applications.map((a) => a.name),
      ["App2", "App1"],
    );
    assert.deepEqual(h.otherApplications, { bytes: 7200, packets: 4, flows: 2 });
    // Exact all the same: named plus other is everything.
    const sum = (xs: Array<{ bytes: number }>) => xs.reduce((a, x) => a + x.bytes, 0);
    assert.equal(sum(h.peers) + h.otherPeers.bytes, h.bytesSent + h.bytesRcvd);
  });

  it("caps applications, nodes, exporters and interfaces", () => {
    const { s } = state({ maxApplications: 2, maxNodes: 2, maxExporters: 1, maxInterfacesPerExporter: 1 });
    const recs = ["A", "B", "C", "D"].map((l7, i) =>
      testFlow({
        communityId: l7,
        l7,
        l7Category: `Cat${l7}`,
        exporter: i < 3 ? "192.0.2.1" : "192.0.2.2",
        exportVersion: 9,
        inIf: i + 1,
      }),
    );
    s.applyBatch(recs, N1);
    s.applyBatch([], N2);
    s.applyBatch([], { node: "node-3", agentId: "c" });
    assert.deepEqual(
      s.applications().map((a) => [a.name, a.flows]),
      [
        ["(other)", 2],
        ["A", 1],
        ["B", 1],
      ],
    );
    assert.deepEqual(
      s.categories().map((c) => [c.name, c.flows]),
      [
        ["(other)", 2],
        ["CatA", 1],
        ["CatB", 1],
      ],
    );
    assert.deepEqual(
      s.nodes().map((n) => n.node),
      ["node-2", "node-3"],
    );
    assert.deepEqual(
      s.exporters().map((e) => e.exporter),
      ["192.0.2.2"],
    );
    assert.equal(s.interfaces("192.0.2.2")?.length, 1);
    const by = Object.fromEntries(s.structures().map((x) => [x.name, x]));
    assert.equal(by.applications?.overflow, 2);
    assert.equal(by.nodes?.evictions, 1);
    assert.equal(by.exporters?.evictions, 1);
    assert.equal(by.interfaces?.overflow, 2);
    for (const x of s.structures()) assert.ok(x.entries <= x.capacity, `${x.name}: ${x.entries} > ${x.capacity}`);
  });

  it("bounds active flows: the oldest is evicted and its next record counts as a new flow", () => {
    const { s } = state({ maxActiveFlows: 2 });
    for (const id of ["a", "b", "c"]) s.applyBatch([testFlow({ communityId: id, endReason: ACTIVE })], N1);
    assert.deepEqual(
      s.flows(flowQuery({ state: "active", sort: "firstSeen" })).items.map((f) => f.flow.communityId),
      ["b", "c"],
    );
    s.applyBatch([testFlow({ communityId: "a" }), testFlow({ communityId: "b" })], N1);
    assert.equal(s.totals().flows, 4);
    const active = s.structures().find((x) => x.name === "active_flows");
    assert.deepEqual([active?.entries, active?.evictions], [1, 1]);
  });

  it("expires active flows after activeFlowTtlMs into the ended ring", () => {
    const { s, clock } = state({ activeFlowTtlMs: 60_000 });
    s.applyBatch([testFlow({ communityId: "old", endReason: ACTIVE })], N1);
    clock.advance(30_000);
    s.applyBatch([testFlow({ communityId: "new", endReason: ACTIVE })], N1);
    clock.advance(30_000);
    const page = s.flows(flowQuery({ sort: "firstSeen" }));
    assert.deepEqual(page.items.map((f) => [f.flow.communityId, f.state]).sort(), [
      ["new", "active"],
      ["old", "ended"],
    ]);
    assert.equal(s.structures().find((x) => x.name === "active_flows")?.expirations, 1);
    // Its late final record is a new flow now.
    s.applyBatch([testFlow({ communityId: "old" })], N1);
    assert.equal(s.totals().flows, 3);
  });

  it("keeps the last maxRecentFlows ended flows", () => {
    const { s } = state({ maxRecentFlows: 3 });
    s.applyBatch(
      ["a", "b", "c", "d", "e"].map((id, i) => testFlow({ communityId: id, srcToDstBytes: BigInt(i) })),
      N1,
    );
    const p = s.flows(flowQuery({ state: "ended", sort: "bytes", order: "asc" }));
    assert.deepEqual(
      p.items.map((f) => f.flow.communityId),
      ["c", "d", "e"],
    );
    assert.equal(s.structures().find((x) => x.name === "recent_flows")?.evictions, 2);
  });

  it("rejects a configuration that would not bound anything", () => {
    assert.throws(() => state({ maxHosts: 1 }), StateConfigError);
    assert.throws(() => state({ topKCapacity: 0 }), StateConfigError);
    assert.throws(() => state({ maxActiveFlows: Number.NaN }), StateConfigError);
    assert.throws(() => state({ maxRecentFlows: 1.5 }), StateConfigError);
  });
});

describe("LiveState queries", () => {
  function populated() {
    const { s, clock } = state();
    s.applyBatch(
      [
        testFlow({ communityId: "web1", srcAddr: "10.0.0.1", dstAddr: "93.184.216.34", l7: "TLS.Google" }),
        testFlow({
          communityId: "web2",
          srcAddr: "10.0.0.2",
          dstAddr: "93.184.216.34",
          l7: "HTTP",
          srcToDstBytes: 5000n,
          endReason: ACTIVE,
        }),
        testFlow({ communityId: "dns", srcAddr: "10.0.0.1", dstAddr: "10.0.0.53", l7: "DNS", proto: 17 }),
      ],
      N1,
    );
    clock.advance(60_000);
    s.applyBatch(
      [
        testFlow({
          communityId: "ssh",
          srcAddr: "fd00::5",
          dstAddr: "10.0.0.1",
          l7: "SSH",
          srcToDstBytes: 300n,
          firstSeenMs: BigInt(T0 + 50_000),
          lastSeenMs: BigInt(T0 + 55_000),
        }),
      ],
      N2,
    );
    return { s, clock };
  }

  it("filters, sorts and pages hosts", () => {
    const { s } = populated();
    const ips = (q: Partial<HostQuery>) => s.hosts(hostQuery(q)).items.map((h) => h.ip);
    assert.deepEqual(ips({ local: false }), ["93.184.216.34"]);
    assert.deepEqual(ips({ network: "10.0.0.0/30", sort: "ip", order: "asc" }), ["10.0.0.1", "10.0.0.2"]);
    assert.deepEqual(ips({ network: "fd00::5" }), ["fd00::5"]);
    assert.deepEqual(ips({ application: "TLS", sort: "ip", order: "asc" }), ["10.0.0.1", "93.184.216.34"]);
    assert.deepEqual(ips({ application: "TLS.Google", sort: "ip", order: "asc" }), ["10.0.0.1", "93.184.216.34"]);
    assert.deepEqual(ips({ node: "node-2", sort: "ip", order: "asc" }), ["10.0.0.1", "fd00::5"]);
    assert.deepEqual(ips({ sinceMs: T0 + 1 }), ["10.0.0.1", "fd00::5"]);
    assert.deepEqual(ips({ untilMs: T0, sort: "ip", order: "asc" }), [
      "10.0.0.1",
      "10.0.0.2",
      "10.0.0.53",
      "93.184.216.34",
    ]);
    // 10.0.0.1 and fd00::5 both sent 300: ties go by address.
    assert.deepEqual(ips({ sort: "bytesSent", limit: 3 }), ["10.0.0.2", "10.0.0.1", "fd00::5"]);
    assert.deepEqual(ips({ sort: "flows", limit: 1 }), ["10.0.0.1"]);
    assert.deepEqual(ips({ sort: "packets", order: "asc", limit: 4 }), [
      "10.0.0.2",
      "10.0.0.53",
      "fd00::5",
      "93.184.216.34",
    ]);
    const all = ips({ sort: "bytesRcvd" });
    const paged = [0, 2, 4].flatMap((offset) => ips({ sort: "bytesRcvd", offset, limit: 2 }));
    assert.deepEqual(paged, all);
    assert.equal(s.hosts(hostQuery({ offset: 4, limit: 2 })).total, 5);
    assert.throws(() => s.hosts(hostQuery({ network: "10.0.0.0/33" })), CidrError);
  });

  it("filters, sorts and pages flows, active and ended", () => {
    const { s } = populated();
    const ids = (q: Partial<FlowQuery>) => s.flows(flowQuery(q)).items.map((f) => f.flow.communityId);
    assert.deepEqual(ids({ state: "active" }), ["web2"]);
    // web1 and dns tie on bytes and on lastSeen: ties go by time received, then by flow key.
    assert.deepEqual(ids({ state: "ended", sort: "bytes", order: "desc" }), ["ssh", "dns", "web1"]);
    assert.deepEqual(ids({ host: "10.0.0.1", sort: "lastSeen", order: "desc" }), ["ssh", "dns", "web1"]);
    assert.deepEqual(ids({ network: "93.184.216.0/24", sort: "bytes" }), ["web2", "web1"]);
    assert.deepEqual(ids({ application: "Google" }), ["web1"]);
    assert.deepEqual(ids({ proto: 17 }), ["dns"]);
    assert.deepEqual(ids({ node: "node-2" }), ["ssh"]);
    assert.deepEqual(ids({ sinceMs: T0 + 50_000 }), ["ssh"]);
    assert.deepEqual(ids({ untilMs: T0 + 10_000, sort: "bytes", order: "asc" }), ["dns", "web1", "web2"]);
    const p = s.flows(flowQuery({ sort: "bytes", offset: 1, limit: 2 }));
    assert.equal(p.total, 4);
    // web2 (5100), ssh (400), dns and web1 (200 each).
    assert.deepEqual(
      p.items.map((f) => f.flow.communityId),
      ["ssh", "dns"],
    );
    const web2 = s.flows(flowQuery({ state: "active" })).items[0];
    assert.equal(web2?.node, "node-1");
    assert.equal(web2?.state, "active");
    assert.equal(web2?.receivedMs, T0);
    assert.equal(web2?.flow.srcToDstBytes, 5000n);
  });

  it("shows a long flow with its counters summed and its first timestamp", () => {
    const { s } = state();
    s.applyBatch(
      [
        testFlow({
          communityId: "l",
          endReason: ACTIVE,
          srcTcpFlags: 0x02,
          srcRetransmits: 1,
          firstSeenMs: 1000n,
          lastSeenMs: 2000n,
        }),
      ],
      N1,
    );
    s.applyBatch(
      [testFlow({ communityId: "l", srcTcpFlags: 0x11, srcRetransmits: 2, firstSeenMs: 2000n, lastSeenMs: 3000n })],
      N1,
    );
    const [f] = s.flows(flowQuery()).items;
    assert.ok(f);
    assert.equal(f.state, "ended");
    assert.equal(f.flow.firstSeenMs, 1000n);
    assert.equal(f.flow.lastSeenMs, 3000n);
    assert.equal(f.flow.srcToDstBytes, 200n);
    assert.equal(f.flow.dstToSrcPackets, 2n);
    assert.equal(f.flow.srcTcpFlags, 0x13);
    assert.equal(f.flow.srcRetransmits, 3);
    assert.equal(f.flow.endReason, FIN);
  });

  it("answers top talkers from the ingest clock, whatever the packet timestamps", () => {
    const { s, clock } = state();
    s.applyBatch(
      [
        testFlow({ communityId: "1", srcToDstBytes: 10_000n, firstSeenMs: 0n, lastSeenMs: 0n }),
        testFlow({ communityId: "2", srcAddr: "10.0.0.3", dstAddr: "10.0.0.4" }),
      ],
      N1,
    );
    assert.deepEqual(s.topTalkers("1m", 2), [
      { ip: "10.0.0.1", bytes: 10_100, error: 0 },
      { ip: "10.0.0.2", bytes: 10_100, error: 0 },
    ]);
    clock.advance(70_000);
    assert.deepEqual(s.topTalkers("1m", 2), []);
    assert.equal(s.topTalkers("5m", 10).length, 4);
    assert.equal(s.topTalkers("1h", 0).length, 0);
    assert.throws(() => s.topTalkers("2m" as "1m", 1), StateQueryError);
  });

  it("picks top-K hosts for metrics by total bytes", () => {
    const { s } = populated();
    // 93.184.216.34: web1 (200) and web2 (5100); 10.0.0.2: web2 only.
    assert.deepEqual(
      s.topHostsForMetrics(2).map((h) => h.ip),
      ["93.184.216.34", "10.0.0.2"],
    );
    assert.equal(s.topHostsForMetrics(100).length, 5);
    assert.equal(s.topHostsForMetrics(0).length, 0);
  });
});

describe("LiveState series", () => {
  it("buckets totals and applications by ingest time", () => {
    const { s, clock } = state();
    s.applyBatch([testFlow({ communityId: "a", l7: "DNS" })], N1);
    clock.advance(5_000);
    s.applyBatch([testFlow({ communityId: "b", endReason: ACTIVE })], N1);
    clock.advance(10_000);
    s.applyBatch([testFlow({ communityId: "b" })], N1);
    const total = s.series({ entity: { kind: "total" }, resolution: "10s" });
    assert.deepEqual(total, [
      { t: T0, bytes: 400, packets: 4, flows: 2 },
      { t: T0 + 10_000, bytes: 200, packets: 2, flows: 0 },
    ]);
    assert.deepEqual(s.series({ entity: { kind: "total" }, resolution: "1m" }), [
      { t: T0, bytes: 600, packets: 6, flows: 2 },
    ]);
    assert.deepEqual(
      s.series({ entity: { kind: "application", name: "DNS" }, resolution: "10s" }).map((p) => p.bytes),
      [200, 0],
    );
    assert.deepEqual(s.series({ entity: { kind: "application", name: "Nope" }, resolution: "1h" }), []);
    assert.deepEqual(
      s.series({ entity: { kind: "total" }, resolution: "10s", sinceMs: T0 + 10_000 }).map((p) => p.t),
      [T0 + 10_000],
    );
    assert.throws(() => s.series({ entity: { kind: "total" }, resolution: "5s" as "10s" }), StateQueryError);
  });

  it("keeps series for the top talkers of the hour, from when they enter the top", () => {
    const { s, clock } = state({ topKSeries: 1 });
    const flow = (id: string, src: string, dst: string, bytes: bigint) =>
      testFlow({
        communityId: id,
        srcAddr: src,
        dstAddr: dst,
        srcToDstBytes: bytes,
        dstToSrcBytes: 0n,
        dstToSrcPackets: 0n,
      });
    s.applyBatch([flow("1", "10.0.0.1", "192.0.2.1", 1_000_000n), flow("2", "10.0.0.2", "192.0.2.1", 1_000_000n)], N1);
    const host = (ip: string) => s.series({ entity: { kind: "host", ip }, resolution: "10s" });
    // Chosen when the minute closes: no series yet, not even after a 10 s bucket.
    clock.advance(50_000);
    s.applyBatch([], N1);
    assert.deepEqual(host("192.0.2.1"), []);
    clock.advance(10_000);
    s.applyBatch([flow("3", "10.0.0.3", "192.0.2.1", 500n)], N1);
    assert.deepEqual(host("192.0.2.1"), [{ t: T0 + 60_000, bytes: 500, packets: 1, flows: 1 }]);
    assert.deepEqual(host("10.0.0.1"), []);
    // A host that overtakes it over the hour replaces it when the next minute closes.
    s.applyBatch([flow("4", "10.0.0.9", "10.0.0.8", 5_000_000n), flow("5", "10.0.0.9", "10.0.0.7", 5_000_000n)], N2);
    clock.advance(10_000);
    s.applyBatch([], N1);
    assert.equal(host("192.0.2.1").length, 2);
    clock.advance(50_000);
    s.applyBatch([], N1);
    assert.deepEqual(host("192.0.2.1"), []);
    assert.deepEqual(host("10.0.0.9"), [{ t: T0 + 120_000, bytes: 0, packets: 0, flows: 0 }]);
    s.applyBatch([flow("6", "10.0.0.9", "10.0.0.8", 7n)], N2);
    assert.deepEqual(host("10.0.0.9"), [{ t: T0 + 120_000, bytes: 7, packets: 1, flows: 1 }]);
    const series = s.structures().find((x) => x.name === "series");
    assert.equal(series?.evictions, 1);
  });
});

describe("LiveState with hostile input", () => {
  it("survives empty, odd and oversized fields without growing or throwing", () => {
    const { s } = state({ maxApplications: 4 });
    const long = "x".repeat(100_000);
    const odd: Array<Partial<pb.Flow>> = [
      { srcAddr: "", dstAddr: "" },
      { srcAddr: "fe80::1%eth0", dstAddr: "fe80::2%25eth0", ipVersion: 6 },
      { srcAddr: long, dstAddr: "not an address" },
      { l7: long, l7Category: long, communityId: long },
      { srcToDstBytes: 18446744073709551615n, dstToSrcBytes: 18446744073709551615n, srcToDstPackets: 2n ** 64n - 1n },
      { srcToDstBytes: -5n, dstToSrcPackets: -1n },
      { proto: 300 },
      { proto: -1 },
      { proto: 255, endReason: pb.EndReason.UNRECOGNIZED },
      { exportVersion: pb.ExportVersion.UNRECOGNIZED, exporter: "", inIf: -1, outIf: 2 ** 40 },
      { exportVersion: 9, exporter: long, inIf: Number.NaN },
      { exportVersion: 9, exporter: "192.0.2.7", inIf: 1.5, outIf: 0xffffffff },
      { srcRetransmits: Number.NaN, clientNwLatencyUs: 2n ** 63n },
      { firstSeenMs: -1n, lastSeenMs: 2n ** 63n },
    ];
    const batch = odd.map((p, i) => testFlow({ communityId: `h${i}`, ...p }));
    s.applyBatch(batch, { node: "", agentId: long });
    s.applyBatch([undefined as unknown as pb.Flow, null as unknown as pb.Flow], { node: long, agentId: "" });
    const t = s.totals();
    assert.equal(t.records, odd.length);
    assert.ok(Number.isFinite(t.bytes) && t.bytes > 3e19, `bytes ${t.bytes}`);
    assert.ok(Number.isFinite(t.packets));
    for (const h of s.hosts(hostQuery({ limit: 1000 })).items) {
      assert.ok(h.ip.length > 0 && h.ip.length <= 64, h.ip);
      assert.ok(Number.isFinite(h.bytesSent) && h.bytesSent >= 0);
    }
    assert.ok(s.host("fe80::1%eth0"));
    assert.equal(s.host(long), undefined);
    for (const a of s.applications()) assert.ok(a.name.length <= 253);
    for (const n of s.nodes()) assert.ok(n.node.length <= 253 && n.agentIds.every((id) => id.length <= 253));
    // Numbers no IP header can carry (300, -1) share slot 256.
    assert.deepEqual(
      s.protocols().map((p) => [p.proto, p.name]),
      [
        [6, "TCP"],
        [256, "invalid"],
        [255, "proto-255"],
      ],
    );
    assert.deepEqual(
      s.exporters().map((e) => e.exporter),
      ["192.0.2.7"],
    );
    assert.deepEqual(
      s.interfaces("192.0.2.7")?.map((i) => i.ifIndex),
      [0xffffffff],
    );
    // Everything queryable still answers.
    const flows = s.flows(flowQuery({ limit: 100 }));
    assert.equal(flows.total, odd.length);
    for (const f of flows.items) assert.ok(typeof f.flow.srcToDstBytes === "bigint");
    s.topTalkers("1h", 10);
    s.series({ entity: { kind: "host", ip: "" }, resolution: "1m" });
    s.applyInterfaceCounters("", 1, {} as never);
    s.applyInterfaceCounters("192.0.2.7", -4, {} as never);
    for (const x of s.structures()) assert.ok(x.entries <= x.capacity, x.name);
  });

  it("holds a clock that steps back to the latest time seen", () => {
    const { s, clock } = state();
    clock.advance(20_000);
    s.applyBatch([testFlow({ communityId: "a" })], N1);
    clock.advance(-15_000);
    s.applyBatch([testFlow({ communityId: "b" })], N1);
    assert.deepEqual(s.series({ entity: { kind: "total" }, resolution: "10s" }).at(-1), {
      t: T0 + 20_000,
      bytes: 400,
      packets: 4,
      flows: 2,
    });
  });
});
