// FlowBatchDecoder against the contract's decoder (ts-proto's FlowBatch.decode) on the same
// bytes: random batches, every field at its edge values, unknown fields and groups anywhere,
// known fields with another wire type, split repeated fields, bad UTF-8, then truncations and
// random corruptions of all of those. Either both throw, or every field agrees (numbers as the
// state counts them: Number() of the wire value) and each record's bytes decode on their own
// to the very message FlowBatch.decode made of it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { nativeEngine } from "@flowlens/agent/engine";
import { pb } from "@flowlens/contracts";
import { ABSENT, type IngestFlow } from "../state/ingest-flow.js";
import { prng } from "../state/testing.js";
import { FlowBatchDecodeError, FlowBatchDecoder } from "./batch-decoder.js";
import { sameLayout } from "./native-batch-layout.js";

/** xorshift32, so that a failure is reproducible from its seed. */
type Rand = ReturnType<typeof prng>;

/** A protobuf writer for hand-made (and deliberately odd) encodings. */
class Writer {
  readonly bytes: number[] = [];
  varint(v: bigint | number): this {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.bytes.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.bytes.push(Number(x));
    return this;
  }
  tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }
  raw(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.bytes.push(b[i] as number);
    return this;
  }
  lenDelimited(field: number, body: ArrayLike<number>): this {
    return this.tag(field, 2).varint(body.length).raw(body);
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

const enc = new TextEncoder();
const U64_EDGES = [
  0n,
  1n,
  127n,
  128n,
  2n ** 32n - 1n,
  2n ** 32n,
  2n ** 53n - 1n,
  2n ** 53n,
  2n ** 53n + 1n,
  2n ** 64n - 1n,
];
const I64_EDGES = [0n, 1n, -1n, 1_700_000_000_000n, -(2n ** 53n) - 3n, 2n ** 63n - 1n, -(2n ** 63n)];
const U32_EDGES = [0, 1, 65535, 65536, 2 ** 31, 2 ** 32 - 1];

function randomU64(r: Rand): bigint {
  const k = r(4);
  if (k === 0) return U64_EDGES[r(U64_EDGES.length)] as bigint;
  if (k === 1) return BigInt(r(2 ** 31)) * BigInt(r(2 ** 31)) * BigInt(1 + r(8));
  return BigInt(r(1 << 20));
}
function randomI64(r: Rand): bigint {
  return r(3) === 0 ? (I64_EDGES[r(I64_EDGES.length)] as bigint) : BigInt(1_700_000_000_000 + r(1 << 30));
}
function randomU32(r: Rand): number {
  return r(3) === 0 ? (U32_EDGES[r(U32_EDGES.length)] as number) : r(70000);
}
/** Bytes of a string field: ASCII, other scripts, a BOM, or invalid UTF-8. */
function randomText(r: Rand): Uint8Array {
  const k = r(8);
  if (k === 0) return new Uint8Array(0);
  if (k === 1) return enc.encode(`ünïcødé-${r(100)}-名前`);
  if (k === 2) return Uint8Array.from([0xef, 0xbb, 0xbf, 0x41, 0x42]);
  if (k === 3) return Uint8Array.from(Array.from({ length: 1 + r(12) }, () => 0x80 + r(128)));
  if (k === 4) return enc.encode("x".repeat(20 + r(40)));
  return enc.encode(`10.${r(256)}.${r(256)}.${r(256)}`);
}

/** An unknown field of any wire type, groups (nested) included. */
function unknownField(w: Writer, r: Rand, depth = 0): void {
  const field = 40 + r(1000);
  switch (r(depth < 2 ? 5 : 4)) {
    case 0:
      w.tag(field, 0).varint(randomU64(r));
      break;
    case 1:
      w.tag(field, 1).raw(Array.from({ length: 8 }, () => r(256)));
      break;
    case 2:
      w.tag(field, 5).raw(Array.from({ length: 4 }, () => r(256)));
      break;
    case 3:
      w.lenDelimited(field, randomText(r));
      break;
    default: {
      w.tag(field, 3);
      for (let i = r(3); i > 0; i--) unknownField(w, r, depth + 1);
      w.tag(field, 4);
    }
  }
}

type FieldKind = "string" | "u32" | "u64" | "i64" | "enum" | "info" | "k8s";
const FLOW_FIELDS: Array<[number, FieldKind]> = [
  [1, "string"],
  [2, "u32"],
  [3, "string"],
  [4, "u32"],
  [5, "u32"],
  [6, "u32"],
  [7, "u32"],
  [8, "i64"],
  [9, "i64"],
  [10, "u64"],
  [11, "u64"],
  [12, "u64"],
  [13, "u64"],
  [14, "u32"],
  [15, "u32"],
  [16, "string"],
  [17, "string"],
  [18, "info"],
  [19, "u64"],
  [20, "u64"],
  [21, "u64"],
  [22, "u32"],
  [23, "u32"],
  [24, "u32"],
  [25, "u32"],
  [26, "enum"],
  [27, "string"],
  [28, "string"],
  [29, "u32"],
  [30, "enum"],
  [31, "u64"],
  [32, "u64"],
  [33, "u64"],
  [34, "u32"],
  [35, "u32"],
  [36, "k8s"],
  [37, "k8s"],
];

function infoBody(r: Rand): Uint8Array {
  const w = new Writer();
  for (const f of [1, 2, 3, 4, 5, 7, 8]) if (r(2) === 0) w.lenDelimited(f, randomText(r));
  if (r(2) === 0) w.tag(6, 0).varint(randomU32(r));
  for (let i = r(3); i > 0; i--) w.lenDelimited(9, randomText(r));
  if (r(4) === 0) unknownField(w, r);
  return w.finish();
}

function k8sBody(r: Rand): Uint8Array {
  const w = new Writer();
  for (let f = 1; f <= 5; f++) if (r(2) === 0) w.lenDelimited(f, randomText(r));
  if (r(4) === 0) w.tag(6, 0).varint(randomU64(r));
  return w.finish();
}

/** A Flow's bytes: fields in random order, some twice, some with the wrong wire type. */
function flowBody(r: Rand): Uint8Array {
  const w = new Writer();
  const fields = FLOW_FIELDS.filter(() => r(4) !== 0);
  for (let i = fields.length - 1; i > 0; i--) {
    const j = r(i + 1);
    [fields[i], fields[j]] = [fields[j] as [number, FieldKind], fields[i] as [number, FieldKind]];
  }
  for (const [field, kind] of fields) {
    if (r(12) === 0) {
      // The field's number with another wire type: packed-style bytes for a scalar, a varint
      // for a string. FlowBatch.decode skips it as unknown.
      if (kind === "string" || kind === "info" || kind === "k8s") w.tag(field, 0).varint(r(1000));
      else w.lenDelimited(field, new Writer().varint(r(300)).varint(r(300)).finish());
      continue;
    }
    for (let times = r(8) === 0 ? 2 : 1; times > 0; times--) {
      if (kind === "string") w.lenDelimited(field, randomText(r));
      else if (kind === "u32") w.tag(field, 0).varint(randomU32(r));
      else if (kind === "u64") w.tag(field, 0).varint(randomU64(r));
      else if (kind === "i64") w.tag(field, 0).varint(randomI64(r));
      else if (kind === "enum") w.tag(field, 0).varint(r(4) === 0 ? -1 - r(5) : r(8));
      else if (kind === "info") w.lenDelimited(field, infoBody(r));
      else w.lenDelimited(field, k8sBody(r));
    }
    if (r(10) === 0) unknownField(w, r);
  }
  return w.finish();
}

function randomBatch(r: Rand): Uint8Array {
  const w = new Writer();
  const agent = () =>
    w.lenDelimited(
      1,
      new Writer()
        .lenDelimited(1, randomText(r))
        .lenDelimited(2, enc.encode(`agent-${r(100)}`))
        .lenDelimited(3, randomText(r))
        .finish(),
    );
  if (r(8) !== 0) agent();
  w.tag(2, 0).varint(randomU64(r));
  w.tag(3, 0).varint(randomI64(r));
  const n = r(12);
  for (let i = 0; i < n; i++) {
    w.lenDelimited(4, flowBody(r));
    // Repeated fields need not be contiguous; a second agent replaces the first.
    if (r(10) === 0) w.tag(2, 0).varint(randomU64(r));
    if (r(15) === 0) agent();
    if (r(10) === 0) unknownField(w, r);
  }
  return w.finish();
}

function checkFlow(got: IngestFlow, want: pb.Flow, where: string): void {
  const num = (v: bigint) => Number(v);
  const opt = (v: bigint | undefined) => (v === undefined ? ABSENT : Number(v));
  const pairs: Array<[string, unknown, unknown]> = [
    ["srcAddr", got.srcAddr, want.srcAddr],
    ["srcPort", got.srcPort, want.srcPort],
    ["dstAddr", got.dstAddr, want.dstAddr],
    ["dstPort", got.dstPort, want.dstPort],
    ["proto", got.proto, want.proto],
    ["ipVersion", got.ipVersion, want.ipVersion],
    ["vlan", got.vlan, want.vlan],
    ["firstSeenMs", got.firstSeenMs, num(want.firstSeenMs)],
    ["lastSeenMs", got.lastSeenMs, num(want.lastSeenMs)],
    ["srcToDstPackets", got.srcToDstPackets, num(want.srcToDstPackets)],
    ["srcToDstBytes", got.srcToDstBytes, num(want.srcToDstBytes)],
    ["dstToSrcPackets", got.dstToSrcPackets, num(want.dstToSrcPackets)],
    ["dstToSrcBytes", got.dstToSrcBytes, num(want.dstToSrcBytes)],
    ["srcTcpFlags", got.srcTcpFlags, want.srcTcpFlags],
    ["dstTcpFlags", got.dstTcpFlags, want.dstTcpFlags],
    ["l7", got.l7, want.l7],
    ["l7Category", got.l7Category, want.l7Category],
    ["clientNwLatencyUs", got.clientNwLatencyUs, opt(want.clientNwLatencyUs)],
    ["serverNwLatencyUs", got.serverNwLatencyUs, opt(want.serverNwLatencyUs)],
    ["applLatencyUs", got.applLatencyUs, opt(want.applLatencyUs)],
    ["srcRetransmits", got.srcRetransmits, want.srcRetransmits],
    ["dstRetransmits", got.dstRetransmits, want.dstRetransmits],
    ["srcOutOfOrder", got.srcOutOfOrder, want.srcOutOfOrder],
    ["dnsRcode", got.dnsRcode, want.info?.dnsRcode ?? ABSENT],
    ["risks", got.risks.slice(0, got.riskCount).join("\n"), (want.info?.risks ?? []).join("\n")],
    ["dstOutOfOrder", got.dstOutOfOrder, want.dstOutOfOrder],
    ["endReason", got.endReason, want.endReason],
    ["communityId", got.communityId, want.communityId],
    ["exporter", got.exporter, want.exporter],
    ["observationDomain", got.observationDomain, want.observationDomain],
    ["exportVersion", got.exportVersion, want.exportVersion],
    ["samplingRate", got.samplingRate, num(want.samplingRate)],
    ["rawPackets", got.rawPackets, num(want.rawPackets)],
    ["rawBytes", got.rawBytes, num(want.rawBytes)],
    ["inIf", got.inIf, want.inIf],
    ["outIf", got.outIf, want.outIf],
  ];
  for (const [name, g, w] of pairs) assert.equal(g, w, `${where}: ${name}`);
  assert.deepEqual(got.toMessage(), want, `${where}: the record's own bytes`);
  assert.equal(got.exactFirstSeenMs(), want.firstSeenMs, `${where}: exact firstSeenMs`);
}

let decoder = new FlowBatchDecoder({ native: false });

/** Both decoders on the same bytes: the same error-or-not, and the same values. Returns whether it decoded. */
function same(bytes: Uint8Array, where: string): boolean {
  let want: pb.FlowBatch | undefined;
  try {
    want = pb.FlowBatch.decode(bytes);
  } catch {
    want = undefined;
  }
  if (want === undefined) {
    assert.throws(() => decoder.decode(bytes), FlowBatchDecodeError, `${where}: FlowBatch.decode throws, so must we`);
    return false;
  }
  const got = decoder.decode(bytes);
  assert.deepEqual(got.agent, want.agent, `${where}: agent`);
  assert.equal(got.sequence, want.sequence, `${where}: sequence`);
  assert.equal(got.sentAtMs, want.sentAtMs, `${where}: sentAtMs`);
  assert.equal(got.flows.length, want.flows.length, `${where}: flows`);
  for (const [i, f] of want.flows.entries()) checkFlow(got.flows[i] as IngestFlow, f, `${where} flow ${i}`);
  return true;
}

// The JS reading (the reference) and the native one (C, giving batches back to JS where only
// the quirks say what they are) are held to the same contract.
for (const native of [false, true])
  describe(`FlowBatchDecoder (${native ? "native" : "JS"})`, () => {
    const mine = new FlowBatchDecoder({ native });
    it("sets its decoder up", () => {
      decoder = mine;
      if (native) assert.ok(sameLayout(nativeEngine().flowBatchLayout), "the addon's layout is the decoder's");
    });

    it("decodes what the agent encodes exactly as FlowBatch.decode", () => {
      const flows = [
        pb.Flow.fromPartial({
          srcAddr: "10.0.0.1",
          srcPort: 51000,
          dstAddr: "fd00::1",
          dstPort: 443,
          proto: 6,
          ipVersion: 6,
          firstSeenMs: 1_700_000_000_000n,
          lastSeenMs: 1_700_000_001_000n,
          srcToDstPackets: 10n,
          srcToDstBytes: 2n ** 53n + 1n,
          dstToSrcPackets: 2n ** 64n - 1n,
          dstToSrcBytes: 9000n,
          l7: "TLS.Google",
          l7Category: "Web",
          info: { sni: "www.google.com", risks: ["TLS_SELFSIGNED"], dnsRcode: 0 },
          clientNwLatencyUs: 0n,
          endReason: pb.EndReason.END_REASON_ACTIVE,
          communityId: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
          srcK8s: { node: "n1", pod: "p" },
        }),
        pb.Flow.fromPartial({ srcAddr: "192.0.2.1", dstAddr: "192.0.2.2", ipVersion: 4, firstSeenMs: -5n }),
      ];
      const bytes = pb.FlowBatch.encode({
        agent: { node: "node-1", agentId: "a-1", version: "1" },
        sequence: 7n,
        sentAtMs: 1n,
        flows,
      }).finish();
      assert.ok(same(bytes, "agent batch"));
      const got = decoder.decode(bytes);
      // Counters beyond 2^53 round as Number() rounds them; the record keeps them exactly.
      assert.equal(got.flows[0]?.srcToDstBytes, 2 ** 53);
      assert.equal(got.flows[0]?.toMessage().srcToDstBytes, 2n ** 53n + 1n);
      assert.equal(got.flows[1]?.clientNwLatencyUs, ABSENT);
      assert.equal(got.flows[0]?.clientNwLatencyUs, 0);
    });

    it("agrees on random batches with unknown fields, groups, odd wire types and bad UTF-8", () => {
      let decoded = 0;
      const before = { ...decoder.counts };
      for (let seed = 1; seed <= 1500; seed++) {
        if (same(randomBatch(prng(seed)), `seed ${seed}`)) decoded++;
      }
      if (native) {
        // Groups (a fifth of the unknown fields here) go to JS; a good share has none.
        const inC = decoder.counts.native - before.native;
        assert.ok(inC > 200, `${inC} of ${decoded} random batches read in C`);
      }
      // Nearly all of them are valid protobuf; a generator that made only garbage would test little.
      assert.ok(decoded > 1400, `${decoded} of 1500 random batches decoded`);
    });

    it("reads every batch as the agent encodes it (no group, no unknown field) in C", () => {
      const before = { ...decoder.counts };
      let batches = 0;
      for (let seed = 1; seed <= 400; seed++) {
        let message: pb.FlowBatch;
        try {
          message = pb.FlowBatch.decode(randomBatch(prng(seed * 31)));
        } catch {
          continue;
        }
        assert.ok(same(pb.FlowBatch.encode(message).finish(), `re-encoded seed ${seed}`));
        batches++;
      }
      assert.ok(batches > 350, `${batches} batches`);
      const inC = decoder.counts.native - before.native;
      assert.equal(inC, native ? batches : 0, "read in C: every one with the addon, none without");
    });

    it("fails where FlowBatch.decode fails on truncated input, and agrees on every prefix", () => {
      let failures = 0;
      for (let seed = 1; seed <= 25; seed++) {
        const bytes = randomBatch(prng(seed * 7919));
        for (let cut = 0; cut < bytes.length; cut++) {
          if (!same(bytes.subarray(0, cut), `seed ${seed} cut at ${cut}`)) failures++;
        }
      }
      assert.ok(failures > 50, `${failures} truncations failed to decode`);
      assert.throws(() => decoder.decode(Uint8Array.from([0x22, 0x05, 0x0a])), FlowBatchDecodeError);
    });

    it("agrees on corrupted input: flipped bytes, end-group and zero tags, bad wire types", () => {
      const both = { ok: 0, failed: 0 };
      for (let seed = 1; seed <= 3000; seed++) {
        const r = prng(seed * 104729);
        const bytes = randomBatch(r).slice();
        if (bytes.length === 0) continue;
        for (let k = 1 + r(3); k > 0; k--) {
          const at = r(bytes.length);
          const choice = r(4);
          // A random byte; a tag 0; an end-group or a wire type 6/7 in the low bits of a tag.
          bytes[at] =
            choice === 0 ? r(256) : choice === 1 ? 0 : choice === 2 ? (r(16) << 3) | 4 : (r(16) << 3) | (6 + r(2));
        }
        if (same(bytes, `corrupted seed ${seed}`)) both.ok++;
        else both.failed++;
      }
      // Both outcomes must be well represented for the comparison to mean something.
      assert.ok(both.ok > 300 && both.failed > 300, JSON.stringify(both));
    });

    it("handles deep and mismatched groups as BinaryReader.skip does", () => {
      const nested = (depth: number, field = 50) => {
        const w = new Writer();
        for (let i = 0; i < depth; i++) w.tag(field, 3);
        for (let i = 0; i < depth; i++) w.tag(field, 4);
        return w.finish();
      };
      for (const depth of [1, 2, 99, 100, 101, 150]) {
        same(nested(depth), `groups nested ${depth} deep`);
        same(new Writer().lenDelimited(4, nested(depth)).finish(), `groups nested ${depth} deep in a flow`);
      }
      // An inner group closed with another field number, and an outer one (unchecked) likewise.
      same(new Writer().tag(50, 3).tag(51, 3).tag(52, 4).tag(50, 4).finish(), "mismatched inner end group");
      same(new Writer().tag(50, 3).tag(51, 3).tag(51, 4).tag(53, 4).finish(), "mismatched outer end group");
      // A tag inside a group that does not fit uint32, or names field 0.
      same(new Writer().tag(50, 3).raw([0xff, 0xff, 0xff, 0xff, 0x1f]).finish(), "oversized tag in a group");
      same(new Writer().tag(50, 3).raw([0x02, 0x00]).tag(50, 4).finish(), "field 0 in a group");
    });

    it("reads varints of every length the way BinaryReader does", () => {
      for (const field of [2, 3]) {
        for (let len = 1; len <= 12; len++) {
          const body = Array.from({ length: len }, (_, i) => (i < len - 1 ? 0xff : 0x01));
          same(new Writer().tag(field, 0).raw(body).finish(), `batch field ${field}, ${len}-byte varint`);
          // In a flow: a uint32 field, a uint64 field, an int64 field and an unknown one.
          for (const f of [2, 11, 8, 99]) {
            const flow = new Writer().tag(f, 0).raw(body).finish();
            same(new Writer().lenDelimited(4, flow).finish(), `flow field ${f}, ${len}-byte varint`);
          }
          // Field 6 is FlowInfo's dnsRcode (a uint32: 10 bytes at most) but unknown to K8sMeta.
          for (const f of [18, 36]) {
            const inner = new Writer().tag(6, 0).raw(body).finish();
            const flow = new Writer().lenDelimited(f, inner).finish();
            same(new Writer().lenDelimited(4, flow).finish(), `field 6 of flow field ${f}, ${len}-byte varint`);
          }
        }
      }
    });

    it("reuses its records from batch to batch, and forgets what a batch did not have", () => {
      const d = new FlowBatchDecoder({ native });
      const two = pb.FlowBatch.encode({
        sequence: 1n,
        sentAtMs: 0n,
        flows: [pb.Flow.fromPartial({ srcAddr: "a", l7: "DNS" }), pb.Flow.fromPartial({ dstAddr: "b" })],
      }).finish();
      const one = pb.FlowBatch.encode({
        sequence: 2n,
        sentAtMs: 0n,
        flows: [pb.Flow.fromPartial({ dstAddr: "c" })],
      }).finish();
      const first = d.decode(two).flows[0];
      const again = d.decode(one);
      assert.equal(again.flows.length, 1);
      assert.equal(again.flows[0], first, "the same object, reused");
      assert.equal(again.flows[0]?.srcAddr, "", "fields of the previous record reset");
      assert.equal(again.flows[0]?.l7, "");
      assert.equal(again.flows[0]?.dstAddr, "c");
      assert.equal(again.agent, undefined);
    });
  });
