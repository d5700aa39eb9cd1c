// The flows the API lists: the active set (flows whose last record was an active-timeout update)
// and a ring of recently ended ones. The active set is what makes a long flow count once: a
// record whose flow is in it is a continuation. Both are bounded; entries are recycled between
// them so a steady stream of flows allocates no entries.
//
// Flows are kept compactly: the latest record as a copy of its encoded bytes and the few fields
// queries filter and sort on, not a decoded message; the full record is decoded when the API
// shows it. Decoded messages kept for the 110k flows the store holds would outlive the young
// generation and make the garbage collector copy and then mark them: ingest paid a fifth of its
// time for that. Ended flows sit in a ring of flat arrays written in order, and a flow of one
// record (most of them) goes straight there, with no entry at all; entries are only made for
// active flows, and for the ring's flows when a query reads them. A record looks for its flow
// among the active ones by key only when a count of the active keys' hashes says it may be
// there, so that most records never make their key string.
import { type NativeEngine, nativeEngine } from "@flowlens/agent/engine";
import { pb } from "@flowlens/contracts";
import { LocalNetworks } from "../networks.js";
import { type IngestFlow, wireText } from "./ingest-flow.js";
import { type LruLinks, LruList } from "./lru.js";
import { toUint64 } from "./num.js";
import { page } from "./select.js";
import type { FlowQuery, Page, StoredFlow } from "./types.js";

/** Longest Community ID used as a key ("1:" + base64 of SHA-1 is 30 characters). */
const MAX_COMMUNITY_ID = 64;
/** Spare entries kept for reuse. */
const POOL_MAX = 1024;
/** Record buffers an entry keeps when recycled; a larger one (a huge record) is let go. */
const KEEP_BUFFER_MAX = 4096;
/** Record bytes a ring slot holds in place; a longer record is copied aside. */
const RING_RECORD_BYTES = 512;
const ACTIVE_HASH_BUCKETS = 1 << 16;

export class FlowEntry implements LruLinks<FlowEntry> {
  lruPrev: FlowEntry | null = null;
  lruNext: FlowEntry | null = null;
  /** flowKeyHash of its key, while active. */
  keyHash = 0;
  node = "";
  /** The flow's key; null until asked for in an entry copied out of the ring. */
  private keyText: string | null = "";
  active = false;
  /** Whether a record is held (entries in the pool hold none). */
  held = false;
  /** The latest record when it came as a message; otherwise its bytes are in `bytes`. */
  message: pb.Flow | null = null;
  bytes: Uint8Array | null = null;
  byteLength = 0;
  /** Fields of the latest record that queries filter and sort on. */
  srcAddr = "";
  dstAddr = "";
  l7 = "";
  proto = 0;
  lastSeenMs = 0;
  exportVersion = 0;
  /** From the first record; exactFirstSeenMs when the number is not exact (beyond 2^53). */
  firstSeenMs = 0;
  exactFirstSeenMs: bigint | null = null;
  /** Ingest wall clock of the latest record. */
  receivedMs = 0;
  srcToDstBytes = 0;
  srcToDstPackets = 0;
  dstToSrcBytes = 0;
  dstToSrcPackets = 0;
  srcRetransmits = 0;
  dstRetransmits = 0;
  srcOutOfOrder = 0;
  dstOutOfOrder = 0;
  rawPackets = 0;
  rawBytes = 0;
  srcTcpFlags = 0;
  dstTcpFlags = 0;

  get key(): string {
    if (this.keyText === null) this.keyText = flowKey(this.record());
    return this.keyText;
  }

  /** For an entry copied out of the ring: the key is worked out from the record if asked for. */
  forgetKey(): void {
    this.keyText = null;
  }

  start(node: string, key: string, f: IngestFlow, now: number): void {
    this.node = node;
    this.keyText = key;
    this.firstSeenMs = f.firstSeenMs;
    this.exactFirstSeenMs = Number.isSafeInteger(f.firstSeenMs) ? null : f.exactFirstSeenMs();
    this.srcToDstBytes = 0;
    this.srcToDstPackets = 0;
    this.dstToSrcBytes = 0;
    this.dstToSrcPackets = 0;
    this.srcRetransmits = 0;
    this.dstRetransmits = 0;
    this.srcOutOfOrder = 0;
    this.dstOutOfOrder = 0;
    this.rawPackets = 0;
    this.rawBytes = 0;
    this.srcTcpFlags = 0;
    this.dstTcpFlags = 0;
    this.receivedMs = now;
  }

  /**
   * Adds a record's deltas (counters already converted by the caller) and keeps the record.
   * srcAddr, dstAddr and l7 are the record's, as strings the state keeps anyway (the host
   * table's addresses, the application's name), so that an entry pins no string of its own.
   */
  update(
    f: IngestFlow,
    now: number,
    s2dBytes: number,
    s2dPackets: number,
    d2sBytes: number,
    d2sPackets: number,
    srcAddr: string,
    dstAddr: string,
    l7: string,
  ): void {
    this.keep(f);
    this.srcAddr = srcAddr;
    this.dstAddr = dstAddr;
    this.l7 = l7;
    this.proto = f.proto;
    this.lastSeenMs = f.lastSeenMs;
    this.exportVersion = f.exportVersion;
    this.receivedMs = now;
    this.srcToDstBytes += s2dBytes;
    this.srcToDstPackets += s2dPackets;
    this.dstToSrcBytes += d2sBytes;
    this.dstToSrcPackets += d2sPackets;
    // Small per-record counts; `>>> 0` turns anything that is not a uint32 into one, never NaN.
    this.srcRetransmits += f.srcRetransmits >>> 0;
    this.dstRetransmits += f.dstRetransmits >>> 0;
    this.srcOutOfOrder += f.srcOutOfOrder >>> 0;
    this.dstOutOfOrder += f.dstOutOfOrder >>> 0;
    this.srcTcpFlags |= f.srcTcpFlags;
    this.dstTcpFlags |= f.dstTcpFlags;
    if (f.exportVersion !== 0) {
      const rp = f.rawPackets;
      const rb = f.rawBytes;
      if (rp > 0) this.rawPackets += rp;
      if (rb > 0) this.rawBytes += rb;
    }
  }

  private keep(f: IngestFlow): void {
    this.held = true;
    if (f.message !== null || f.buf === null) {
      this.message = f.toMessage();
      this.byteLength = 0;
      return;
    }
    this.message = null;
    const n = f.end - f.start;
    let b = this.bytes;
    if (b === null || b.length < n) {
      // Rounded up so that a flow whose records grow a little does not reallocate each time.
      b = new Uint8Array((n + 63) & ~63);
      this.bytes = b;
    }
    const src = f.buf;
    // A plain view: Buffer's subarray() would make a Buffer, which costs more than the copy.
    b.set(new Uint8Array(src.buffer, src.byteOffset + f.start, n));
    this.byteLength = n;
  }

  /** Lets go of the record (the entry goes back to the pool). */
  release(): void {
    this.held = false;
    this.message = null;
    this.srcAddr = "";
    this.dstAddr = "";
    this.l7 = "";
    this.keyText = "";
    if (this.bytes !== null && this.bytes.length > KEEP_BUFFER_MAX) this.bytes = null;
  }

  /** The latest record, decoded. */
  record(): pb.Flow {
    if (this.message !== null) return this.message;
    return pb.Flow.decode((this.bytes as Uint8Array).subarray(0, this.byteLength));
  }

  get bytesTotal(): number {
    return this.srcToDstBytes + this.dstToSrcBytes;
  }

  get packets(): number {
    return this.srcToDstPackets + this.dstToSrcPackets;
  }

  /** The record as the API shows it: the latest one with the counters of the whole flow. */
  stored(): StoredFlow {
    const f = this.record();
    return {
      node: this.node,
      state: this.active ? "active" : "ended",
      receivedMs: this.receivedMs,
      flow: {
        ...f,
        firstSeenMs: this.exactFirstSeenMs ?? BigInt(this.firstSeenMs),
        srcToDstBytes: toUint64(this.srcToDstBytes),
        srcToDstPackets: toUint64(this.srcToDstPackets),
        dstToSrcBytes: toUint64(this.dstToSrcBytes),
        dstToSrcPackets: toUint64(this.dstToSrcPackets),
        srcRetransmits: this.srcRetransmits,
        dstRetransmits: this.dstRetransmits,
        srcOutOfOrder: this.srcOutOfOrder,
        dstOutOfOrder: this.dstOutOfOrder,
        srcTcpFlags: this.srcTcpFlags,
        dstTcpFlags: this.dstTcpFlags,
        rawPackets: f.exportVersion !== 0 ? toUint64(this.rawPackets) : f.rawPackets,
        rawBytes: f.exportVersion !== 0 ? toUint64(this.rawBytes) : f.rawBytes,
      },
    };
  }
}

/** What flowKey reads of a record. */
interface KeyFields {
  communityId: string;
  srcAddr: string;
  srcPort: number;
  dstAddr: string;
  dstPort: number;
  proto: number;
  vlan: number;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * A hash of flowKey(f) (FNV-1a over its characters), read straight from the record's bytes when
 * they hold the key's parts: a Community ID as it came on the wire, or (no Community ID) the
 * addresses' text, the numbers added as their digits. Then no string is made for it.
 */
export function flowKeyHash(f: IngestFlow): number {
  const buf = f.buf;
  if (buf !== null) {
    const start = f.communityIdStart;
    const end = f.communityIdEnd;
    if (start >= 0) {
      if (end > start && end - start <= MAX_COMMUNITY_ID) {
        let h = FNV_OFFSET;
        let or = 0;
        for (let i = start; i < end; i++) {
          const b = buf[i] as number;
          or |= b;
          h = Math.imul(h ^ b, FNV_PRIME);
        }
        // ASCII: the bytes are the key's characters.
        if (or < 0x80) return h | 0;
      }
    } else if (f.communityId.length === 0 && f.srcAddrStart >= 0 && f.dstAddrStart >= 0) {
      const h = tupleHash(f, buf);
      if (h !== NOT_HASHED) return h;
    }
  }
  const key = flowKey(f);
  let h = FNV_OFFSET;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), FNV_PRIME);
  return h | 0;
}

/** Not a hash tupleHash() can make (it returns int32s): the key's string must be hashed. */
export const NOT_HASHED = 2 ** 32;
const BAR = 0x7c;

/** FNV-1a of flowKey's 5-tuple form from the address bytes; NOT_HASHED if not ASCII or not uint32s. */
function tupleHash(f: IngestFlow, buf: Uint8Array): number {
  const { srcPort, dstPort, proto, vlan } = f;
  if (srcPort >>> 0 !== srcPort || dstPort >>> 0 !== dstPort || proto >>> 0 !== proto || vlan >>> 0 !== vlan) {
    return NOT_HASHED;
  }
  let h = FNV_OFFSET;
  let or = 0;
  for (let i = f.srcAddrStart, end = f.srcAddrEnd; i < end; i++) {
    const b = buf[i] as number;
    or |= b;
    h = Math.imul(h ^ b, FNV_PRIME);
  }
  h = hashDecimal(Math.imul(h ^ BAR, FNV_PRIME), srcPort);
  h = Math.imul(h ^ BAR, FNV_PRIME);
  for (let i = f.dstAddrStart, end = f.dstAddrEnd; i < end; i++) {
    const b = buf[i] as number;
    or |= b;
    h = Math.imul(h ^ b, FNV_PRIME);
  }
  h = hashDecimal(Math.imul(h ^ BAR, FNV_PRIME), dstPort);
  h = hashDecimal(Math.imul(h ^ BAR, FNV_PRIME), proto);
  h = hashDecimal(Math.imul(h ^ BAR, FNV_PRIME), vlan);
  return or < 0x80 ? h | 0 : NOT_HASHED;
}

/** FNV-1a steps over the decimal digits of a uint32, as `${n}` writes them. */
function hashDecimal(h: number, n: number): number {
  if (n < 10) return Math.imul(h ^ (0x30 + n), FNV_PRIME);
  let div = 10;
  while (div <= n / 10) div *= 10;
  for (; div >= 1; div /= 10) h = Math.imul(h ^ (0x30 + (((n / div) >>> 0) % 10)), FNV_PRIME);
  return h;
}

/** The key of a flow within its node: its Community ID, or the 5-tuple and VLAN without one. */
export function flowKey(f: KeyFields): string {
  const c = f.communityId;
  if (typeof c === "string" && c.length > 0 && c.length <= MAX_COMMUNITY_ID) return c;
  return `${f.srcAddr}|${f.srcPort}|${f.dstAddr}|${f.dstPort}|${f.proto}|${f.vlan}`;
}

export class FlowStore {
  private readonly activeByNode = new Map<string, Map<string, FlowEntry>>();
  /** Active flows by last update, oldest first: the eviction and expiry order. */
  private readonly activeLru = new LruList<FlowEntry>();
  private readonly recent: RecentRing;
  private readonly pool: FlowEntry[] = [];
  /**
   * Active flows by flowKeyHash, counted in buckets: a record whose bucket is empty continues
   * no active flow, which is most records, and is filed without making its key string.
   */
  private readonly activeHashes = new Uint32Array(ACTIVE_HASH_BUCKETS);
  /** The node map a batch is writing to: never dropped while in use, even if it empties. */
  private current: Map<string, FlowEntry> | null = null;
  /** Active flows dropped to stay within maxActive (their next record counts as a new flow). */
  activeEvictions = 0;
  /** Active flows with no update for ttlMs, moved to the ended ring. */
  activeExpirations = 0;
  /** Ended flows pushed out of the ring by newer ones. */
  recentEvictions = 0;

  constructor(
    readonly maxActive: number,
    readonly maxRecent: number,
    readonly ttlMs: number,
    /** Whether the ring's record copies may be made in C when the addon is there (tests compare). */
    native = true,
  ) {
    this.recent = new RecentRing(maxRecent, native);
  }

  get activeCount(): number {
    return this.activeLru.size;
  }

  get recentCount(): number {
    return this.recent.size;
  }

  /** Starts a batch from one node; returns the node's active flows, for record(). */
  begin(node: string): Map<string, FlowEntry> {
    let m = this.activeByNode.get(node);
    if (m === undefined) {
      m = new Map();
      this.activeByNode.set(node, m);
    }
    this.current = m;
    return m;
  }

  end(node: string): void {
    const m = this.current;
    this.current = null;
    this.recent.endBatch();
    if (m !== null && m.size === 0) this.activeByNode.delete(node);
  }

  /**
   * Files a record under its flow and returns whether it starts a new flow (false: a
   * continuation of an active one). `active` maps the node's flows, from begin().
   */
  record(
    node: string,
    active: Map<string, FlowEntry>,
    f: IngestFlow,
    now: number,
    s2dBytes: number,
    s2dPackets: number,
    d2sBytes: number,
    d2sPackets: number,
    /** null: the record's own, read from its bytes when needed (no string per record). */
    srcAddr: string | null,
    dstAddr: string | null,
    l7: string,
    /** flowKeyHash(f) when the caller has it (the host resolver makes it), else NOT_HASHED. */
    keyHash = NOT_HASHED,
  ): boolean {
    const stillActive = f.endReason === pb.EndReason.END_REASON_ACTIVE;
    const hash = keyHash === NOT_HASHED ? flowKeyHash(f) : keyHash;
    const bucket = hash & (ACTIVE_HASH_BUCKETS - 1);
    let key = "";
    if (stillActive || this.activeHashes[bucket] !== 0) {
      key = flowKey(f);
      const e = active.get(key);
      if (e !== undefined) {
        e.update(f, now, s2dBytes, s2dPackets, d2sBytes, d2sPackets, srcAddr ?? f.srcAddr, dstAddr ?? f.dstAddr, l7);
        if (stillActive) this.activeLru.touch(e);
        else {
          active.delete(key);
          this.activeLru.remove(e);
          this.unhash(e);
          this.toRecent(e);
        }
        return false;
      }
    }
    if (!stillActive) {
      // A flow in one record (most of them): straight into the ring, no entry.
      if (this.recent.push(node, f, now, s2dBytes, s2dPackets, d2sBytes, d2sPackets, srcAddr, dstAddr, l7)) {
        this.recentEvictions++;
      }
      return true;
    }
    const e = this.pool.pop() ?? new FlowEntry();
    e.start(node, key, f, now);
    e.update(f, now, s2dBytes, s2dPackets, d2sBytes, d2sPackets, srcAddr ?? f.srcAddr, dstAddr ?? f.dstAddr, l7);
    if (this.activeLru.size >= this.maxActive) this.evictOldest();
    e.active = true;
    e.keyHash = hash;
    this.activeHashes[bucket] = (this.activeHashes[bucket] as number) + 1;
    active.set(key, e);
    this.activeLru.push(e);
    return true;
  }

  /** Moves active flows not updated for ttlMs to the ended ring: their final record was lost. */
  expire(now: number): void {
    const limit = now - this.ttlMs;
    for (let h = this.activeLru.head; h !== null && h.receivedMs <= limit; h = this.activeLru.head) {
      this.removeActive(h);
      this.activeExpirations++;
      this.toRecent(h);
    }
  }

  private evictOldest(): void {
    const h = this.activeLru.head;
    if (h === null) return;
    this.removeActive(h);
    this.activeEvictions++;
    this.recycle(h);
  }

  private unhash(e: FlowEntry): void {
    const bucket = e.keyHash & (ACTIVE_HASH_BUCKETS - 1);
    this.activeHashes[bucket] = (this.activeHashes[bucket] as number) - 1;
  }

  private removeActive(e: FlowEntry): void {
    this.activeLru.remove(e);
    this.unhash(e);
    const m = this.activeByNode.get(e.node);
    if (m === undefined) return;
    m.delete(e.key);
    if (m.size === 0 && m !== this.current) this.activeByNode.delete(e.node);
  }

  private toRecent(e: FlowEntry): void {
    e.active = false;
    if (this.recent.pushEntry(e)) this.recentEvictions++;
    this.recycle(e);
  }

  private recycle(e: FlowEntry): void {
    // Drop the record now: a pooled entry must not pin a decoded flow.
    e.release();
    e.active = false;
    if (this.pool.length < POOL_MAX) this.pool.push(e);
  }

  query(q: FlowQuery): Page<StoredFlow> {
    const match = flowFilter(q);
    const hits: FlowEntry[] = [];
    if (q.state !== "ended") for (const e of this.activeLru) if (match(e)) hits.push(e);
    if (q.state !== "active") {
      for (const e of this.recent.entries()) if (match(e)) hits.push(e);
    }
    return page(hits, flowOrder(q), q.offset, q.limit, (e) => e.stored());
  }
}

function flowFilter(q: FlowQuery): (e: FlowEntry) => boolean {
  // Throws CidrError on a bad network, as the host query does: the API validates it first.
  const net = q.network !== undefined && q.network !== "" ? new LocalNetworks([q.network]) : undefined;
  const { host, application: app, proto, node, sinceMs, untilMs } = q;
  return (e) => {
    if (!e.held) return false;
    if (host !== undefined && host !== "" && e.srcAddr !== host && e.dstAddr !== host) return false;
    if (net !== undefined && !net.isLocal(e.srcAddr) && !net.isLocal(e.dstAddr)) return false;
    if (app !== undefined && app !== "" && !applicationMatches(e.l7, app)) return false;
    if (proto !== undefined && e.proto !== proto) return false;
    if (node !== undefined && node !== "" && e.node !== node) return false;
    if (sinceMs !== undefined && e.lastSeenMs < sinceMs) return false;
    if (untilMs !== undefined && e.firstSeenMs > untilMs) return false;
    return true;
  };
}

/**
 * nDPI names are "Master.App" ("TLS.Google"): asking for "TLS" or "Google" finds the flow too,
 * as ntopng's application filter does.
 */
export function applicationMatches(l7: string, app: string): boolean {
  if (l7 === app) return true;
  const dot = l7.indexOf(".");
  return dot >= 0 && (l7.slice(0, dot) === app || l7.slice(dot + 1) === app);
}

function flowOrder(q: FlowQuery): (a: FlowEntry, b: FlowEntry) => number {
  const sign = q.order === "asc" ? 1 : -1;
  const value: (e: FlowEntry) => number =
    q.sort === "packets"
      ? (e) => e.packets
      : q.sort === "lastSeen"
        ? (e) => e.lastSeenMs
        : q.sort === "firstSeen"
          ? (e) => e.firstSeenMs
          : (e) => e.bytesTotal;
  // Ties in a stable order, so that pages do not overlap or skip.
  return (a, b) =>
    sign * (value(a) - value(b)) ||
    a.receivedMs - b.receivedMs ||
    (a.node < b.node ? -1 : a.node > b.node ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/** Longest record ByteCopier copies through DataViews; set() of a view wins beyond. */
const DATAVIEW_COPY_MAX = 192;
/** Copies ByteCopier lists before handing them to C. */
const PENDING_MAX = 1024;

type CopyRanges = NativeEngine["copyRanges"];
let nativeCopy: CopyRanges | null | undefined;

/** The addon's copyRanges, or null without the addon. */
function copyRanges(): CopyRanges | null {
  if (nativeCopy === undefined) {
    try {
      nativeCopy = nativeEngine().copyRanges ?? null;
    } catch {
      nativeCopy = null;
    }
  }
  return nativeCopy;
}

/**
 * Copies of record bytes into the ring. With the addon, a batch's copies (a couple of hundred
 * bytes each) are listed and made in C together, when the batch ends or before anything reads
 * or writes the ring's bytes otherwise: a call per record would cost more than its copy.
 * Without it, four bytes at a time through DataViews, for records up to some 200 bytes two to
 * three times as fast as set() of a view (which costs an object per record) or a byte loop.
 */
class ByteCopier {
  private readonly dst: DataView;
  private src: Uint8Array | null = null;
  private srcView: DataView | null = null;
  private readonly native: CopyRanges | null;
  /** Listed copies of `src`: (from, length, to) triples. */
  private readonly jobs: Int32Array;
  private pending = 0;

  constructor(
    private readonly dstBytes: Uint8Array,
    native = true,
  ) {
    this.dst = new DataView(dstBytes.buffer, dstBytes.byteOffset, dstBytes.byteLength);
    this.native = native ? copyRanges() : null;
    this.jobs = new Int32Array(this.native === null ? 0 : 3 * PENDING_MAX);
  }

  /** Copies src[from, from+len) to the destination at `at` (by flush() at the latest). */
  copy(at: number, src: Uint8Array, from: number, len: number): void {
    if (this.native !== null) {
      if (src !== this.src || this.pending === PENDING_MAX) {
        this.flush();
        this.src = src;
      }
      const j = 3 * this.pending++;
      const jobs = this.jobs;
      jobs[j] = from;
      jobs[j + 1] = len;
      jobs[j + 2] = at;
      return;
    }
    if (len > DATAVIEW_COPY_MAX) {
      this.dstBytes.set(new Uint8Array(src.buffer, src.byteOffset + from, len), at);
      return;
    }
    let sv = this.srcView;
    if (src !== this.src || sv === null) {
      // Records of one batch (or of one collector buffer) share theirs: one view per batch.
      sv = new DataView(src.buffer, src.byteOffset, src.byteLength);
      this.src = src;
      this.srcView = sv;
    }
    const dv = this.dst;
    let i = 0;
    for (; i + 4 <= len; i += 4) dv.setUint32(at + i, sv.getUint32(from + i, true), true);
    const d = this.dstBytes;
    for (; i < len; i++) d[at + i] = src[from + i] as number;
  }

  /** Makes the listed copies. */
  flush(): void {
    const n = this.pending;
    if (n === 0) return;
    this.pending = 0;
    const done = (this.native as CopyRanges)(this.src as Uint8Array, this.dstBytes, this.jobs, n);
    // Every range was checked against both arrays when listed: a short count is a bug here.
    if (done !== n) throw new Error(`flow ring: ${n - done} of ${n} record copies out of bounds`);
  }

  /** Makes the listed copies and lets go of the last source (a batch's buffer must not stay pinned). */
  release(): void {
    this.flush();
    this.src = null;
    this.srcView = null;
  }
}

// Ring slot fields: float64 (R_*) and int32 (I_*) offsets.
const R_RECEIVED = 0;
const R_FIRST_SEEN = 1;
const R_LAST_SEEN = 2;
const R_S2D_BYTES = 3;
const R_S2D_PACKETS = 4;
const R_D2S_BYTES = 5;
const R_D2S_PACKETS = 6;
const R_SRC_RETRANSMITS = 7;
const R_DST_RETRANSMITS = 8;
const R_SRC_OOO = 9;
const R_DST_OOO = 10;
const R_RAW_PACKETS = 11;
const R_RAW_BYTES = 12;
// Numbers as the record has them, whatever their range (a hand-made message's too).
const R_PROTO = 13;
const R_EXPORT_VERSION = 14;
const R_STRIDE = 16;
const I_SRC_FLAGS = 2;
const I_DST_FLAGS = 3;
const I_LENGTH = 4; // record bytes in the slot; -1: in `long`, -2: a message in `messages`
const I_SRC_AT = 0; // where the addresses are in the record's bytes when their strings are not kept
const I_SRC_END = 1;
const I_DST_AT = 5;
const I_DST_END = 6;
const I_STRIDE = 8;
const S_NODE = 0;
const S_SRC_ADDR = 1;
const S_DST_ADDR = 2;
const S_L7 = 3;
const S_STRIDE = 4;

/**
 * The recently ended flows: a ring of slots in flat arrays, written in order, so that the ended
 * flow of every record costs sequential writes and no object. Entries are only made when a
 * query reads the ring.
 */
class RecentRing {
  private readonly f64: Float64Array;
  private readonly i32: Int32Array;
  private readonly bytes: Uint8Array;
  /**
   * Node, source and destination address, application of each slot, side by side (S_*): the
   * four writes of a push land in one cache line, not in four arrays' lines. An address is null
   * when it is in the slot's record bytes (I_SRC_AT...), made into a string only when read.
   */
  private readonly strings: Array<string | null>;
  /** Rare cases, by slot: records longer than a slot, messages, firstSeenMs beyond 2^53. */
  private readonly long = new Map<number, Uint8Array>();
  private readonly messages = new Map<number, pb.Flow>();
  private readonly exactFirstSeen = new Map<number, bigint>();
  private next = 0;
  private readonly copier: ByteCopier;
  /** Set by take(): the slot held an older flow. */
  private displaced = false;
  size = 0;

  constructor(
    readonly capacity: number,
    native: boolean,
  ) {
    this.f64 = new Float64Array(capacity * R_STRIDE);
    this.i32 = new Int32Array(capacity * I_STRIDE);
    this.bytes = new Uint8Array(capacity * RING_RECORD_BYTES);
    this.copier = new ByteCopier(this.bytes, native);
    this.strings = new Array<string | null>(capacity * S_STRIDE).fill("");
  }

  /** The batch's records are done with: their buffer is not kept. */
  endBatch(): void {
    this.copier.release();
  }

  /** The next slot to write, or -1 when the ring keeps nothing. */
  private take(): number {
    if (this.capacity === 0) return -1;
    const slot = this.next;
    this.next = slot + 1 === this.capacity ? 0 : slot + 1;
    if (this.size < this.capacity) this.size++;
    else {
      if (this.long.size !== 0) this.long.delete(slot);
      if (this.messages.size !== 0) this.messages.delete(slot);
      if (this.exactFirstSeen.size !== 0) this.exactFirstSeen.delete(slot);
      this.displaced = true;
    }
    return slot;
  }

  /** Files a flow of one record. Returns whether an older flow was pushed out. */
  push(
    node: string,
    f: IngestFlow,
    now: number,
    s2dBytes: number,
    s2dPackets: number,
    d2sBytes: number,
    d2sPackets: number,
    /** null: read from the record's bytes when a query asks (see entry()). */
    srcAddr: string | null,
    dstAddr: string | null,
    l7: string,
  ): boolean {
    this.displaced = false;
    const slot = this.take();
    if (slot < 0) return false;
    const d = this.f64;
    const r = slot * R_STRIDE;
    d[r + R_RECEIVED] = now;
    d[r + R_FIRST_SEEN] = f.firstSeenMs;
    d[r + R_LAST_SEEN] = f.lastSeenMs;
    d[r + R_S2D_BYTES] = s2dBytes;
    d[r + R_S2D_PACKETS] = s2dPackets;
    d[r + R_D2S_BYTES] = d2sBytes;
    d[r + R_D2S_PACKETS] = d2sPackets;
    // As FlowEntry.update counts them, from zero.
    d[r + R_SRC_RETRANSMITS] = f.srcRetransmits >>> 0;
    d[r + R_DST_RETRANSMITS] = f.dstRetransmits >>> 0;
    d[r + R_SRC_OOO] = f.srcOutOfOrder >>> 0;
    d[r + R_DST_OOO] = f.dstOutOfOrder >>> 0;
    const collected = f.exportVersion !== 0;
    d[r + R_RAW_PACKETS] = collected && f.rawPackets > 0 ? f.rawPackets : 0;
    d[r + R_RAW_BYTES] = collected && f.rawBytes > 0 ? f.rawBytes : 0;
    const i = slot * I_STRIDE;
    const n = this.i32;
    d[r + R_PROTO] = f.proto;
    d[r + R_EXPORT_VERSION] = f.exportVersion;
    n[i + I_SRC_FLAGS] = 0 | f.srcTcpFlags;
    n[i + I_DST_FLAGS] = 0 | f.dstTcpFlags;
    if (!Number.isSafeInteger(f.firstSeenMs)) this.exactFirstSeen.set(slot, f.exactFirstSeenMs());
    const buf = f.buf;
    if (f.message !== null || buf === null) {
      this.messages.set(slot, f.toMessage());
      n[i + I_LENGTH] = -2;
    } else {
      const len = f.end - f.start;
      if (len <= RING_RECORD_BYTES) {
        this.copier.copy(slot * RING_RECORD_BYTES, buf, f.start, len);
        n[i + I_LENGTH] = len;
      } else {
        // A copy (Buffer's own slice() would be a view of buf).
        this.long.set(slot, Uint8Array.prototype.slice.call(buf, f.start, f.end));
        n[i + I_LENGTH] = -1;
      }
    }
    // An address not given is kept as where it lies in the record's bytes, when it does (the
    // record's own encoding, kept in the slot): no string per record, and no host table read.
    const bytesKept = n[i + I_LENGTH] !== -2;
    if (srcAddr === null) {
      if (bytesKept && f.srcAddrStart >= f.start && f.srcAddrEnd <= f.end) {
        n[i + I_SRC_AT] = f.srcAddrStart - f.start;
        n[i + I_SRC_END] = f.srcAddrEnd - f.start;
      } else srcAddr = f.srcAddr;
    }
    if (dstAddr === null) {
      if (bytesKept && f.dstAddrStart >= f.start && f.dstAddrEnd <= f.end) {
        n[i + I_DST_AT] = f.dstAddrStart - f.start;
        n[i + I_DST_END] = f.dstAddrEnd - f.start;
      } else dstAddr = f.dstAddr;
    }
    const t = this.strings;
    const k = slot * S_STRIDE;
    t[k + S_NODE] = node;
    t[k + S_SRC_ADDR] = srcAddr;
    t[k + S_DST_ADDR] = dstAddr;
    t[k + S_L7] = l7;
    return this.displaced;
  }

  /** Files an active flow that ended. Returns whether an older flow was pushed out. */
  pushEntry(e: FlowEntry): boolean {
    this.displaced = false;
    const slot = this.take();
    if (slot < 0) return false;
    const d = this.f64;
    const r = slot * R_STRIDE;
    d[r + R_RECEIVED] = e.receivedMs;
    d[r + R_FIRST_SEEN] = e.firstSeenMs;
    d[r + R_LAST_SEEN] = e.lastSeenMs;
    d[r + R_S2D_BYTES] = e.srcToDstBytes;
    d[r + R_S2D_PACKETS] = e.srcToDstPackets;
    d[r + R_D2S_BYTES] = e.dstToSrcBytes;
    d[r + R_D2S_PACKETS] = e.dstToSrcPackets;
    d[r + R_SRC_RETRANSMITS] = e.srcRetransmits;
    d[r + R_DST_RETRANSMITS] = e.dstRetransmits;
    d[r + R_SRC_OOO] = e.srcOutOfOrder;
    d[r + R_DST_OOO] = e.dstOutOfOrder;
    d[r + R_RAW_PACKETS] = e.rawPackets;
    d[r + R_RAW_BYTES] = e.rawBytes;
    const i = slot * I_STRIDE;
    const n = this.i32;
    d[r + R_PROTO] = e.proto;
    d[r + R_EXPORT_VERSION] = e.exportVersion;
    n[i + I_SRC_FLAGS] = e.srcTcpFlags;
    n[i + I_DST_FLAGS] = e.dstTcpFlags;
    if (e.exactFirstSeenMs !== null) this.exactFirstSeen.set(slot, e.exactFirstSeenMs);
    if (e.message !== null) {
      this.messages.set(slot, e.message);
      n[i + I_LENGTH] = -2;
    } else {
      const len = e.byteLength;
      const from = (e.bytes as Uint8Array).subarray(0, len);
      if (len <= RING_RECORD_BYTES) {
        // Copies listed earlier go first: one of them may be for this very slot.
        this.copier.flush();
        this.bytes.set(from, slot * RING_RECORD_BYTES);
        n[i + I_LENGTH] = len;
      } else {
        this.long.set(slot, from.slice());
        n[i + I_LENGTH] = -1;
      }
    }
    const t = this.strings;
    const k = slot * S_STRIDE;
    t[k + S_NODE] = e.node;
    t[k + S_SRC_ADDR] = e.srcAddr;
    t[k + S_DST_ADDR] = e.dstAddr;
    t[k + S_L7] = e.l7;
    return this.displaced;
  }

  /** Every flow in the ring as an entry of its own (for queries). */
  *entries(): IterableIterator<FlowEntry> {
    for (let slot = 0; slot < this.size; slot++) yield this.entry(slot);
  }

  private entry(slot: number): FlowEntry {
    this.copier.flush();
    const e = new FlowEntry();
    const d = this.f64;
    const r = slot * R_STRIDE;
    const i = slot * I_STRIDE;
    const n = this.i32;
    const t = this.strings;
    const k = slot * S_STRIDE;
    e.node = t[k + S_NODE] as string;
    e.forgetKey();
    e.active = false;
    e.held = true;
    const len = n[i + I_LENGTH] as number;
    if (len === -2) e.message = this.messages.get(slot) as pb.Flow;
    else if (len === -1) {
      e.bytes = this.long.get(slot) as Uint8Array;
      e.byteLength = e.bytes.length;
    } else {
      e.bytes = this.bytes.subarray(slot * RING_RECORD_BYTES, slot * RING_RECORD_BYTES + len);
      e.byteLength = len;
    }
    const bytes = e.bytes as Uint8Array;
    e.srcAddr = t[k + S_SRC_ADDR] ?? wireText(bytes, n[i + I_SRC_AT] as number, n[i + I_SRC_END] as number);
    e.dstAddr = t[k + S_DST_ADDR] ?? wireText(bytes, n[i + I_DST_AT] as number, n[i + I_DST_END] as number);
    e.l7 = t[k + S_L7] as string;
    e.proto = d[r + R_PROTO] as number;
    e.exportVersion = d[r + R_EXPORT_VERSION] as number;
    e.srcTcpFlags = n[i + I_SRC_FLAGS] as number;
    e.dstTcpFlags = n[i + I_DST_FLAGS] as number;
    e.lastSeenMs = d[r + R_LAST_SEEN] as number;
    e.firstSeenMs = d[r + R_FIRST_SEEN] as number;
    e.exactFirstSeenMs = this.exactFirstSeen.get(slot) ?? null;
    e.receivedMs = d[r + R_RECEIVED] as number;
    e.srcToDstBytes = d[r + R_S2D_BYTES] as number;
    e.srcToDstPackets = d[r + R_S2D_PACKETS] as number;
    e.dstToSrcBytes = d[r + R_D2S_BYTES] as number;
    e.dstToSrcPackets = d[r + R_D2S_PACKETS] as number;
    e.srcRetransmits = d[r + R_SRC_RETRANSMITS] as number;
    e.dstRetransmits = d[r + R_DST_RETRANSMITS] as number;
    e.srcOutOfOrder = d[r + R_SRC_OOO] as number;
    e.dstOutOfOrder = d[r + R_DST_OOO] as number;
    e.rawPackets = d[r + R_RAW_PACKETS] as number;
    e.rawBytes = d[r + R_RAW_BYTES] as number;
    return e;
  }
}
