import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type FlowRecord, pb } from "@flowlens/contracts";
import type { ExporterStats, FlowExporter } from "../export/exporter.js";
import type { EncodedBatch } from "../export/queue.js";
import { FlowBatcher } from "./batcher.js";

class Recorder implements FlowExporter {
  readonly name = "recorder";
  batches: EncodedBatch[] = [];
  start() {}
  offer(b: EncodedBatch) {
    this.batches.push(b);
  }
  async stop() {}
  stats() {
    return {} as ExporterStats;
  }
}

const rec = (i: number): FlowRecord => ({
  srcAddr: `10.0.${i >> 8}.${i & 255}`,
  srcPort: 1000 + i,
  dstAddr: "10.1.0.1",
  dstPort: 443,
  proto: 6,
  ipVersion: 4,
  vlan: 0,
  firstSeenMs: 1_700_000_000_000 + i,
  lastSeenMs: 1_700_000_000_100 + i,
  srcToDstPackets: i + 1,
  srcToDstBytes: 60 * (i + 1),
  dstToSrcPackets: 1,
  dstToSrcBytes: 40,
  srcTcpFlags: 2,
  dstTcpFlags: 18,
  l7: "TLS",
  l7Category: "Web",
  srcRetransmits: 0,
  dstRetransmits: 0,
  srcOutOfOrder: 0,
  dstOutOfOrder: 0,
  endReason: "fin",
  communityId: "1:x",
});

const identity = { node: "n1", agentId: "a1", version: "test" };

describe("FlowBatcher", () => {
  it("cuts batches at maxFlows, numbers them from 1 and encodes what it carries", () => {
    const r1 = new Recorder();
    const r2 = new Recorder();
    const b = new FlowBatcher(identity, [r1, r2], { maxFlows: 3, maxDelayMs: 60_000 }, () => 42);
    b.add([0, 1, 2, 3, 4, 5, 6].map(rec));
    b.flush();
    assert.deepEqual(
      r1.batches.map((x) => [x.sequence, x.flows]),
      [
        [1n, 3],
        [2n, 3],
        [3n, 1],
      ],
    );
    assert.equal(r2.batches.length, 3, "every exporter gets every batch");
    assert.equal(r1.batches[0], r2.batches[0], "encoded once, shared");
    const decoded = pb.FlowBatch.decode((r1.batches[1] as EncodedBatch).bytes);
    assert.equal(decoded.sequence, 2n);
    assert.equal(decoded.sentAtMs, 42n);
    assert.deepEqual(decoded.agent, identity);
    assert.deepEqual(
      decoded.flows.map((f) => [f.srcAddr, f.srcToDstBytes]),
      [3, 4, 5].map((i) => [`10.0.0.${i}`, BigInt(60 * (i + 1))]),
    );
    assert.equal(b.flows, 7);
  });
  it("never holds a flow longer than maxDelayMs", async () => {
    const r = new Recorder();
    const b = new FlowBatcher(identity, [r], { maxFlows: 1000, maxDelayMs: 30 });
    b.add([rec(1)]);
    assert.equal(r.batches.length, 0);
    const start = Date.now();
    while (r.batches.length === 0 && Date.now() - start < 2000) await new Promise((res) => setTimeout(res, 5));
    assert.equal(r.batches.length, 1);
    b.flush();
    assert.equal(r.batches.length, 1, "an empty flush sends nothing");
  });
});
