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
/** Numeric fields the longest record sets to -2^53 (a varint of 10 bytes each). */
const NEGATIVE_FIELDS = [
  "srcPort",
  "dstPort",
  "proto",
  "ipVersion",
  "vlan",
  "firstSeenMs",
  "lastSeenMs",
  "srcToDstPackets",
  "srcToDstBytes",
  "dstToSrcPackets",
  "dstToSrcBytes",
  "srcTcpFlags",
  "dstTcpFlags",
] as const;
/** The same, of the collector's fields. */
const NEGATIVE_COLLECTED_FIELDS = ["samplingRate", "rawPackets", "rawBytes", "inIf", "outIf"] as const;
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

const nativeSkip = new FlowRecords(true).native ? false : "the native addon is not built (make native)";

for (const native of [false, true]) {
  describe(`collector flow records (${native ? "C" : "JS"} encoding)`, { skip: native && nativeSkip }, () => {
    it("decode with pb.Flow.decode to the flow their numbers say, in every range", () => {
      const r = prng(11);
      const wire = new Uint8Array(64).map(() => r(256));
      const records = new FlowRecords(native);
      assert.equal(records.native, native);
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

    it("stay within the room reserved per record, for the longest record there can be", () => {
      // Negative numbers take 10 bytes as varints, 39-character IPv6 texts, the longest strings.
      const records = new FlowRecords(native);
      const wire = new Uint8Array(32).fill(0xfe);
      for (let i = 0; i < 600; i++) {
        const f = records.next();
        for (const k of NEGATIVE_FIELDS) f[k] = -(2 ** 53);
        f.l7 = "L".repeat(64);
        resetProbeFields(f);
        f.endReason = 2 ** 32 - 1;
        f.exporter = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";
        f.observationDomain = 2 ** 32 - 1;
        f.exportVersion = 2 ** 32 - 1;
        for (const k of NEGATIVE_COLLECTED_FIELDS) f[k] = -(2 ** 53);
        records.commit(f, wire, 0, 16, true, `1:${"c".repeat(28)}=`);
      }
      const strings = 64 + 45 + 31;
      const lengths = records.records.slice(0, records.length).map((f) => f.end - f.start);
      // All of the bound (327, flow-records.ts FIXED_MAX) but 4 bytes of each string's length.
      assert.deepEqual(new Set(lengths), new Set([327 + strings - 3 * 4]));
    });

    it("keeps every record of a batch intact when the buffer runs out mid-batch", () => {
      const records = new FlowRecords(native);
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
}

describe("collector flow records: the C encoding", { skip: nativeSkip }, () => {
  it("writes the bytes the JS encoding writes, record for record", () => {
    const r = prng(23);
    // Random bytes, and groups an IPv6 text shortens (zero runs, leading zeros, IPv4-mapped).
    const groups = [
      0, 0, 0, 0, 0, 0, 0, 0x10, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 0, 5, 0, 0x0f,
    ];
    const wires = [
      new Uint8Array(64).map(() => r(256)),
      Uint8Array.from({ length: 96 }, (_, i) => groups[i % 28] as number),
    ];
    const js = new FlowRecords(false);
    const c = new FlowRecords(true);
    for (let round = 0; round < 30; round++) {
      // Batches whose records come from several sources (data sets released from the pending
      // buffer), past the listing limit, with strings that outgrow the strings buffer.
      const n = round % 7 === 0 ? 2000 : 1 + r(300);
      for (let i = 0; i < n; i++) {
        const wire = wires[r(3) === 0 ? 1 : 0] as Uint8Array;
        const s = r(1 << 30);
        addRandom(js, prng(s), wire);
        addRandom(c, prng(s), wire);
      }
      const a = js.records;
      const b = c.records;
      for (let i = 0; i < n; i++) {
        const x = a[i] as IngestFlow;
        const y = b[i] as IngestFlow;
        const bytes = (f: IngestFlow) => Buffer.from((f.buf as Uint8Array).subarray(f.start, f.end)).toString("hex");
        assert.equal(bytes(y), bytes(x), `round ${round} record ${i}`);
        assert.deepEqual(seen(y), seen(x), `round ${round} record ${i}`);
        assert.equal(y.end - y.start, x.end - x.start);
      }
      js.clear();
      c.clear();
    }
  });

  it("computes the Community IDs JS computes, as it writes the records", () => {
    const r = prng(41);
    const js = new FlowRecords(false);
    const c = new FlowRecords(true);
    const wire = new Uint8Array(64).map(() => r(256));
    // Equal addresses and ports too: the spec's ordering then has ties to break.
    wire.copyWithin(32, 0, 16);
    const protos = [1, 6, 17, 58, 132, 47, 0, 255];
    const n = 3000;
    assert.equal(typeof c.communityId(wire, 0, 32, false, 6, 1, 2), "number", "the C encoder hashes");
    assert.equal(typeof js.communityId(wire, 0, 32, false, 6, 1, 2), "string");
    for (const records of [js, c]) {
      const q = prng(7);
      for (let i = 0; i < n; i++) {
        const ipv6 = q(2) === 0;
        const srcOff = q(4) === 0 ? 0 : q(wire.length - 16);
        const dstOff = q(4) === 0 ? 32 : q(wire.length - 16);
        const proto = protos[q(protos.length)] as number;
        const icmp = proto === 1 || proto === 58;
        // Decoders give ICMP's type and code in the port places; some types have a counterpart.
        const sport = icmp ? ([0, 8, 3, 128, 129, 135, 255][q(7)] as number) : q(65536);
        const dport = icmp ? q(256) : q(4) === 0 ? sport : q(65536);
        const f = records.next();
        f.srcPort = sport;
        f.dstPort = dport;
        f.proto = proto;
        f.ipVersion = ipv6 ? 6 : 4;
        f.l7 = "";
        resetProbeFields(f);
        f.exporter = "192.0.2.1";
        records.commit(
          f,
          wire,
          srcOff,
          dstOff,
          ipv6,
          records.communityId(wire, srcOff, dstOff, ipv6, proto, sport, dport),
        );
      }
    }
    const want = js.records.slice(0, n).map((f) => f.communityId);
    assert.ok(want.every((x) => /^1:[A-Za-z0-9+/]{27}=$/.test(x)));
    assert.ok(new Set(want).size > n / 2, "distinct flows hash apart");
    assert.deepEqual(
      c.records.slice(0, n).map((f) => f.communityId),
      want,
    );
    for (let i = 0; i < n; i++) {
      const bytes = (f: IngestFlow) => Buffer.from((f.buf as Uint8Array).subarray(f.start, f.end)).toString("hex");
      assert.equal(bytes(c.records[i] as IngestFlow), bytes(js.records[i] as IngestFlow), `record ${i}`);
    }
  });

  it("turns numbers no decoder makes into the bytes JS makes of them", () => {
    const odd = [
      -0,
      0.5,
      127.5,
      2 ** 32 + 0.5,
      -1.5,
      -(2 ** 40) - 0.25,
      2 ** 53 + 2,
      -(2 ** 60),
      NaN,
      Infinity,
      -Infinity,
    ];
    const wire = new Uint8Array(16).fill(7);
    const js = new FlowRecords(false);
    const c = new FlowRecords(true);
    for (const v of odd) {
      for (const records of [js, c]) {
        const f = records.next();
        f.srcPort = v;
        f.proto = 6;
        f.ipVersion = 4;
        f.firstSeenMs = v;
        f.lastSeenMs = -v;
        f.srcToDstBytes = v;
        f.l7 = "";
        f.endReason = v;
        f.exporter = "x";
        f.observationDomain = v;
        f.exportVersion = v;
        f.samplingRate = v;
        f.inIf = v;
        records.commit(f, wire, 0, 4, false, "");
      }
    }
    const bytes = (f: IngestFlow) => Buffer.from((f.buf as Uint8Array).subarray(f.start, f.end)).toString("hex");
    assert.deepEqual(c.records.slice(0, c.length).map(bytes), js.records.slice(0, js.length).map(bytes));
  });

  it("writes an address outside its datagram as the unspecified one, never reading past it", () => {
    const records = new FlowRecords(true);
    const f = records.next();
    f.srcPort = 1;
    f.ipVersion = 4;
    f.l7 = "";
    f.exporter = "";
    f.exportVersion = 10;
    records.commit(f, new Uint8Array(6), 4, 2, false, "");
    const m = (records.records[0] as IngestFlow).toMessage();
    assert.equal(m.srcAddr, "0.0.0.0");
    assert.equal(m.dstAddr, "0.0.0.0");
  });
});
