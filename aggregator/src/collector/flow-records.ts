// What the collector's decoders produce: records as the live state takes them in (IngestFlow,
// reused datagram after datagram), each with its protobuf Flow encoding written beside it into
// a reused buffer. The state reads the numbers and looks hosts up by the address text bytes of
// the encoding; the flow store keeps a copy of the encoding, and the API, `flowlens collect`
// and tests decode it with pb.Flow.decode into the message DESIGN.md describes. So a record
// costs no pb.Flow, no BigInt and no string of its own, and there is one decoder whatever the
// consumer.
//
// With the addon, commit() only lists the record's numbers and where its addresses and strings
// are; the encodings are written in C, a datagram's records per call (agent/native/src/
// flow_encode.c, byte for byte what encodeNow() writes), before anything reads the records.
import { Buffer } from "node:buffer";
import { type NativeEngine, nativeEngine } from "@flowlens/agent/engine";
import type { pb } from "@flowlens/contracts";
import { ABSENT, IngestFlow } from "../state/ingest-flow.js";
import { NameCache } from "../state/name-cache.js";
import { writeIpv4Text, writeIpv6Text } from "./address-text.js";
import { communityIdAt } from "./community-id.js";
import { END_REASONS } from "./netflow/end-reasons.js";
import { nativeSets, SET_CONTEXT_FIELDS } from "./netflow/native-set.js";

/** Encoding buffer size: some 400 records of a few hundred bytes. */
const ARENA_BYTES = 128 * 1024;
/**
 * Most bytes a record's encoding takes besides its exporter, L7 name and Community ID: two
 * addresses (tag, length, 39 characters), 13 one-byte-tag varints of up to 10 bytes (negative
 * numbers take 10), three strings' two-byte tags and lengths of up to 5 bytes, three uint32
 * varints with two-byte tags, and 5 two-byte-tag varints of up to 10 bytes: 327, rounded up.
 */
const FIXED_MAX = 336;
/** Records kept for reuse after a huge datagram. */
const KEEP_RECORDS = 4096;
const TWO32 = 4294967296;

// Protobuf tags of pb.Flow (flow.proto): field number << 3 | wire type (0 varint, 2 bytes).
const T_SRC_ADDR = 0x0a;
const T_SRC_PORT = 0x10;
const T_DST_ADDR = 0x1a;
const T_DST_PORT = 0x20;
const T_PROTO = 0x28;
const T_IP_VERSION = 0x30;
const T_VLAN = 0x38;
const T_FIRST_SEEN = 0x40;
const T_LAST_SEEN = 0x48;
const T_S2D_PACKETS = 0x50;
const T_S2D_BYTES = 0x58;
const T_D2S_PACKETS = 0x60;
const T_D2S_BYTES = 0x68;
const T_SRC_FLAGS = 0x70;
const T_DST_FLAGS = 0x78;
// Two-byte tags from field 16 on.
const F_L7 = 16;
const F_END_REASON = 26;
const F_COMMUNITY_ID = 27;
const F_EXPORTER = 28;
const F_DOMAIN = 29;
const F_EXPORT_VERSION = 30;
const F_SAMPLING_RATE = 31;
const F_RAW_PACKETS = 32;
const F_RAW_BYTES = 33;
const F_IN_IF = 34;
const F_OUT_IF = 35;

/** A uint32 (or smaller) as a varint at b[p]; returns the position after it. */
function varint(b: Uint8Array, p: number, v: number): number {
  while (v > 0x7f) {
    b[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  b[p++] = v;
  return p;
}

/**
 * An integer within ±2^53 as a 64-bit varint (int64 two's complement when negative) at b[p];
 * returns the position after it.
 */
function varint64(b: Uint8Array, p: number, n: number): number {
  if (n >= 0 && n < TWO32) return varint(b, p, n >>> 0);
  let lo = n % TWO32;
  if (lo < 0) lo += TWO32;
  let hi = Math.floor(n / TWO32) >>> 0;
  lo >>>= 0;
  while (hi !== 0 || lo > 0x7f) {
    b[p++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  b[p++] = lo;
  return p;
}

/** The two-byte tag of a varint field numbered 16 to 2047. */
function tag2(b: Uint8Array, p: number, field: number, wire: number): number {
  const t = (field << 3) | wire;
  b[p] = (t & 0x7f) | 0x80;
  b[p + 1] = t >>> 7;
  return p + 2;
}

/** A varint field with a one-byte tag (fields 1 to 15), left out when 0 as proto3 does. */
function uintField(b: Uint8Array, p: number, tag: number, v: number): number {
  if (v === 0) return p;
  b[p] = tag;
  return varint64(b, p + 1, v);
}

function uintField2(b: Uint8Array, p: number, field: number, v: number): number {
  if (v === 0) return p;
  return varint64(b, tag2(b, p, field, 0), v);
}

/** An ASCII string field (every string a record has but its exporter). */
function asciiField(b: Uint8Array, tagEnd: number, s: string): number {
  const n = s.length;
  let q = varint(b, tagEnd, n);
  for (let i = 0; i < n; i++) b[q++] = s.charCodeAt(i);
  return q;
}

// What the native encoder reads per record (flow_encode.h; checked against collectedLayout).
const E_NUMS = 21;
const M_SRC = 0;
const M_DST = 1;
const M_IPV6 = 2;
const M_L7 = 3;
const M_L7_LEN = 4;
const M_CID = 5;
const M_CID_LEN = 6;
const M_EXPORTER = 7;
const M_EXPORTER_LEN = 8;
const M_FIELDS = 9;
const X_FIELDS = 7;
/** Records listed before they are encoded: a datagram's, usually. */
const PENDING_MAX = 256;
const STRINGS_BYTES = 16 * 1024;

type EncodeCollected = NativeEngine["encodeCollected"];
let nativeEncoder: EncodeCollected | null | undefined;
/** Whether the native encoder computes Community IDs (cidFromTuple is the addon's -1). */
let nativeHashes = false;
const CID_FROM_TUPLE = -1;
/** Room a Community ID computed in C takes: "1:" and 28 base64 characters, rounded up. */
const CID_BYTES = 32;

/** The set decoder's context (netflow/native-set.ts SET_CONTEXT), by index. */
const S_EXPORT_MS = 0;
const S_SYS_UPTIME_MS = 1;
const S_SYSTEM_INIT_MS = 2;
const S_RATE = 3;
const S_COMMUNITY_ID = 4;
const S_L7_AT = 5;
const S_L7_LEN = 6;
const S_EXPORTER_AT = 7;
const S_EXPORTER_LEN = 8;
const S_DOMAIN = 9;
const S_VERSION = 10;
const S_END_REASONS = 11;
/** What a record without an L7 name says (to-flow.ts). */
const UNKNOWN_L7 = "Unknown";

/** What addSet() reads of a data set's context (netflow/to-flow.ts RecordContext). */
export interface SetContext {
  bytes: Uint8Array;
  exporter: string;
  version: number;
  domain: number;
  exportMs: number;
  sysUptimeMs: number;
  systemInitMs: number;
  communityId: boolean;
}

/**
 * A record's Community ID as decoders give it to commit(): the text, or, when the encoder
 * computes it (in C, from the record's addresses and protocol), the ports it hashes as
 * sport << 16 | dport (ICMP's type and code in their place).
 */
export type CommunityIdOf = string | number;

/** The addon's encodeCollected when its layout is this module's, else null. */
function encoder(): EncodeCollected | null {
  if (nativeEncoder === undefined) {
    nativeEncoder = null;
    try {
      const engine = nativeEngine();
      const l = engine.collectedLayout;
      const nums = ["srcPort", "dstPort", "proto", "ipVersion", "vlan", "firstSeen", "lastSeen", "s2dPackets"];
      nums.push("s2dBytes", "d2sPackets", "d2sBytes", "srcFlags", "dstFlags", "endReason", "domain");
      nums.push("exportVersion", "samplingRate", "rawPackets", "rawBytes", "inIf", "outIf");
      const meta = ["src", "dst", "ipv6", "l7", "l7Len", "cid", "cidLen", "exporter", "exporterLen"];
      const report = ["start", "end", "srcStart", "srcEnd", "dstStart", "dstEnd", "cidStart"];
      const same = (o: Readonly<Record<string, number>> | undefined, names: string[]) =>
        o !== undefined && Object.keys(o).length === names.length && names.every((n, i) => o[n] === i);
      if (
        typeof engine.encodeCollected === "function" &&
        l?.fixedMax === FIXED_MAX &&
        same(l.nums, nums) &&
        same(l.meta, meta) &&
        same(l.report, report) &&
        nums.length === E_NUMS &&
        meta.length === M_FIELDS &&
        report.length === X_FIELDS
      ) {
        nativeEncoder = engine.encodeCollected;
        nativeHashes = l.cidFromTuple === CID_FROM_TUPLE;
      }
    } catch {
      nativeEncoder = null;
    }
  }
  return nativeEncoder;
}

export class FlowRecords {
  length = 0;
  private readonly list: IngestFlow[] = [];
  private arena: Buffer = Buffer.allocUnsafe(ARENA_BYTES);
  private pos = 0;
  private readonly names = new NameCache();
  /** The exporter of the last record, and its UTF-8 bytes. */
  private exporter = "";
  private exporterBytes: Uint8Array = new Uint8Array(0);
  private readonly encode: EncodeCollected | null;
  /** Whether communityId() leaves the hashing to the native encoder. */
  private readonly hashes: boolean;
  private readonly decodesSets: boolean;
  /** Records listed and not yet encoded: the last `pending` of the batch, their addresses in `source`. */
  private pending = 0;
  private pendingBytes = 0;
  private source: Uint8Array | null = null;
  private readonly nums = new Float64Array(PENDING_MAX * E_NUMS);
  private readonly meta = new Int32Array(PENDING_MAX * M_FIELDS);
  private readonly report = new Int32Array(PENDING_MAX * X_FIELDS);
  /** addSet's context, its records' one-way flags and what the decoder reports. */
  private readonly setContext = new Float64Array(SET_CONTEXT_FIELDS).fill(0);
  private readonly oneWay = new Uint8Array(PENDING_MAX);
  private readonly setOut = new Int32Array(3);
  /** The pending records' strings: L7 names and the exporter once each while they repeat. */
  private strings = new Uint8Array(STRINGS_BYTES);
  private stringsPos = 0;
  private l7Text = "";
  private l7At = -1;
  private exporterAt = -1;

  /** native: whether the addon may write the encodings when it is there (tests compare). */
  constructor(native = true) {
    this.encode = native ? encoder() : null;
    this.hashes = this.encode !== null && nativeHashes;
    this.decodesSets = this.hashes && nativeSets() !== null;
    // flowEndReason 0..5 as to-flow.ts maps them.
    this.setContext.set(END_REASONS, S_END_REASONS);
  }

  /** Whether addSet() may be used: data sets decoded in C, their records encoded and hashed there. */
  get setsNative(): boolean {
    return this.decodesSets;
  }

  /** Whether the encodings are written in C. */
  get native(): boolean {
    return this.encode !== null;
  }

  /** The records: the first `length` are this batch's, encoded. */
  get records(): IngestFlow[] {
    if (this.pending !== 0) this.flush();
    return this.list;
  }

  /** The record to fill next; commit() adds it to the batch. */
  next(): IngestFlow {
    let f = this.list[this.length];
    if (f === undefined) {
      f = new IngestFlow();
      this.list.push(f);
    }
    return f;
  }

  /**
   * The Community ID of a record whose addresses are b[srcOff..] and b[dstOff..] (both given),
   * for commit(): computed by the native encoder as it writes the record when it can (in JS a
   * SHA-1 costs as much as decoding the record), else here.
   */
  communityId(
    b: Uint8Array,
    srcOff: number,
    dstOff: number,
    ipv6: boolean,
    proto: number,
    sport: number,
    dport: number,
  ): CommunityIdOf {
    if (this.hashes && srcOff >= 0 && dstOff >= 0 && sport >>> 16 === 0 && dport >>> 16 === 0) {
      return (sport << 16) | dport | 0;
    }
    return communityIdAt(b, srcOff, dstOff, ipv6, proto, sport, dport);
  }

  /**
   * Adds the flows of a data set's records, decoded in C (netflow/native-set.ts): msg[start,
   * end) as records of recLen bytes with the fields `plan` gives, at one sampling rate, as
   * to-flow.ts would add them one by one. Returns the records read; counts gets those that were
   * no flow (no address, bad values).
   */
  addSet(
    ctx: SetContext,
    plan: Int32Array,
    recLen: number,
    start: number,
    end: number,
    rate: number,
    counts: Int32Array,
  ): number {
    const decode = (nativeSets() as NonNullable<ReturnType<typeof nativeSets>>).decode;
    const b = ctx.bytes;
    if (ctx.exporter !== this.exporter) {
      this.exporter = ctx.exporter;
      this.exporterBytes = Buffer.from(ctx.exporter, "utf8");
      this.exporterAt = -1;
    }
    const ex = this.exporterBytes;
    const c = this.setContext;
    c[S_EXPORT_MS] = ctx.exportMs;
    c[S_SYS_UPTIME_MS] = ctx.sysUptimeMs;
    c[S_SYSTEM_INIT_MS] = ctx.systemInitMs;
    c[S_RATE] = rate;
    c[S_COMMUNITY_ID] = ctx.communityId && this.hashes ? 1 : 0;
    c[S_EXPORTER_LEN] = ex.length;
    c[S_L7_LEN] = UNKNOWN_L7.length;
    c[S_DOMAIN] = ctx.domain;
    c[S_VERSION] = ctx.version;
    const perRecord = FIXED_MAX + UNKNOWN_L7.length + ex.length + CID_BYTES;
    const out = this.setOut;
    counts[0] = 0;
    counts[1] = 0;
    let pos = start;
    while (end - pos >= recLen) {
      if (b !== this.source && this.pending !== 0) this.flush();
      this.source = b;
      // The set's strings: "Unknown" and the exporter, placed once while they repeat.
      if (this.stringsPos + UNKNOWN_L7.length + ex.length > this.strings.length) {
        if (this.pending !== 0) this.flush();
        this.source = b;
        if (UNKNOWN_L7.length + ex.length > this.strings.length) this.strings = new Uint8Array(2 * ex.length + 64);
      }
      const s = this.strings;
      if (this.l7Text !== UNKNOWN_L7 || this.l7At < 0) {
        this.l7Text = UNKNOWN_L7;
        this.l7At = this.stringsPos;
        for (let i = 0; i < UNKNOWN_L7.length; i++) s[this.stringsPos++] = UNKNOWN_L7.charCodeAt(i);
      }
      if (ex.length !== 0 && this.exporterAt < 0) {
        this.exporterAt = this.stringsPos;
        s.set(ex, this.stringsPos);
        this.stringsPos += ex.length;
      }
      c[S_L7_AT] = this.l7At;
      c[S_EXPORTER_AT] = this.exporterAt;
      const row = this.pending;
      const rows = decode(
        b,
        pos,
        end,
        plan,
        plan.length >> 1,
        recLen,
        c,
        this.nums,
        this.meta,
        this.oneWay,
        row,
        PENDING_MAX - row,
        out,
      );
      if (rows < 0)
        throw new Error(`collector: the native set decoder refused a plan it accepted (${plan.length >> 1} fields)`);
      counts[0] += out[1] as number;
      counts[1] += out[2] as number;
      pos = out[0] as number;
      for (let k = row; k < row + rows; k++) this.adopt(k);
      this.pending = row + rows;
      this.pendingBytes += rows * perRecord;
      if (this.pending === PENDING_MAX) this.flush();
    }
    return (pos - start) / recLen;
  }

  /** The record of pending row k, from the numbers the set decoder wrote (what toFlow sets). */
  private adopt(k: number): void {
    const f = this.next();
    const x = this.nums;
    const n = k * E_NUMS;
    f.srcPort = x[n] as number;
    f.dstPort = x[n + 1] as number;
    f.proto = x[n + 2] as number;
    f.ipVersion = x[n + 3] as number;
    f.vlan = x[n + 4] as number;
    f.firstSeenMs = x[n + 5] as number;
    f.lastSeenMs = x[n + 6] as number;
    f.srcToDstPackets = x[n + 7] as number;
    f.srcToDstBytes = x[n + 8] as number;
    f.dstToSrcPackets = x[n + 9] as number;
    f.dstToSrcBytes = x[n + 10] as number;
    f.srcTcpFlags = x[n + 11] as number;
    f.dstTcpFlags = x[n + 12] as number;
    f.endReason = x[n + 13] as number;
    f.observationDomain = x[n + 14] as number;
    f.exportVersion = x[n + 15] as number;
    f.samplingRate = x[n + 16] as number;
    f.rawPackets = x[n + 17] as number;
    f.rawBytes = x[n + 18] as number;
    f.inIf = x[n + 19] as number;
    f.outIf = x[n + 20] as number;
    f.l7 = UNKNOWN_L7;
    resetProbeFields(f);
    f.oneWay = this.oneWay[k] === 1;
    f.exporter = this.exporter;
    this.length++;
  }

  /** ASCII names from the wire (ntop's L7 name), made into a string once. */
  name(b: Uint8Array, start: number, end: number): string {
    return this.names.text(b, start, end);
  }

  /**
   * Adds `f` (from next(), every field but the addresses, buf, start and end set) with its
   * addresses from wire bytes: b[srcOff..] and b[dstOff..], 4 or 16 bytes as `ipv6` says; an
   * offset of -1 is the unspecified address. Writes the record's encoding and points the
   * record's addresses, Community ID and bytes into it.
   */
  commit(
    f: IngestFlow,
    b: Uint8Array,
    srcOff: number,
    dstOff: number,
    ipv6: boolean,
    communityId: CommunityIdOf,
  ): void {
    if (f.exporter !== this.exporter) {
      this.exporter = f.exporter;
      this.exporterBytes = Buffer.from(f.exporter, "utf8");
      this.exporterAt = -1;
    }
    if (this.encode === null) {
      // Numbers only come from communityId() with an encoder that hashes.
      this.encodeNow(f, b, srcOff, dstOff, ipv6, typeof communityId === "string" ? communityId : "");
    } else this.enqueue(f, b, srcOff, dstOff, ipv6, communityId);
  }

  /** Lists a record for the native encoder (see flush()). */
  private enqueue(
    f: IngestFlow,
    b: Uint8Array,
    srcOff: number,
    dstOff: number,
    ipv6: boolean,
    cidOf: CommunityIdOf,
  ): void {
    if (b !== this.source && this.pending !== 0) this.flush();
    this.source = b;
    const ex = this.exporterBytes;
    const l7 = f.l7;
    const communityId = typeof cidOf === "string" ? cidOf : "";
    const stringBytes = l7.length + communityId.length + ex.length;
    if (this.stringsPos + stringBytes > this.strings.length) {
      if (this.pending !== 0) this.flush();
      this.source = b;
      if (stringBytes > this.strings.length) this.strings = new Uint8Array(2 * stringBytes);
    }
    const s = this.strings;
    const k = this.pending;
    const m = k * M_FIELDS;
    const meta = this.meta;
    meta[m + M_SRC] = srcOff;
    meta[m + M_DST] = dstOff;
    meta[m + M_IPV6] = ipv6 ? 1 : 0;
    if (l7.length !== 0 && (l7 !== this.l7Text || this.l7At < 0)) {
      this.l7Text = l7;
      this.l7At = this.stringsPos;
      for (let i = 0; i < l7.length; i++) s[this.stringsPos++] = l7.charCodeAt(i);
    }
    meta[m + M_L7] = this.l7At;
    meta[m + M_L7_LEN] = l7.length;
    if (typeof cidOf === "number") {
      meta[m + M_CID] = cidOf;
      meta[m + M_CID_LEN] = CID_FROM_TUPLE;
      this.pendingBytes += CID_BYTES;
    } else {
      meta[m + M_CID] = this.stringsPos;
      meta[m + M_CID_LEN] = communityId.length;
      for (let i = 0; i < communityId.length; i++) s[this.stringsPos++] = communityId.charCodeAt(i);
    }
    if (ex.length !== 0 && this.exporterAt < 0) {
      this.exporterAt = this.stringsPos;
      s.set(ex, this.stringsPos);
      this.stringsPos += ex.length;
    }
    meta[m + M_EXPORTER] = this.exporterAt;
    meta[m + M_EXPORTER_LEN] = ex.length;
    const x = this.nums;
    const n = k * E_NUMS;
    x[n] = f.srcPort;
    x[n + 1] = f.dstPort;
    x[n + 2] = f.proto;
    x[n + 3] = f.ipVersion;
    x[n + 4] = f.vlan;
    x[n + 5] = f.firstSeenMs;
    x[n + 6] = f.lastSeenMs;
    x[n + 7] = f.srcToDstPackets;
    x[n + 8] = f.srcToDstBytes;
    x[n + 9] = f.dstToSrcPackets;
    x[n + 10] = f.dstToSrcBytes;
    x[n + 11] = f.srcTcpFlags;
    x[n + 12] = f.dstTcpFlags;
    x[n + 13] = f.endReason;
    x[n + 14] = f.observationDomain;
    x[n + 15] = f.exportVersion;
    x[n + 16] = f.samplingRate;
    x[n + 17] = f.rawPackets;
    x[n + 18] = f.rawBytes;
    x[n + 19] = f.inIf;
    x[n + 20] = f.outIf;
    this.pendingBytes += FIXED_MAX + stringBytes;
    this.pending = k + 1;
    this.length++;
    if (this.pending === PENDING_MAX) this.flush();
  }

  /** Writes the listed records' encodings (in C) and points the records into them. */
  private flush(): void {
    const n = this.pending;
    const encode = this.encode as EncodeCollected;
    if (this.pos + this.pendingBytes > this.arena.length) {
      this.arena = Buffer.allocUnsafe(Math.max(ARENA_BYTES, this.pendingBytes));
      this.pos = 0;
    }
    const a = this.arena;
    const src = this.source as Uint8Array;
    const end = encode(a, this.pos, src, this.strings, this.nums, this.meta, n, this.report);
    if (end < 0) {
      // Only a bug here can cause it: the room and the strings' places are this class's own.
      throw new Error(`collector: encoding ${n} records failed (arena ${a.length} bytes from ${this.pos})`);
    }
    const rep = this.report;
    const meta = this.meta;
    const list = this.list;
    const first = this.length - n;
    for (let k = 0; k < n; k++) {
      const f = list[first + k] as IngestFlow;
      const x = k * X_FIELDS;
      f.buf = a;
      f.start = rep[x] as number;
      f.end = rep[x + 1] as number;
      f.setSrcAddrBytes(rep[x + 2] as number, rep[x + 3] as number);
      f.setDstAddrBytes(rep[x + 4] as number, rep[x + 5] as number);
      const cid = rep[x + 6] as number;
      if (cid >= 0) f.setCommunityIdBytes(cid, cid + (meta[k * M_FIELDS + M_CID_LEN] as number));
      else f.communityId = "";
      f.message = null;
    }
    this.pos = end;
    this.pending = 0;
    this.pendingBytes = 0;
    this.source = null;
    this.stringsPos = 0;
    this.l7At = -1;
    this.exporterAt = -1;
  }

  /** Writes the record's encoding now, in JS (no addon: the reference the native one matches). */
  private encodeNow(
    f: IngestFlow,
    b: Uint8Array,
    srcOff: number,
    dstOff: number,
    ipv6: boolean,
    communityId: string,
  ): void {
    const ex = this.exporterBytes;
    const need = FIXED_MAX + ex.length + f.l7.length + communityId.length;
    if (this.pos + need > this.arena.length) {
      // Records already in the batch keep the old buffer: it is theirs until clear().
      this.arena = Buffer.allocUnsafe(Math.max(ARENA_BYTES, need));
      this.pos = 0;
    }
    const a = this.arena;
    const start = this.pos;
    let p = start;
    let q = addressField(a, p, T_SRC_ADDR, b, srcOff, ipv6);
    f.setSrcAddrBytes(p + 2, q);
    p = uintField(a, q, T_SRC_PORT, f.srcPort);
    q = addressField(a, p, T_DST_ADDR, b, dstOff, ipv6);
    f.setDstAddrBytes(p + 2, q);
    p = q;
    p = uintField(a, p, T_DST_PORT, f.dstPort);
    p = uintField(a, p, T_PROTO, f.proto);
    p = uintField(a, p, T_IP_VERSION, f.ipVersion);
    p = uintField(a, p, T_VLAN, f.vlan);
    p = uintField(a, p, T_FIRST_SEEN, f.firstSeenMs);
    p = uintField(a, p, T_LAST_SEEN, f.lastSeenMs);
    p = uintField(a, p, T_S2D_PACKETS, f.srcToDstPackets);
    p = uintField(a, p, T_S2D_BYTES, f.srcToDstBytes);
    p = uintField(a, p, T_D2S_PACKETS, f.dstToSrcPackets);
    p = uintField(a, p, T_D2S_BYTES, f.dstToSrcBytes);
    p = uintField(a, p, T_SRC_FLAGS, f.srcTcpFlags);
    p = uintField(a, p, T_DST_FLAGS, f.dstTcpFlags);
    if (f.l7.length !== 0) p = asciiField(a, tag2(a, p, F_L7, 2), f.l7);
    if (f.endReason !== 0) p = varint(a, tag2(a, p, F_END_REASON, 0), f.endReason);
    if (communityId.length !== 0) {
      const t = tag2(a, p, F_COMMUNITY_ID, 2);
      p = asciiField(a, t, communityId);
      f.setCommunityIdBytes(p - communityId.length, p);
    } else f.communityId = "";
    if (ex.length !== 0) {
      p = varint(a, tag2(a, p, F_EXPORTER, 2), ex.length);
      a.set(ex, p);
      p += ex.length;
    }
    if (f.observationDomain !== 0) p = varint(a, tag2(a, p, F_DOMAIN, 0), f.observationDomain);
    p = varint(a, tag2(a, p, F_EXPORT_VERSION, 0), f.exportVersion);
    p = uintField2(a, p, F_SAMPLING_RATE, f.samplingRate);
    p = uintField2(a, p, F_RAW_PACKETS, f.rawPackets);
    p = uintField2(a, p, F_RAW_BYTES, f.rawBytes);
    p = uintField2(a, p, F_IN_IF, f.inIf);
    p = uintField2(a, p, F_OUT_IF, f.outIf);
    f.buf = a;
    f.start = start;
    f.end = p;
    f.message = null;
    this.pos = p;
    this.length++;
  }

  /** Empties the batch: its records and their bytes are reused from here on. */
  clear(): void {
    this.length = 0;
    this.pos = 0;
    this.pending = 0;
    this.pendingBytes = 0;
    this.source = null;
    this.stringsPos = 0;
    this.l7At = -1;
    this.exporterAt = -1;
    if (this.list.length > KEEP_RECORDS) this.list.length = KEEP_RECORDS;
    if (this.strings.length > STRINGS_BYTES) this.strings = new Uint8Array(STRINGS_BYTES);
  }

  /** The batch's records from `from` on as messages (decoded from their encodings). */
  messages(from = 0): pb.Flow[] {
    const out: pb.Flow[] = [];
    const records = this.records;
    for (let i = from; i < this.length; i++) out.push((records[i] as IngestFlow).toMessage());
    return out;
  }
}

/**
 * An address field at `p`: tag, length, then the text of b[off..] (4 or 16 bytes as `ipv6`
 * says; off -1: the unspecified address). Returns the end; the text is at p + 2.
 */
function addressField(a: Uint8Array, p: number, tag: number, b: Uint8Array, off: number, ipv6: boolean): number {
  a[p] = tag;
  const q =
    off < 0
      ? writeUnspecified(a, p + 2, ipv6)
      : ipv6
        ? writeIpv6Text(a, p + 2, b, off)
        : writeIpv4Text(a, p + 2, b, off);
  a[p + 1] = q - p - 2;
  return q;
}

/** "0.0.0.0" or "::", for a record that lacks one address of its family. */
function writeUnspecified(a: Uint8Array, p: number, ipv6: boolean): number {
  if (ipv6) {
    a[p] = 0x3a;
    a[p + 1] = 0x3a;
    return p + 2;
  }
  a[p] = 0x30;
  a[p + 1] = 0x2e;
  a[p + 2] = 0x30;
  a[p + 3] = 0x2e;
  a[p + 4] = 0x30;
  a[p + 5] = 0x2e;
  a[p + 6] = 0x30;
  return p + 7;
}

/** Resets what a decoder does not set for a collected record (the probe-only fields). */
export function resetProbeFields(f: IngestFlow): void {
  f.l7Category = "";
  f.clientNwLatencyUs = ABSENT;
  f.serverNwLatencyUs = ABSENT;
  f.applLatencyUs = ABSENT;
  f.srcRetransmits = 0;
  f.dstRetransmits = 0;
  f.srcOutOfOrder = 0;
  f.dstOutOfOrder = 0;
  f.dnsRcode = ABSENT;
  f.riskCount = 0;
}
