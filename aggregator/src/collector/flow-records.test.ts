// The collector's records carry their pb.Flow as bytes they write themselves: those bytes must
// decode (with ts-proto's pb.Flow.decode, what the API and `flowlens collect` use) to the flow
// the record's numbers say, for every field and range (negative times, counters up to 2^53,
// absent addresses, non-ASCII exporters), and the record's address and Community ID bytes must
// be the strings the message has. Records and buffers are reused batch after batch.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pb } from "@flowlens/contracts";
import { IngestFlow } from "../state/ingest-flow.js";
import { prng } from "../state/testing.js";
import { ipv4Text, ipv6Text } from "./address-text.js";
import { FlowRecords, resetProbeFields } from "./flow-records.js";

/** A number in [0, max], often 0, small or at the edges. */
function num(r: (n: number) => number, max: number): number {
  switch (r(6)) {
    case 0:
      return 0;
    case 1:
      return max;
    case 2:
      return r(200);
    case 3:
      return Math.min(max, r(2 ** 31) * 2 ** 20 + r(2 ** 20));
    default:
      return Math.min(max, r(2 ** 31) * 4 + r(4));
  }
}

const MAX = Number.MAX_SAFE_INTEGER;
const EXPORTERS = ["192.0.2.1", "2001:db8::7", "", "exporter-ünïcode", "x".repeat(300)];

interface Made {
  want: pb.Flow;
}

/** Fills and commits a random record; returns the message it must decode to. */
function addRandom(records: FlowRecords, r: (n: number) => number, wire: Uint8Array): Made {
  const f = records.next();
  const ipv6 = r(3) === 0;
  const srcOff = r(8) === 0 ? -1 : r(wire.length - 16);
  const dstOff = r(8) === 0 ? -1 : r(wire.length - 16);
  const text = (o: number) => (o < 0 ? (ipv6 ? "::" : "0.0.0.0") : ipv6 ? ipv6Text(wire, o) : ipv4Text(wire, o));
  const sign = () => (r(4) === 0 ? -1 : 1);
  f.srcPort = num(r, 65535);
  f.dstPort = num(r, 65535);
  f.proto = num(r, 255);
  f.ipVersion = ipv6 ? 6 : 4;
  f.vlan = num(r, 4095);
  f.firstSeenMs = sign() * num(r, MAX) + 0;
  f.lastSeenMs = sign() * num(r, MAX) + 0;
  f.srcToDstPackets = num(r, MAX);
  f.srcToDstBytes = num(r, MAX);
  f.dstToSrcPackets = num(r, MAX);
  f.dstToSrcBytes = num(r, MAX);
  f.srcTcpFlags = num(r, 255);
  f.dstTcpFlags = num(r, 255);
  f.l7 = ["Unknown", "HTTP", "TLS.Google", "", "A".repeat(64)][r(5)] as string;
  resetProbeFields(f);
  f.endReason = r(6);
  f.exporter = EXPORTERS[r(EXPORTERS.length)] as string;
  f.observationDomain = num(r, 0xffffffff);
  f.exportVersion = [5, 9, 10, 100][r(4)] as number;
  f.samplingRate = num(r, MAX);
  f.rawPackets = num(r, MAX);
  f.rawBytes = num(r, MAX);
  f.inIf = num(r, 0xffffffff);
  f.outIf = num(r, 0xffffffff);
  const cid = r(3) === 0 ? `1:${"abcdefghijklmnopqrstuvwxyz+/=".slice(r(5))}` : "";
  const want = pb.Flow.fromPartial({
    srcAddr: text(srcOff),
    srcPort: f.srcPort,
    dstAddr: text(dstOff),
    dstPort: f.dstPort,
    proto: f.proto,
    ipVersion: f.ipVersion,
    vlan: f.vlan,
    firstSeenMs: BigInt(f.firstSeenMs),
    lastSeenMs: BigInt(f.lastSeenMs),
    srcToDstPackets: BigInt(f.srcToDstPackets),
    srcToDstBytes: BigInt(f.srcToDstBytes),
    dstToSrcPackets: BigInt(f.dstToSrcPackets),
    dstToSrcBytes: BigInt(f.dstToSrcBytes),
    srcTcpFlags: f.srcTcpFlags,
    dstTcpFlags: f.dstTcpFlags,
    l7: f.l7,
    endReason: f.endReason,
    communityId: cid,
    exporter: f.exporter,
    observationDomain: f.observationDomain,
    exportVersion: f.exportVersion,
    samplingRate: BigInt(f.samplingRate),
    rawPackets: BigInt(f.rawPackets),
    rawBytes: BigInt(f.rawBytes),
    inIf: f.inIf,
    outIf: f.outIf,
  });
  records.commit(f, wire, srcOff, dstOff, ipv6, cid);
  return { want };
}

/** What the state reads of a record, which must be what it reads of the decoded message. */
function seen(f: IngestFlow): unknown[] {
  return [
    f.srcAddr,
    f.dstAddr,
    f.srcPort,
    f.dstPort,
    f.proto,
    f.ipVersion,
    f.vlan,
    f.firstSeenMs,
    f.lastSeenMs,
    f.srcToDstPackets,
    f.srcToDstBytes,
    f.dstToSrcPackets,
    f.dstToSrcBytes,
    f.srcTcpFlags,
    f.dstTcpFlags,
    f.l7,
    f.l7Category,
    f.clientNwLatencyUs,
    f.serverNwLatencyUs,
    f.applLatencyUs,
    f.endReason,
    f.communityId,
    f.exporter,
    f.observationDomain,
    f.exportVersion,
    f.samplingRate,
    f.rawPackets,
    f.rawBytes,
    f.inIf,
    f.outIf,
    f.dnsRcode,
    f.riskCount,
    f.addressesValid(),
  ];
}

describe("collector flow records", () => {
  it("decode with pb.Flow.decode to the flow their numbers say, in every range", () => {
    const r = prng(11);
    const wire = new Uint8Array(64).map(() => r(256));
    const records = new FlowRecords();
    for (let round = 0; round < 40; round++) {
      const made: Made[] = [];
      // Enough records that some batches outgrow the encoding buffer.
      const n = round % 10 === 0 ? 3000 : 1 + r(100);
      for (let i = 0; i < n; i++) made.push(addRandom(records, r, wire));
      assert.equal(records.length, n);
      for (let i = 0; i < n; i++) {
        const f = records.records[i] as IngestFlow;
        const msg = f.toMessage();
        assert.deepEqual(msg, (made[i] as Made).want, `round ${round} record ${i}`);
        assert.deepEqual(seen(f), seen(new IngestFlow().fromMessage(msg)), `round ${round} record ${i}`);
        // The address bytes are where the host table and the flow key read them.
        assert.equal(
          Buffer.from((f.buf as Uint8Array).subarray(f.srcAddrStart, f.srcAddrEnd)).toString("latin1"),
          msg.srcAddr,
        );
      }
      assert.deepEqual(
        records.messages(),
        made.map((m) => m.want),
      );
      records.clear();
      assert.equal(records.length, 0);
    }
  });

  it("keeps every record of a batch intact when the buffer runs out mid-batch", () => {
    const records = new FlowRecords();
    const wire = new Uint8Array(16).fill(0xab);
    const want: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const f = records.next();
      f.srcPort = i;
      f.dstPort = 443;
      f.proto = 6;
      f.ipVersion = 6;
      f.vlan = 0;
      f.firstSeenMs = i;
      f.lastSeenMs = i + 1;
      f.srcToDstPackets = 1;
      f.srcToDstBytes = 100 + i;
      f.dstToSrcPackets = 0;
      f.dstToSrcBytes = 0;
      f.srcTcpFlags = 0;
      f.dstTcpFlags = 0;
      f.l7 = "Unknown";
      resetProbeFields(f);
      f.endReason = 0;
      f.exporter = "192.0.2.1";
      f.observationDomain = 7;
      f.exportVersion = 10;
      f.samplingRate = 1;
      f.rawPackets = 1;
      f.rawBytes = 100 + i;
      f.inIf = 1;
      f.outIf = 2;
      records.commit(f, wire, 0, -1, true, "");
      want.push(`${i} ${100 + i}`);
    }
    const got = records.messages().map((m) => `${m.srcPort} ${m.srcToDstBytes}`);
    assert.deepEqual(got, want);
    const bufs = new Set(records.records.slice(0, records.length).map((f) => f.buf));
    assert.ok(bufs.size > 1, "the batch spans more than one buffer");
    assert.equal(records.messages()[4999]?.srcAddr, "abab:abab:abab:abab:abab:abab:abab:abab");
    assert.equal(records.messages()[4999]?.dstAddr, "::");
  });
});
