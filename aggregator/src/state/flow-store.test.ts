// flowKeyHash reads a record's key from its bytes when it can (a Community ID, or the addresses'
// text and the numbers' digits) instead of making the key's string: it must be the hash of that
// string exactly, whichever way the record came (encoded batch, collector record, message), or
// continuations of one flow would miss each other in the active set.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pb } from "@flowlens/contracts";
import { FlowRecords, resetProbeFields } from "../collector/flow-records.js";
import { FlowBatchDecoder } from "../ingest/batch-decoder.js";
import { FlowStore, flowKey, flowKeyHash, NOT_HASHED } from "./flow-store.js";
import { HostTable, PREFETCH_GROUP } from "./host-table.js";
import { IngestFlow } from "./ingest-flow.js";
import { prng } from "./testing.js";

function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h | 0;
}

const ADDRESSES = ["10.0.0.1", "192.168.100.255", "fd00::1", "2001:db8::abcd:1", "hôte-ünïcode", "1.2.3.4"];
const PORTS = [0, 1, 9, 10, 99, 100, 443, 1000, 9999, 10000, 65535];

function randomFlow(r: (n: number) => number): pb.Flow {
  return pb.Flow.fromPartial({
    srcAddr: ADDRESSES[r(ADDRESSES.length)],
    dstAddr: ADDRESSES[r(ADDRESSES.length)],
    srcPort: PORTS[r(PORTS.length)],
    dstPort: PORTS[r(PORTS.length)],
    proto: [0, 1, 6, 17, 58, 132, 255][r(7)],
    ipVersion: 4,
    vlan: [0, 1, 42, 4095][r(4)],
    communityId: r(3) === 0 ? `1:${"x".repeat(r(30))}` : r(10) === 0 ? "é".repeat(70) : "",
    endReason: pb.EndReason.END_REASON_ACTIVE,
  });
}

describe("flow key hash", () => {
  it("is the hash of flowKey() for records decoded from bytes and from messages", () => {
    const r = prng(3);
    const flows = Array.from({ length: 3000 }, () => randomFlow(r));
    const bytes = pb.FlowBatch.encode({
      agent: pb.AgentIdentity.fromPartial({ node: "n", agentId: "a" }),
      sequence: 1n,
      sentAtMs: 0n,
      flows,
    }).finish();
    const batch = new FlowBatchDecoder().decode(bytes);
    assert.equal(batch.flows.length, flows.length);
    for (let i = 0; i < flows.length; i++) {
      const f = batch.flows[i] as IngestFlow;
      const key = flowKey(f);
      assert.equal(flowKeyHash(f), fnv(key), key);
      const m = new IngestFlow().fromMessage(flows[i] as pb.Flow);
      assert.equal(flowKeyHash(m), fnv(key), key);
    }
  });

  it("is the hash of flowKey() for the collector's records", () => {
    const r = prng(5);
    const wire = new Uint8Array([10, 0, 0, 1, 255, 255, 255, 255, 0, 0, 0, 0, 32, 1, 13, 184, 0, 0, 0, 0]);
    const records = new FlowRecords();
    for (let i = 0; i < 2000; i++) {
      const f = records.next();
      f.srcPort = PORTS[r(PORTS.length)] as number;
      f.dstPort = PORTS[r(PORTS.length)] as number;
      f.proto = r(256);
      f.ipVersion = 4;
      f.vlan = r(4096);
      f.l7 = "Unknown";
      resetProbeFields(f);
      f.exporter = "192.0.2.1";
      records.commit(f, wire, r(16), r(5) === 0 ? -1 : r(16), r(2) === 0, r(4) === 0 ? "1:abc" : "");
    }
    for (let i = 0; i < records.length; i++) {
      const f = records.records[i] as IngestFlow;
      assert.equal(flowKeyHash(f), fnv(flowKey(f)), flowKey(f));
    }
  });

  // The host table's native resolver makes the hash of each record it reads ahead for (Community
  // ID or 5-tuple); LiveState hands it to the flow store instead of making it again.
  const hosts = new HostTable(64, 16, { created: () => {}, evicted: () => {} });
  it("is made by the native resolver as flowKeyHash makes it", {
    skip: hosts.native ? false : "the native addon is not built (make native)",
  }, () => {
    const r = prng(7);
    const flows = Array.from({ length: 2000 }, () => randomFlow(r));
    // Collected records: no Community ID, addresses' text in the arena, numbers up to uint32.
    const wire = new Uint8Array([10, 0, 0, 1, 255, 255, 255, 255, 0, 0, 0, 0, 32, 1, 13, 184, 0, 0, 0, 0]);
    const records = new FlowRecords();
    for (let i = 0; i < 1000; i++) {
      const f = records.next();
      f.srcPort = PORTS[r(PORTS.length)] as number;
      f.dstPort = r(10) === 0 ? 4294967295 : (PORTS[r(PORTS.length)] as number);
      f.proto = r(256);
      f.ipVersion = 4;
      f.vlan = r(3) === 0 ? r(2 ** 32) : r(4096);
      f.l7 = "Unknown";
      resetProbeFields(f);
      f.exporter = "192.0.2.1";
      records.commit(f, wire, r(16), r(5) === 0 ? -1 : r(16), r(2) === 0, "");
    }
    const decoded = new FlowBatchDecoder().decode(
      pb.FlowBatch.encode({ flows, sequence: 1n, sentAtMs: 0n }).finish(),
    ).flows;
    let madeInC = 0;
    for (const group of [decoded, records.records.slice(0, records.length)]) {
      for (let g = 0; g < group.length; g += PREFETCH_GROUP) {
        const end = Math.min(group.length, g + PREFETCH_GROUP);
        hosts.prefetch(group, g, end, 1);
        for (let i = g; i < end; i++) {
          const f = group[i] as IngestFlow;
          const h = hosts.groupKeyHash(i - g);
          if (h === NOT_HASHED) continue;
          madeInC++;
          assert.equal(h, fnv(flowKey(f)), flowKey(f));
        }
      }
    }
    // All but non-ASCII addresses and over-long or non-ASCII Community IDs.
    assert.ok(madeInC > 2000, `${madeInC} hashes made in C`);
  });
});

describe("addresses of encoded records", () => {
  it("are listed and filtered on for ended flows whose strings were not kept", () => {
    const store = new FlowStore(10, 10, 60_000);
    const decoder = new FlowBatchDecoder();
    const flows = [
      pb.Flow.fromPartial({ srcAddr: "10.0.0.1", dstAddr: "fd00::2", srcPort: 1, dstPort: 2, proto: 6, endReason: 3 }),
      pb.Flow.fromPartial({ srcAddr: "10.0.0.3", dstAddr: "hôte", srcPort: 3, dstPort: 4, proto: 17, endReason: 1 }),
    ];
    const batch = decoder.decode(
      pb.FlowBatch.encode(
        pb.FlowBatch.fromPartial({ sequence: 1n, agent: { agentId: "a", node: "n" }, flows }),
      ).finish(),
    );
    const active = store.begin("n");
    for (const f of batch.flows) store.record("n", active, f, 1000, 1, 1, 1, 1, null, null, f.l7);
    store.end("n");
    const all = store.query({ state: "all", sort: "bytes", order: "desc", offset: 0, limit: 10 });
    assert.deepEqual(all.items.map((x) => [x.flow.srcAddr, x.flow.dstAddr]).sort(), [
      ["10.0.0.1", "fd00::2"],
      ["10.0.0.3", "hôte"],
    ]);
    // Filters read the addresses the ring kept as offsets into the record's bytes.
    for (const [host, want] of [
      ["hôte", "10.0.0.3"],
      ["fd00::2", "10.0.0.1"],
      ["10.0.0.3", "10.0.0.3"],
    ]) {
      const one = store.query({ state: "all", sort: "bytes", order: "desc", offset: 0, limit: 10, host });
      assert.deepEqual(
        one.items.map((x) => x.flow.srcAddr),
        [want],
        host,
      );
    }
  });
});
