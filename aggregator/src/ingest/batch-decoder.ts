// The ingest hot path's FlowBatch decoder: bytes straight into the state's IngestFlow records
// (numbers, no BigInt per field, objects reused batch after batch) instead of ts-proto messages.
// ts-proto's FlowBatch stays the contract: this decoder accepts exactly what FlowBatch.decode
// accepts, fails where it fails, and yields the same values, down to its quirks (it is tested
// against it on random and malformed input in batch-decoder.test.ts):
//
// - a field with a known number but another wire type is skipped as unknown, as are unknown
//   fields; groups are skipped with the same checks (tag validity, matching end group, depth);
// - tag 0 or an end-group tag ends the message being decoded where it stands; a nested message
//   may read past its declared length (only the end of the whole buffer is checked), and its
//   parent then goes on from where it stopped;
// - strings are UTF-8 with U+FFFD for bad sequences and a leading BOM kept;
// - a repeated message field (agent, info, k8s) replaces the earlier one, it is not merged.
//
// Of FlowInfo, only what the alert engine reads (dnsRcode, risks) is decoded, into the record;
// the rest of it and K8sMeta are walked for validity but not decoded: each
// record keeps the range of bytes it came from, which pb.Flow.decode turns into the full message
// when the API asks for it. Because only the buffer's end is ever checked, those bytes decode on
// their own to exactly what they decoded to inside the batch.
//
// With the native addon, the records' fields are read in C (agent/native/src/flow_batch.c) into
// flat arrays in one call per batch, and copied from there into the records: the same values,
// a fraction of the time. C gives the batch back to the JS reading below wherever only the
// quirks above could say what it is, so there is one behaviour, this file's.
import { Buffer } from "node:buffer";
import { type NativeEngine, nativeEngine } from "@flowlens/agent/engine";
import type { pb } from "@flowlens/contracts";
import { ABSENT, IngestFlow, wireText } from "../state/ingest-flow.js";
import { NameCache } from "../state/name-cache.js";
import * as L from "./native-batch-layout.js";

export class FlowBatchDecodeError extends Error {
  readonly code = "FLOW_BATCH_DECODE";
}

/** A batch as decoded by FlowBatchDecoder: valid until the decoder's next decode(). */
export class DecodedBatch {
  agent: pb.AgentIdentity | undefined = undefined;
  sequence = 0n;
  sentAtMs = 0n;
  readonly flows: IngestFlow[] = [];
}

const WIRE_VARINT = 0;
const WIRE_BIT64 = 1;
const WIRE_LEN = 2;
const WIRE_START_GROUP = 3;
const WIRE_END_GROUP = 4;
const WIRE_BIT32 = 5;
const TWO_32 = 4294967296;
/** Records kept for reuse: more than a normal batch, less than what a huge one would pin. */
const POOL_MAX = 16_384;
/** Group nesting ts-proto's reader accepts when skipping. */
const GROUP_DEPTH = 100;

const EMPTY = Buffer.alloc(0);

/** Records the native arrays hold at first; they double up to MAX_NATIVE_RECORDS. */
const NATIVE_RECORDS = 2048;
const MAX_NATIVE_RECORDS = 1 << 16;

type NativeDecode = NativeEngine["decodeFlowBatch"];
let nativeDecode: NativeDecode | null | undefined;

/** The addon's decodeFlowBatch; null without the addon, or with one of another layout. */
function nativeDecoder(): NativeDecode | null {
  if (nativeDecode === undefined) {
    try {
      const engine = nativeEngine();
      nativeDecode = L.sameLayout(engine.flowBatchLayout) ? engine.decodeFlowBatch : null;
    } catch {
      nativeDecode = null;
    }
  }
  return nativeDecode;
}

export interface FlowBatchDecoderOptions {
  /** Read records in C when the addon is there (default true); false: JS only, the reference. */
  native?: boolean;
}

export class FlowBatchDecoder {
  private buf: Buffer = EMPTY;
  private pos = 0;
  private len = 0;
  /** The two halves of the last 64-bit varint read. */
  private lo = 0;
  private hi = 0;
  private readonly pool: IngestFlow[] = [];
  private readonly batch = new DecodedBatch();
  private readonly names = new NameCache();
  private readonly native: NativeDecode | null;
  private nums = new Float64Array(0);
  private offs = new Int32Array(0);
  private readonly head = new Int32Array(L.HEAD);
  /** Batches read in C, and those C gave back to the JS reading (see flow_batch.c). */
  readonly counts = { native: 0, js: 0 };

  constructor(opts: FlowBatchDecoderOptions = {}) {
    this.native = opts.native === false ? null : nativeDecoder();
    if (this.native !== null) {
      this.nums = new Float64Array(NATIVE_RECORDS * L.NUMS);
      this.offs = new Int32Array(NATIVE_RECORDS * L.OFFS);
    }
  }

  /**
   * Decodes a FlowBatch. The batch and its records are reused by the next call: apply them
   * before decoding again. Throws FlowBatchDecodeError where FlowBatch.decode throws.
   */
  decode(bytes: Uint8Array): DecodedBatch {
    this.buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
    this.len = bytes.length;
    if (this.pool.length > POOL_MAX) this.pool.length = POOL_MAX;
    const b = this.batch;
    if (this.native !== null && this.decodeNative(b)) return b;
    this.counts.js++;
    b.agent = undefined;
    b.sequence = 0n;
    b.sentAtMs = 0n;
    const flows = b.flows;
    let n = 0;
    try {
      const end = this.len;
      while (this.pos < end) {
        const tag = this.uint32();
        switch (tag) {
          case 10:
            b.agent = this.agent(this.uint32());
            continue;
          case 16:
            this.varint64();
            b.sequence = BigInt.asUintN(64, (BigInt(this.hi >>> 0) << 32n) | BigInt(this.lo >>> 0));
            continue;
          case 24:
            this.varint64();
            b.sentAtMs = BigInt.asIntN(64, (BigInt(this.hi >>> 0) << 32n) | BigInt(this.lo >>> 0));
            continue;
          case 34: {
            let f = this.pool[n];
            if (f === undefined) {
              f = new IngestFlow();
              this.pool.push(f);
            }
            this.flow(f, this.uint32());
            flows[n++] = f;
            continue;
          }
        }
        if ((tag & 7) === WIRE_END_GROUP || tag === 0) break;
        this.skip(tag & 7, -1, GROUP_DEPTH);
      }
    } finally {
      if (flows.length !== n) flows.length = n;
    }
    return b;
  }

  /** The batch read by C; false if C gave it back (then nothing of it is kept). */
  private decodeNative(b: DecodedBatch): boolean {
    const decode = this.native as NativeDecode;
    let n = decode(this.buf, this.nums, this.offs, this.head);
    while (n === L.TOO_MANY && this.nums.length < MAX_NATIVE_RECORDS * L.NUMS) {
      this.nums = new Float64Array(this.nums.length * 2);
      this.offs = new Int32Array(this.offs.length * 2);
      n = decode(this.buf, this.nums, this.offs, this.head);
    }
    if (n < 0) return false;
    this.counts.native++;
    const head = this.head;
    const agentAt = head[L.H_AGENT] as number;
    if (agentAt >= 0) {
      this.pos = agentAt;
      b.agent = this.agent(head[L.H_AGENT_LEN] as number);
    } else {
      b.agent = undefined;
    }
    b.sequence = BigInt.asUintN(64, joined(head, L.H_SEQUENCE_LO));
    b.sentAtMs = BigInt.asIntN(64, joined(head, L.H_SENT_AT_LO));
    const flows = b.flows;
    for (let i = 0; i < n; i++) {
      let f = this.pool[i];
      if (f === undefined) {
        f = new IngestFlow();
        this.pool.push(f);
      }
      this.fill(f, i);
      flows[i] = f;
    }
    if (flows.length !== n) flows.length = n;
    return true;
  }

  /** Record i of the native arrays into f, as flow() would have read it. */
  private fill(f: IngestFlow, i: number): void {
    const x = this.nums;
    const o = this.offs;
    const n = i * L.NUMS;
    const p = i * L.OFFS;
    const buf = this.buf;
    f.buf = buf;
    f.start = o[p + L.O_START] as number;
    f.end = o[p + L.O_END] as number;
    const src = o[p + L.O_SRC_ADDR] as number;
    if (src >= 0) f.setSrcAddrBytes(src, o[p + L.O_SRC_ADDR_END] as number);
    else f.srcAddr = "";
    const dst = o[p + L.O_DST_ADDR] as number;
    if (dst >= 0) f.setDstAddrBytes(dst, o[p + L.O_DST_ADDR_END] as number);
    else f.dstAddr = "";
    f.srcPort = x[n + L.N_SRC_PORT] as number;
    f.dstPort = x[n + L.N_DST_PORT] as number;
    f.proto = x[n + L.N_PROTO] as number;
    f.ipVersion = x[n + L.N_IP_VERSION] as number;
    f.vlan = x[n + L.N_VLAN] as number;
    f.firstSeenMs = x[n + L.N_FIRST_SEEN] as number;
    f.lastSeenMs = x[n + L.N_LAST_SEEN] as number;
    f.srcToDstPackets = x[n + L.N_S2D_PACKETS] as number;
    f.srcToDstBytes = x[n + L.N_S2D_BYTES] as number;
    f.dstToSrcPackets = x[n + L.N_D2S_PACKETS] as number;
    f.dstToSrcBytes = x[n + L.N_D2S_BYTES] as number;
    f.srcTcpFlags = x[n + L.N_SRC_TCP_FLAGS] as number;
    f.dstTcpFlags = x[n + L.N_DST_TCP_FLAGS] as number;
    f.l7 = this.range(o, p + L.O_L7);
    f.l7Category = this.range(o, p + L.O_L7_CATEGORY);
    f.clientNwLatencyUs = x[n + L.N_CLIENT_LATENCY] as number;
    f.serverNwLatencyUs = x[n + L.N_SERVER_LATENCY] as number;
    f.applLatencyUs = x[n + L.N_APPL_LATENCY] as number;
    f.srcRetransmits = x[n + L.N_SRC_RETRANSMITS] as number;
    f.dstRetransmits = x[n + L.N_DST_RETRANSMITS] as number;
    f.srcOutOfOrder = x[n + L.N_SRC_OUT_OF_ORDER] as number;
    f.dstOutOfOrder = x[n + L.N_DST_OUT_OF_ORDER] as number;
    f.endReason = x[n + L.N_END_REASON] as number;
    const cid = o[p + L.O_COMMUNITY_ID] as number;
    if (cid >= 0) f.setCommunityIdBytes(cid, o[p + L.O_COMMUNITY_ID_END] as number);
    else f.communityId = "";
    f.exporter = this.range(o, p + L.O_EXPORTER);
    f.observationDomain = x[n + L.N_OBSERVATION_DOMAIN] as number;
    f.exportVersion = x[n + L.N_EXPORT_VERSION] as number;
    f.samplingRate = x[n + L.N_SAMPLING_RATE] as number;
    f.rawPackets = x[n + L.N_RAW_PACKETS] as number;
    f.rawBytes = x[n + L.N_RAW_BYTES] as number;
    f.inIf = x[n + L.N_IN_IF] as number;
    f.outIf = x[n + L.N_OUT_IF] as number;
    f.dnsRcode = x[n + L.N_DNS_RCODE] as number;
    f.riskCount = 0;
    // Risk names are strings: the last FlowInfo is read again for them, by the JS reading.
    if ((o[p + L.O_RISKS] as number) > 0) {
      this.pos = o[p + L.O_INFO] as number;
      this.walkStrings(o[p + L.O_INFO_LEN] as number, f);
    }
    f.oneWay = false;
    f.message = null;
  }

  /** A name's string from its byte range in the native arrays ("" when absent). */
  private range(o: Int32Array, at: number): string {
    const start = o[at] as number;
    return start < 0 ? "" : this.names.text(this.buf, start, o[at + 1] as number);
  }

  private flow(f: IngestFlow, length: number): void {
    const start = this.pos;
    const end = start + length;
    resetFlow(f);
    f.buf = this.buf;
    f.start = start;
    while (this.pos < end) {
      const tag = this.uint32();
      switch (tag) {
        case 10:
          f.setSrcAddrBytes(this.skipBytes(), this.pos);
          continue;
        case 16:
          f.srcPort = this.uint32();
          continue;
        case 26:
          f.setDstAddrBytes(this.skipBytes(), this.pos);
          continue;
        case 32:
          f.dstPort = this.uint32();
          continue;
        case 40:
          f.proto = this.uint32();
          continue;
        case 48:
          f.ipVersion = this.uint32();
          continue;
        case 56:
          f.vlan = this.uint32();
          continue;
        case 64:
          f.firstSeenMs = this.int64();
          continue;
        case 72:
          f.lastSeenMs = this.int64();
          continue;
        case 80:
          f.srcToDstPackets = this.uint64();
          continue;
        case 88:
          f.srcToDstBytes = this.uint64();
          continue;
        case 96:
          f.dstToSrcPackets = this.uint64();
          continue;
        case 104:
          f.dstToSrcBytes = this.uint64();
          continue;
        case 112:
          f.srcTcpFlags = this.uint32();
          continue;
        case 120:
          f.dstTcpFlags = this.uint32();
          continue;
        case 130:
          f.l7 = this.name();
          continue;
        case 138:
          f.l7Category = this.name();
          continue;
        case 146:
          // A later FlowInfo replaces an earlier one.
          f.dnsRcode = ABSENT;
          f.riskCount = 0;
          this.walkStrings(this.uint32(), f);
          continue;
        case 152:
          f.clientNwLatencyUs = this.uint64();
          continue;
        case 160:
          f.serverNwLatencyUs = this.uint64();
          continue;
        case 168:
          f.applLatencyUs = this.uint64();
          continue;
        case 176:
          f.srcRetransmits = this.uint32();
          continue;
        case 184:
          f.dstRetransmits = this.uint32();
          continue;
        case 192:
          f.srcOutOfOrder = this.uint32();
          continue;
        case 200:
          f.dstOutOfOrder = this.uint32();
          continue;
        case 208:
          f.endReason = this.uint32() | 0;
          continue;
        case 218:
          f.setCommunityIdBytes(this.skipBytes(), this.pos);
          continue;
        case 226:
          f.exporter = this.name();
          continue;
        case 232:
          f.observationDomain = this.uint32();
          continue;
        case 240:
          f.exportVersion = this.uint32() | 0;
          continue;
        case 248:
          f.samplingRate = this.uint64();
          continue;
        case 256:
          f.rawPackets = this.uint64();
          continue;
        case 264:
          f.rawBytes = this.uint64();
          continue;
        case 272:
          f.inIf = this.uint32();
          continue;
        case 280:
          f.outIf = this.uint32();
          continue;
        case 290:
        case 298:
          this.walkStrings(this.uint32(), null);
          continue;
      }
      if ((tag & 7) === WIRE_END_GROUP || tag === 0) break;
      this.skip(tag & 7, -1, GROUP_DEPTH);
    }
    f.end = this.pos;
  }

  private agent(length: number): pb.AgentIdentity {
    const a: pb.AgentIdentity = { node: "", agentId: "", version: "" };
    const end = this.pos + length;
    while (this.pos < end) {
      const tag = this.uint32();
      switch (tag) {
        case 10:
          a.node = this.string();
          continue;
        case 18:
          a.agentId = this.string();
          continue;
        case 26:
          a.version = this.string();
          continue;
      }
      if ((tag & 7) === WIRE_END_GROUP || tag === 0) break;
      this.skip(tag & 7, -1, GROUP_DEPTH);
    }
    return a;
  }

  /**
   * Steps over a FlowInfo or a K8sMeta the way their decoders read them, so that they fail
   * alike. Their fields are strings, which read exactly as a skipped length-delimited value
   * does, but FlowInfo's dnsRcode (field 6), a uint32. For a FlowInfo (`info` is its record),
   * dnsRcode and the risks (field 9) are kept.
   */
  private walkStrings(length: number, info: IngestFlow | null): void {
    const end = this.pos + length;
    while (this.pos < end) {
      const tag = this.uint32();
      if (info !== null) {
        if (tag === 48) {
          info.dnsRcode = this.uint32();
          continue;
        }
        if (tag === 74) {
          info.risks[info.riskCount++] = this.name();
          continue;
        }
      }
      if ((tag & 7) === WIRE_END_GROUP || tag === 0) break;
      this.skip(tag & 7, -1, GROUP_DEPTH);
    }
  }

  private eof(): never {
    throw new FlowBatchDecodeError("premature EOF");
  }

  /** A uint32 varint as BinaryReader.uint32 reads it: up to 10 bytes, the low 32 bits kept. */
  private uint32(): number {
    const buf = this.buf;
    let pos = this.pos;
    if (pos >= this.len) this.eof();
    let b = buf[pos++] as number;
    if (b < 0x80) {
      this.pos = pos;
      return b;
    }
    let result = b & 0x7f;
    for (let shift = 7; shift < 28; shift += 7) {
      if (pos >= this.len) this.eof();
      b = buf[pos++] as number;
      result |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return result;
      }
    }
    if (pos >= this.len) this.eof();
    b = buf[pos++] as number;
    result |= (b & 0x0f) << 28;
    for (let read = 5; b >= 0x80 && read < 10; read++) {
      if (pos >= this.len) this.eof();
      b = buf[pos++] as number;
    }
    if (b >= 0x80) throw new FlowBatchDecodeError("invalid varint");
    this.pos = pos;
    return result >>> 0;
  }

  /** A 64-bit varint into lo and hi, as BinaryReader's varint64read (10 bytes at most). */
  private varint64(): void {
    const buf = this.buf;
    const len = this.len;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    let b = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= len) this.eof();
      b = buf[pos++] as number;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        this.lo = lo;
        this.hi = 0;
        return;
      }
    }
    if (pos >= len) this.eof();
    b = buf[pos++] as number;
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x70) >> 4;
    if (b < 0x80) {
      this.pos = pos;
      this.lo = lo;
      this.hi = hi;
      return;
    }
    for (let shift = 3; shift <= 31; shift += 7) {
      if (pos >= len) this.eof();
      b = buf[pos++] as number;
      hi |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        this.lo = lo;
        this.hi = hi;
        return;
      }
    }
    throw new FlowBatchDecodeError("invalid varint");
  }

  /** A uint64 as a number: exact to 2^53, then rounded as Number(bigint) rounds. */
  private uint64(): number {
    const buf = this.buf;
    const pos = this.pos;
    // Most counters fit one or two bytes.
    if (pos < this.len) {
      const b = buf[pos] as number;
      if (b < 0x80) {
        this.pos = pos + 1;
        return b;
      }
    }
    this.varint64();
    return (this.hi >>> 0) * TWO_32 + (this.lo >>> 0);
  }

  private int64(): number {
    this.varint64();
    return (this.hi | 0) * TWO_32 + (this.lo >>> 0);
  }

  /** Bounds of a length-delimited value, the position moved past it. */
  private skipBytes(): number {
    const n = this.uint32();
    const start = this.pos;
    this.pos = start + n;
    if (this.pos > this.len) this.eof();
    return start;
  }

  private string(): string {
    const start = this.skipBytes();
    return this.text(start, this.pos);
  }

  private text(start: number, end: number): string {
    return wireText(this.buf, start, end);
  }

  /** A string that repeats from record to record: looked up by its bytes before decoding. */
  private name(): string {
    const start = this.skipBytes();
    return this.names.text(this.buf, start, this.pos);
  }

  /** BinaryReader.skip: one value of this wire type (a group with everything up to its end). */
  private skip(wireType: number, fieldNo: number, depth: number): void {
    switch (wireType) {
      case WIRE_VARINT: {
        const buf = this.buf;
        let pos = this.pos;
        // No length limit here, as in BinaryReader.skip.
        for (;;) {
          if (pos >= this.len) this.eof();
          if ((buf[pos++] as number) < 0x80) break;
        }
        this.pos = pos;
        return;
      }
      case WIRE_BIT64:
        this.pos += 8;
        break;
      case WIRE_BIT32:
        this.pos += 4;
        break;
      case WIRE_LEN:
        this.skipBytes();
        return;
      case WIRE_START_GROUP: {
        if (depth <= 0) throw new FlowBatchDecodeError("maximum recursion depth reached");
        for (;;) {
          const tagStart = this.pos;
          const tag = this.uint32();
          const read = this.pos - tagStart;
          if (read > 5 || (read === 5 && (this.buf[this.pos - 1] as number) > 0x0f)) {
            throw new FlowBatchDecodeError("illegal tag: varint overflows uint32");
          }
          const fn = tag >>> 3;
          const wt = tag & 7;
          if (fn <= 0 || wt > 5) throw new FlowBatchDecodeError(`illegal tag: field no ${fn} wire type ${wt}`);
          if (wt === WIRE_END_GROUP) {
            if (fieldNo >= 0 && fn !== fieldNo) throw new FlowBatchDecodeError("invalid end group tag");
            break;
          }
          this.skip(wt, fn, depth - 1);
        }
        break;
      }
      default:
        throw new FlowBatchDecodeError(`cant skip wire type ${wireType}`);
    }
    if (this.pos > this.len) this.eof();
  }
}

/** The uint64 in head[at] (low 32 bits) and head[at + 1] (high). */
function joined(head: Int32Array, at: number): bigint {
  return (BigInt((head[at + 1] as number) >>> 0) << 32n) | BigInt((head[at] as number) >>> 0);
}

function resetFlow(f: IngestFlow): void {
  f.srcAddr = "";
  f.srcPort = 0;
  f.dstAddr = "";
  f.dstPort = 0;
  f.proto = 0;
  f.ipVersion = 0;
  f.vlan = 0;
  f.firstSeenMs = 0;
  f.lastSeenMs = 0;
  f.srcToDstPackets = 0;
  f.srcToDstBytes = 0;
  f.dstToSrcPackets = 0;
  f.dstToSrcBytes = 0;
  f.srcTcpFlags = 0;
  f.dstTcpFlags = 0;
  f.l7 = "";
  f.l7Category = "";
  f.clientNwLatencyUs = ABSENT;
  f.serverNwLatencyUs = ABSENT;
  f.applLatencyUs = ABSENT;
  f.srcRetransmits = 0;
  f.dstRetransmits = 0;
  f.srcOutOfOrder = 0;
  f.dstOutOfOrder = 0;
  f.endReason = 0;
  f.communityId = "";
  f.exporter = "";
  f.observationDomain = 0;
  f.exportVersion = 0;
  f.samplingRate = 0;
  f.rawPackets = 0;
  f.rawBytes = 0;
  f.inIf = 0;
  f.outIf = 0;
  f.dnsRcode = ABSENT;
  f.riskCount = 0;
  f.oneWay = false;
  f.message = null;
}
