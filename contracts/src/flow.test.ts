import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FlowConversionError, type FlowRecord, flowToRecord, recordToFlow } from "./flow.js";
import { Flow, FlowBatch } from "./gen/flowlens/v1/flow.js";

const probeFlow: FlowRecord = {
  srcAddr: "10.0.0.1",
  srcPort: 51234,
  dstAddr: "10.0.0.2",
  dstPort: 443,
  proto: 6,
  ipVersion: 4,
  vlan: 12,
  firstSeenMs: 1_700_000_000_123,
  lastSeenMs: 1_700_000_004_567,
  srcToDstPackets: 12,
  srcToDstBytes: 2_000,
  dstToSrcPackets: 10,
  dstToSrcBytes: 9_000_000_000_000, // past 2^32: must survive the uint64 wire form
  srcTcpFlags: 0x1b,
  dstTcpFlags: 0x1b,
  l7: "TLS.Google",
  l7Category: "Web",
  info: { sni: "www.google.com", ja3c: "abc", risks: ["TLS Certificate Expired"] },
  clientNwLatencyUs: 120,
  serverNwLatencyUs: 0,
  srcRetransmits: 1,
  dstRetransmits: 0,
  srcOutOfOrder: 0,
  dstOutOfOrder: 2,
  endReason: "fin",
  communityId: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
  srcK8s: { node: "n1", namespace: "default", pod: "web-0" },
};

const collectedFlow: FlowRecord = {
  ...probeFlow,
  info: undefined,
  clientNwLatencyUs: undefined,
  serverNwLatencyUs: undefined,
  srcK8s: undefined,
  ipVersion: 6,
  srcAddr: "2001:db8::1",
  dstAddr: "2001:db8::2",
  exporter: "192.0.2.1",
  observationDomain: 7,
  exportVersion: "sflow5",
  samplingRate: 1000,
  rawPackets: 3,
  rawBytes: 4500,
  inIf: 3,
  outIf: 4,
};

function strip<T extends object>(o: T): T {
  return JSON.parse(JSON.stringify(o)) as T;
}

describe("flow record <-> protobuf Flow", () => {
  for (const [name, rec] of [
    ["probe flow", probeFlow],
    ["collected flow", collectedFlow],
  ] as const) {
    it(`round-trips a ${name} through the binary wire form`, () => {
      const bytes = Flow.encode(recordToFlow(rec)).finish();
      const back = flowToRecord(Flow.decode(bytes));
      assert.deepEqual(back, strip(rec));
    });
  }

  it("keeps uint64 counters above 2^53 exact on the wire", () => {
    const f = recordToFlow(probeFlow);
    f.srcToDstBytes = 2n ** 60n + 7n;
    const back = Flow.decode(Flow.encode(f).finish());
    assert.equal(back.srcToDstBytes, 2n ** 60n + 7n);
    assert.throws(() => flowToRecord(back), FlowConversionError);
  });

  it("rejects an IP version that is neither 4 nor 6", () => {
    const f = recordToFlow(probeFlow);
    f.ipVersion = 5;
    assert.throws(() => flowToRecord(f), /ipVersion must be 4 or 6/);
  });

  it("names an unknown application Unknown", () => {
    const f = recordToFlow(probeFlow);
    f.l7 = "";
    assert.equal(flowToRecord(f).l7, "Unknown");
  });

  it("carries agent identity and sequence in a FlowBatch", () => {
    const batch = FlowBatch.encode({
      agent: { node: "node-a", agentId: "a1", version: "0.1.0" },
      sequence: 42n,
      sentAtMs: 1n,
      flows: [recordToFlow(probeFlow), recordToFlow(collectedFlow)],
    }).finish();
    const back = FlowBatch.decode(batch);
    assert.equal(back.sequence, 42n);
    assert.equal(back.agent?.node, "node-a");
    assert.equal(back.flows.length, 2);
  });

  it("fails cleanly on a truncated FlowBatch instead of returning garbage", () => {
    const batch = FlowBatch.encode({ sequence: 1n, sentAtMs: 0n, flows: [recordToFlow(probeFlow)] }).finish();
    assert.throws(() => FlowBatch.decode(batch.subarray(0, batch.length - 5)));
  });
});
