// The host table: exact per-host counters for up to `capacity` hosts. Beyond that the least
// recently seen host is evicted (and counted).
//
// Hosts are slots in flat typed arrays, not objects. Ingest touches two hosts per record among
// some 100k, so nearly every touch misses the CPU caches, and on the machines we run on a miss
// costs 100 to 400 ns: the layout is what sets the ingest rate. A touch reads one line of a hash
// index (hash and slot side by side), then the host's record (counters, first peer and
// application, key bytes) in consecutive cache lines; LRU links sit in small dense arrays.
// With objects the same touch chased a Map bucket, the key string, the entry, its boxed
// doubles, two LRU neighbours, and Maps and cells for peers and applications: about ten
// misses, and 100k hosts' worth of objects for the garbage collector to mark.
//
// Addresses are looked up by their bytes, straight from the decoded record: a string is only
// made for a host seen for the first time. Keys are the addresses' UTF-8 bytes; a non-ASCII
// address (not an IP address, but the wire allows it) is first decoded and encoded again, so
// that two byte strings are one host exactly when they decode to one string.
//
// Per-host applications and peers are capped (CappedCounters' rule: the first `cellCap` keys
// counted apart, the rest as "other"). They live in the host's record too, the first key of each
// and 15 more: a host's counters, key and cells share one 4 KiB page, so that counting a record
// costs a single TLB miss per host, not one per structure. On the virtual machines we measured
// on, a TLB miss (a two-level page walk) costs more than the cache miss itself: this layout was
// a third faster than the same cells in a separate pool. A cap above 16 keys puts the keys
// beyond the 16th in blocks from a shared pool.
import { AddResult } from "./capped-counters.js";
import { NOT_HASHED } from "./flow-store.js";
import { type IngestFlow, wireText } from "./ingest-flow.js";
import { isAddress } from "./labels.js";
import type { NetworkEntry } from "./network-table.js";
import type { SeriesSet } from "./ring-series.js";
import { hostResolverFactory, type NativeHosts, tableBuffer } from "./table-memory.js";
import type { Counters } from "./types.js";

/** Reporters remembered per host: a host is seen by a few nodes, not by the whole cluster. */
export const MAX_NODES_PER_HOST = 8;
/** Longest address (labels.ts MAX_ADDRESS). */
const MAX_ADDRESS = 64;
/**
 * Key bytes kept in the record (any IPv6 text fits); a longer key is compared as a string, by
 * the address kept for the API.
 */
const KEY_BYTES = 48;
/**
 * Slots in use up to which prefetch() only hashes: some 1.5 MB of records and their index,
 * which the CPU's caches hold.
 */
const CACHED_SLOTS = 1024;
/** keyRanges' start for a record whose key the resolver does not hash, and for one keyed by its 5-tuple. */
const KEY_JS = -1;
const KEY_TUPLE = -2;
/** Records prefetch() reads ahead for. */
export const PREFETCH_GROUP = 16;
/** Blocks per chunk of a cell pool: the pool grows by chunks, never copying. */
const CHUNK_BLOCKS = 256;
/** A cell's counters (bytes, packets, flows) and, for a peer, its slot and generation (int32s). */
const CELL_BYTES = 32;
const CELL_SLOT = 6;
const CELL_GEN = 7;

// Record layout: the hot part first (counters and key, then the first cells), then the two
// regions of inline cells, each its ids (one cache line) then the cells. Offsets in float64 units
// (R_*), int32 units (I_*) and bytes (B_*).
/** Cells of each kind kept in the record, after the first key. */
const INLINE_CELLS = 15;
/** A region of inline cells: the ids, then the cells. */
const REGION_IDS = 64;
const REGION_BYTES = REGION_IDS + INLINE_CELLS * 32;
const B_APP_CELLS = 384;
const B_PEER_CELLS = B_APP_CELLS + REGION_BYTES;
const RECORD_BYTES = B_PEER_CELLS + REGION_BYTES;
export const R_STRIDE = RECORD_BYTES / 8;
const I_STRIDE = RECORD_BYTES / 4;
// Line 0: what every record adds to.
export const R_BYTES_SENT = 0;
export const R_BYTES_RCVD = 1;
export const R_PACKETS_SENT = 2;
export const R_PACKETS_RCVD = 3;
export const R_FLOWS_CLIENT = 4;
export const R_FLOWS_SERVER = 5;
const R_LAST_SEEN = 6;
export const R_RETRANSMITS = 7;
// Line 1: the key, checked on lookup, and what the host's peers read of it.
const B_KEY = 64;
const I_KEY_LEN = 28;
const I_HASH = 29; // hash of the key (also the host's id in its peers' lists)
const I_GEN = 30; // times the slot was taken: slot and generation name one host for good
const I_PEER0 = 31; // hash of the first peer's key
// Lines 2 and 3: the first application's and peer's counters, the other cells.
const R_APP0 = 16; // bytes, packets, flows
const R_PEER0 = 19; // bytes, packets, flows
const I_APP_BLOCK = 44; // overflow block handle (cells beyond the inline ones), -1 for none
const I_PEER_BLOCK = 45;
const I_APPS = 46; // distinct applications counted apart (0 to cellCap)
const I_PEERS = 47;
const R_OTHER_APPS = 24; // bytes, packets, flows
const R_OTHER_PEERS = 27; // bytes, packets, flows
const I_APP0 = 60; // first application id, -1 for none
const I_PEER0_SLOT = 61; // the first peer's slot and generation
const I_PEER0_GEN = 62;
const I_NODE0 = 63; // serial of the NodeEntry whose name node0 holds, 0 for none (a cheap first check)
// Lines 4 and 5: read rarely.
export const R_CLIENT_LATENCY_SUM = 32;
export const R_CLIENT_LATENCY_FLOWS = 33;
export const R_SERVER_LATENCY_SUM = 34;
export const R_SERVER_LATENCY_FLOWS = 35;
const R_FIRST_SEEN = 36;
const I_NODES = 74; // index in moreNodes, -1 for none
const I_NET = 75; // the host's local network: its NetworkEntry.index + 1, 0 for none
const I_SERIES = 76; // 1 when the host has time series (networks[] and series[] hold the objects)

/** One application or peer of a host, for the API. */
const NO_BYTES = new Uint8Array(0);

/**
 * Counters outside the table that counting a host adds to: the local networks' (NetworkTable's
 * array) and the current bucket's top talkers (TopTalkers' arrays, which must never move).
 */
export interface SharedCounters {
  networks: Float64Array;
  talkers: { talkBytes: Float64Array; talkIdx: Int32Array; touched: Int32Array; talkCtl: Int32Array };
}

const NO_SHARED: SharedCounters = {
  networks: new Float64Array(0),
  talkers: {
    talkBytes: new Float64Array(0),
    talkIdx: new Int32Array(0),
    touched: new Int32Array(0),
    talkCtl: new Int32Array(1),
  },
};
const CTL_HEAD = 0;
const CTL_TAIL = 1;
const CTL_USED = 2;

/** The record layout as the native resolver takes it (agent/native/src/host_resolve.c). */
export const HOST_LAYOUT = {
  recordBytes: RECORD_BYTES,
  keyBytes: KEY_BYTES,
  keyOffset: B_KEY,
  keyLengthInt: I_KEY_LEN,
  hashInt: I_HASH,
  lastSeenF64: R_LAST_SEEN,
  appCellsOffset: B_APP_CELLS,
  peerCellsOffset: B_PEER_CELLS,
  regionIdBytes: REGION_IDS,
  cellBytes: CELL_BYTES,
  inlineCells: INLINE_CELLS,
  appsInt: I_APPS,
  peersInt: I_PEERS,
  bytesSentF64: R_BYTES_SENT,
  bytesRcvdF64: R_BYTES_RCVD,
  packetsSentF64: R_PACKETS_SENT,
  packetsRcvdF64: R_PACKETS_RCVD,
  flowsClientF64: R_FLOWS_CLIENT,
  flowsServerF64: R_FLOWS_SERVER,
  retransmitsF64: R_RETRANSMITS,
  clientLatencySumF64: R_CLIENT_LATENCY_SUM,
  clientLatencyFlowsF64: R_CLIENT_LATENCY_FLOWS,
  serverLatencySumF64: R_SERVER_LATENCY_SUM,
  serverLatencyFlowsF64: R_SERVER_LATENCY_FLOWS,
  genInt: I_GEN,
  peer0HashInt: I_PEER0,
  app0CountsF64: R_APP0,
  peer0CountsF64: R_PEER0,
  otherAppsF64: R_OTHER_APPS,
  otherPeersF64: R_OTHER_PEERS,
  app0Int: I_APP0,
  peer0SlotInt: I_PEER0_SLOT,
  peer0GenInt: I_PEER0_GEN,
  node0Int: I_NODE0,
  netInt: I_NET,
  seriesInt: I_SERIES,
  cellSlotInt: CELL_SLOT,
  cellGenInt: CELL_GEN,
} as const;

/**
 * Per group record, what the native counting takes (HostTable.groupNums, NUMS each): bytes and
 * packets each way, 1 for a new flow, retransmissions of each side, and the client and server
 * latency to add (-1: none).
 */
export const N_S2D_BYTES = 0;
export const N_S2D_PACKETS = 1;
export const N_D2S_BYTES = 2;
export const N_D2S_PACKETS = 3;
export const N_NEW = 4;
export const N_SRC_RETRANSMITS = 5;
export const N_DST_RETRANSMITS = 6;
export const N_CLIENT_LATENCY = 7;
export const N_SERVER_LATENCY = 8;
export const NUMS = 9;
/** What the native counting leaves to JS, per record (HostTable.groupFlags). */
export const NEW_SRC_APP = 1;
export const NEW_DST_APP = 2;
export const NEW_SRC_PEER = 4;
export const NEW_DST_PEER = 8;
/** The host has time series: JS adds the record to them. */
export const SRC_SERIES = 16;
export const DST_SERIES = 32;

export interface HostCell {
  /** The application id (addApp) or the peer's address. */
  key: number | string;
  bytes: number;
  packets: number;
  flows: number;
}

export interface HostHooks {
  /** A host enters the table in `slot`. */
  created(slot: number, ip: string, now: number): void;
  /** The host in `slot` leaves the table (its slot is reused right after). */
  evicted(slot: number): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** FNV-1a over a key's bytes. */
function hashBytes(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ (buf[i] as number), 0x01000193);
  return h | 0;
}

function sameBytes(a: Uint8Array, at: number, b: Uint8Array, bt: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (a[at + i] !== b[bt + i]) return false;
  return true;
}

export class HostTable {
  /** Host records as float64 and int32 views of one buffer. */
  readonly f64: Float64Array;
  readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  /** Slots the other per-slot arrays have room for (grows by doubling up to capacity). */
  private slotCap: number;
  private readonly ips: string[];
  private readonly peer0Keys: string[];
  private readonly node0: string[];
  /** Per slot: the host's local network and time series (set with setNetwork, setSeries). */
  readonly networks: Array<NetworkEntry | null>;
  readonly series: Array<SeriesSet | null>;
  private readonly lruPrev: Int32Array;
  private readonly lruNext: Int32Array;
  /**
   * The LRU list's head and tail and the slots in use, in an array the native resolver shares
   * (it marks hosts seen too).
   */
  private readonly ctl = new Int32Array([-1, -1, 0]);
  /** Open addressing, linear probing: [hash, slot + 1] pairs, 0 for empty. */
  private index: Int32Array;
  private indexMask: number;
  private readonly freeSlots: number[] = [];
  private count = 0;
  /** Reporters after the first, per host that has some. */
  private readonly moreNodes: Array<string[] | undefined> = [];
  private readonly freeNodeLists: number[] = [];
  /** Addresses of the inline peer cells, INLINE_CELLS per slot. */
  private readonly peerKeys: string[];
  /** Blocks for the keys beyond the inline cells, when cellCap allows more; null otherwise. */
  private readonly cells: CellPool | null;
  /** Hashes of the addresses of the records prefetch() read for, by position in the group. */
  private readonly groupSrc = new Int32Array(PREFETCH_GROUP);
  private readonly groupDst = new Int32Array(PREFETCH_GROUP);
  /** 1 where both addresses are ASCII keys short enough to be in a record, else 0. */
  private readonly groupOk = new Uint8Array(PREFETCH_GROUP);
  private readonly groupSlots = new Int32Array(2 * PREFETCH_GROUP);
  /** Application ids of the group's records, set by the caller before prefetch() (-1: unknown). */
  readonly groupApps = new Int32Array(PREFETCH_GROUP);
  /** The native lookups and counting of a group's hosts (null: JS does them), and what they take and give. */
  private readonly resolver: NativeHosts | null = null;
  readonly groupNums = new Float64Array(NUMS * PREFETCH_GROUP);
  readonly groupFlags = new Int32Array(PREFETCH_GROUP);
  /** Per group record: its Community ID's bytes in groupBuf (-1: none), and the flow key hash C made of them. */
  private readonly keyRanges = new Int32Array(2 * PREFETCH_GROUP);
  /** Per group record: src port, dst port, protocol and VLAN, for a key hashed from its 5-tuple. */
  private readonly keyTuples = new Float64Array(4 * PREFETCH_GROUP);
  private readonly keyHashes = new Float64Array(PREFETCH_GROUP);
  /** Whether keyHashes holds this group's (the resolver ran for it). */
  private keysHashed = false;
  /** Per group record: src start, src end, dst start, dst end in groupBuf (-1: not there). */
  private readonly groupAddrs = new Int32Array(4 * PREFETCH_GROUP);
  /** Per group record: its src and dst slots (-1: not an address), once touched. */
  readonly resolved = new Int32Array(2 * PREFETCH_GROUP);
  /** Group records before this one have their hosts in `resolved`, already marked seen. */
  private resolvedTo = 0;
  private groupLength = 0;
  private groupBuf: Uint8Array = NO_BYTES;
  /** Top talkers, whose per-host counts prefetch() reads too. */
  talkers: { peek(id: number): number } | null = null;
  /** The slots touchPair() found: src's and dst's, -1 for a field that is not an address. */
  pairSrc = -1;
  pairDst = -1;
  evictions = 0;

  constructor(
    readonly capacity: number,
    readonly cellCap: number,
    private readonly hooks: HostHooks,
    /** Whether lookups may use the native resolver when the addon has one (tests turn it off). */
    useNative = true,
    /** What the native counting also counts in: local networks' counters, top talkers. */
    shared: SharedCounters = NO_SHARED,
  ) {
    this.slotCap = Math.min(capacity, 1024);
    // Records for the whole capacity at once: the buffer is zeroed memory the kernel maps in as
    // it is first written, so a table fills its resident memory as hosts come, and nothing is
    // ever copied to grow it (a copy would need both buffers resident at once).
    const buf = tableBuffer(capacity * RECORD_BYTES);
    this.f64 = new Float64Array(buf);
    this.i32 = new Int32Array(buf);
    this.u8 = new Uint8Array(buf);
    this.ips = new Array<string>(this.slotCap).fill("");
    this.peer0Keys = new Array<string>(this.slotCap).fill("");
    this.node0 = new Array<string>(this.slotCap).fill("");
    this.networks = new Array<NetworkEntry | null>(this.slotCap).fill(null);
    this.series = new Array<SeriesSet | null>(this.slotCap).fill(null);
    this.lruPrev = new Int32Array(capacity);
    this.lruNext = new Int32Array(capacity);
    this.index = new Int32Array(2 * 2048);
    this.indexMask = 2048 - 1;
    this.peerKeys = new Array<string>(this.slotCap * INLINE_CELLS).fill("");
    this.cells = cellCap - 1 > INLINE_CELLS ? new CellPool(cellCap - 1 - INLINE_CELLS) : null;
    const factory = useNative ? hostResolverFactory() : null;
    if (factory !== null) {
      this.resolver = factory({
        layout: HOST_LAYOUT,
        table: buf,
        lruPrev: this.lruPrev,
        lruNext: this.lruNext,
        ctl: this.ctl,
        addrs: this.groupAddrs,
        apps: this.groupApps,
        slots: this.resolved,
        nums: this.groupNums,
        flags: this.groupFlags,
        cellCap,
        networks: shared.networks,
        talkBytes: shared.talkers.talkBytes,
        talkIdx: shared.talkers.talkIdx,
        touched: shared.talkers.touched,
        talkCtl: shared.talkers.talkCtl,
        keyRanges: this.keyRanges,
        keyTuples: this.keyTuples,
        keyHashes: this.keyHashes,
      });
    }
  }

  /** Whether the native resolver does the lookups and the counting. */
  get native(): boolean {
    return this.resolver !== null;
  }

  /**
   * Whether touchGroupRecord(k) may evict a host: JS does the record (the resolver stopped
   * there) and the table is full.
   */
  mayEvict(k: number): boolean {
    return k >= this.resolvedTo && this.count >= this.capacity;
  }

  /**
   * Counts group records [from, to) in their hosts (slots in `resolved`, numbers in groupNums,
   * application ids in groupApps), in C, in order; returns where it stopped: the first record
   * only JS can count (see host_resolve.c), `to` when all were. Only with the native resolver.
   */
  accountGroup(from: number, to: number, nodeSerial: number): number {
    return (this.resolver as NativeHosts).account(from, to, nodeSerial);
  }

  /**
   * The address string of a peer the native counting just gave `slot` a cell for (flags say
   * which): `cell` from the flags, 0 for the first peer, c + 1 for inline cell c.
   */
  notePeerKey(slot: number, peerSlot: number, cell: number): void {
    const ip = this.ips[peerSlot] as string;
    if (cell === 0) this.peer0Keys[slot] = ip;
    else this.peerKeys[slot * INLINE_CELLS + cell - 1] = ip;
  }

  private get lruHead(): number {
    return this.ctl[CTL_HEAD] as number;
  }

  private set lruHead(s: number) {
    this.ctl[CTL_HEAD] = s;
  }

  private get lruTail(): number {
    return this.ctl[CTL_TAIL] as number;
  }

  private set lruTail(s: number) {
    this.ctl[CTL_TAIL] = s;
  }

  private get used(): number {
    return this.ctl[CTL_USED] as number;
  }

  private set used(n: number) {
    this.ctl[CTL_USED] = n;
  }

  get size(): number {
    return this.count;
  }

  /** Approximate bytes held: records in use, index, per-slot arrays and cell blocks. */
  approxBytes(): number {
    return (
      this.used * RECORD_BYTES +
      this.slotCap * (5 * 4 + INLINE_CELLS * 4) +
      this.capacity * 8 +
      this.index.length * 4 +
      (this.cells?.approxBytes() ?? 0)
    );
  }

  ip(slot: number): string {
    return this.ips[slot] as string;
  }

  firstSeenMs(slot: number): number {
    return this.f64[slot * R_STRIDE + R_FIRST_SEEN] as number;
  }

  lastSeenMs(slot: number): number {
    return this.f64[slot * R_STRIDE + R_LAST_SEEN] as number;
  }

  /** The slot of a host, or -1. */
  find(ip: string): number {
    const key = this.keyOf(ip) ?? encoder.encode(ip);
    return this.lookup(key, 0, key.length, hashBytes(key, 0, key.length), ip);
  }

  /** Live slots, least recently seen first. */
  *slots(): IterableIterator<number> {
    for (let s = this.lruHead; s >= 0; s = this.lruNext[s] as number) yield s;
  }

  /** The slot for ip (an address: 1 to 64 characters), created if new, marked seen now. */
  touch(ip: string, now: number): number {
    const key = this.keyOf(ip) ?? encoder.encode(ip);
    const hash = hashBytes(key, 0, key.length);
    const slot = this.lookup(key, 0, key.length, hash, ip);
    if (slot >= 0) return this.seen(slot, now);
    return this.insert(key, 0, key.length, hash, ip, now);
  }

  /**
   * touch() for an address given as its UTF-8 bytes buf[start, end): no string is made unless
   * the host is new. Returns -1 when those bytes are not an address (as isAddress judges the
   * string they decode to).
   */
  touchBytes(buf: Uint8Array, start: number, end: number, now: number): number {
    const len = end - start;
    let h = 0x811c9dc5;
    let ascii = 0;
    for (let i = start; i < end; i++) {
      const b = buf[i] as number;
      ascii |= b;
      h = Math.imul(h ^ b, 0x01000193);
    }
    if (ascii >= 0x80) {
      const s = decoder.decode(buf.subarray(start, end));
      return s.length > 0 && s.length <= MAX_ADDRESS ? this.touch(s, now) : -1;
    }
    if (len === 0 || len > MAX_ADDRESS) return -1;
    const hash = h | 0;
    const slot = this.lookup(buf, start, end, hash, null);
    if (slot >= 0) return this.seen(slot, now);
    return this.insert(buf, start, end, hash, wireText(buf, start, end), now);
  }

  /** touchBytes() of an ASCII key of 1 to KEY_BYTES bytes whose hash is known. */
  private touchHashed(buf: Uint8Array, start: number, end: number, hash: number, now: number): number {
    const slot = this.lookup(buf, start, end, hash, null);
    if (slot >= 0) return this.seen(slot, now);
    return this.insert(buf, start, end, hash, wireText(buf, start, end), now);
  }

  /**
   * Reads the memory that touching the hosts of records [from, to) (at most PREFETCH_GROUP) and
   * counting their applications and peers will read: index entries, then records, then the
   * cells, each step for every record before the next step. Nothing is changed. Each host needs
   * a chain of misses, one after the other; read here, the misses of all the group's records are
   * waited for together, and touchPairPrefetched() and the counting that follow find their
   * memory in cache (ingest measured 8% faster). Returns a value made of what was read, for the
   * caller to keep, so that no read is optimised away.
   */
  prefetch(flows: readonly IngestFlow[], from: number, to: number, now: number): number {
    if (this.resolver !== null) {
      this.resolveGroup(flows, from, to, now);
      return 0;
    }
    const hs = this.groupSrc;
    const hd = this.groupDst;
    const ok = this.groupOk;
    const slots = this.groupSlots;
    const index = this.index;
    const mask = this.indexMask;
    let acc = 0;
    let k = 0;
    for (let i = from; i < to; i++, k++) {
      const f = flows[i] as IngestFlow;
      ok[k] = 0;
      slots[2 * k] = 0;
      slots[2 * k + 1] = 0;
      const s0 = f.srcAddrStart;
      const d0 = f.dstAddrStart;
      const buf = f.buf;
      if (s0 < 0 || d0 < 0 || buf === null) continue;
      const s1 = f.srcAddrEnd;
      const d1 = f.dstAddrEnd;
      let h = 0x811c9dc5;
      let g = 0x811c9dc5;
      let or = 0;
      for (let j = s0; j < s1; j++) {
        const b = buf[j] as number;
        or |= b;
        h = Math.imul(h ^ b, 0x01000193);
      }
      for (let j = d0; j < d1; j++) {
        const b = buf[j] as number;
        or |= b;
        g = Math.imul(g ^ b, 0x01000193);
      }
      if (or >= 0x80 || s1 === s0 || s1 - s0 > KEY_BYTES || d1 === d0 || d1 - d0 > KEY_BYTES) continue;
      ok[k] = 1;
      hs[k] = h | 0;
      hd[k] = g | 0;
    }
    // A table this small stays in the CPU's caches: the reads would find nothing to wait for.
    if (this.used <= CACHED_SLOTS) return acc;
    // The reads of each step in a tight loop of their own, so that they are all in flight at
    // once (the CPU overlaps misses only within a short window of instructions).
    for (let j = 0; j < k; j++) {
      if (ok[j] === 0) continue;
      slots[2 * j] = index[2 * ((hs[j] as number) & mask) + 1] as number;
      slots[2 * j + 1] = index[2 * ((hd[j] as number) & mask) + 1] as number;
    }
    const i32 = this.i32;
    const prev = this.lruPrev;
    const next = this.lruNext;
    const talkers = this.talkers;
    for (let j = 0; j < 2 * k; j++) {
      const s = (slots[j] as number) - 1;
      if (s < 0) continue;
      // The record's hot 256 bytes and the ids of its cells, in reads 64 bytes apart or less so
      // that each cache line is read whatever the buffer's alignment.
      const i = s * I_STRIDE;
      acc ^= (i32[i] as number) ^ (i32[i + 15] as number) ^ (i32[i + 31] as number);
      acc ^= (i32[i + 47] as number) ^ (i32[i + 63] as number);
      acc ^= (i32[i + (B_APP_CELLS >> 2)] as number) ^ (i32[i + ((B_APP_CELLS + REGION_IDS) >> 2) - 1] as number);
      acc ^= (i32[i + (B_PEER_CELLS >> 2)] as number) ^ (i32[i + ((B_PEER_CELLS + REGION_IDS) >> 2) - 1] as number);
      acc ^= (prev[s] as number) ^ (next[s] as number);
      if (this.node0[s] === "" || this.networks[s] === null || this.series[s] === null) acc ^= 1;
      if (talkers !== null) acc ^= talkers.peek(s);
    }
    // The cells the record will count in: its application's, its peer's (found or to be).
    const apps = this.groupApps;
    for (let j = 0; j < 2 * k; j++) {
      const s = (slots[j] as number) - 1;
      const peer = (slots[j ^ 1] as number) - 1;
      if (s < 0 || peer < 0) continue;
      const i = s * I_STRIDE;
      acc ^= this.peekCell(s, B_APP_CELLS, (i32[i + I_APPS] as number) - 1, apps[j >> 1] as number);
      acc ^= this.peekCell(s, B_PEER_CELLS, (i32[i + I_PEERS] as number) - 1, i32[peer * I_STRIDE + I_HASH] as number);
      const n = next[s] as number;
      const q = prev[s] as number;
      if (n >= 0) acc ^= prev[n] as number;
      if (q >= 0) acc ^= next[q] as number;
    }
    return acc;
  }

  /**
   * The native prefetch() (the resolver reads ahead in C, where loads need not wait): looks up
   * and marks seen the hosts of the group's records, in order, up to the first it cannot do.
   */
  private resolveGroup(flows: readonly IngestFlow[], from: number, to: number, now: number): void {
    const addrs = this.groupAddrs;
    const first = (flows[from] as IngestFlow).buf;
    const keys = this.keyRanges;
    const tuples = this.keyTuples;
    for (let i = from, k = 0; i < to; i++, k++) {
      const f = flows[i] as IngestFlow;
      const same = first !== null && f.buf === first;
      const ok = same && f.srcAddrStart >= 0 && f.dstAddrStart >= 0;
      addrs[4 * k] = ok ? f.srcAddrStart : -1;
      addrs[4 * k + 1] = f.srcAddrEnd;
      addrs[4 * k + 2] = ok ? f.dstAddrStart : -1;
      addrs[4 * k + 3] = f.dstAddrEnd;
      // The flow key's hash, made by C: from the Community ID's bytes, or without one (collected
      // records) from the 5-tuple, as flowKeyHash() has it.
      const cid = f.communityIdStart;
      if (cid >= 0 || !ok || f.communityId.length !== 0) {
        keys[2 * k] = same ? cid : KEY_JS;
      } else {
        keys[2 * k] = KEY_TUPLE;
        tuples[4 * k] = f.srcPort;
        tuples[4 * k + 1] = f.dstPort;
        tuples[4 * k + 2] = f.proto;
        tuples[4 * k + 3] = f.vlan;
      }
      keys[2 * k + 1] = f.communityIdEnd;
    }
    this.groupLength = to - from;
    this.groupBuf = first ?? NO_BYTES;
    this.keysHashed = first !== null;
    this.resolvedTo =
      first === null ? 0 : (this.resolver as NativeHosts).resolve(this.index, this.groupBuf, 0, to - from, now);
  }

  /**
   * The flow key hash (flowKeyHash) of record k of the group prefetch() last read for, made by
   * the resolver; NOT_HASHED when it did not make it.
   */
  groupKeyHash(k: number): number {
    return this.keysHashed ? (this.keyHashes[k] as number) : NOT_HASHED;
  }

  /**
   * The hosts of record k of the group prefetch() last read for (its src and dst slots in
   * pairSrc and pairDst, -1 for a field that is not an address), marked seen now.
   */
  touchGroupRecord(k: number, f: IngestFlow, now: number): void {
    const resolved = this.resolved;
    if (k < this.resolvedTo) {
      this.pairSrc = resolved[2 * k] as number;
      this.pairDst = resolved[2 * k + 1] as number;
      return;
    }
    const buf = f.buf;
    if (f.srcAddrStart >= 0 && f.dstAddrStart >= 0 && buf !== null) {
      if (this.resolver === null)
        this.touchPairPrefetched(k, buf, f.srcAddrStart, f.srcAddrEnd, f.dstAddrStart, f.dstAddrEnd, now);
      else this.touchPair(buf, f.srcAddrStart, f.srcAddrEnd, f.dstAddrStart, f.dstAddrEnd, now);
    } else {
      this.pairSrc = isAddress(f.srcAddr) ? this.touch(f.srcAddr, now) : -1;
      this.pairDst = isAddress(f.dstAddr) ? this.touch(f.dstAddr, now) : -1;
    }
    if (this.resolver === null) return;
    resolved[2 * k] = this.pairSrc;
    resolved[2 * k + 1] = this.pairDst;
    // The native lookups go on after this record, now that JS has done it (an insert, an
    // eviction: whatever it needed) in its turn.
    if (k + 1 < this.groupLength) {
      this.resolvedTo = this.resolver.resolve(this.index, this.groupBuf, k + 1, this.groupLength, now);
    }
  }

  /** Reads the inline cell of `id` among the first n of a region, or the one a new key takes. */
  private peekCell(slot: number, region: number, n: number, id: number): number {
    const i32 = this.i32;
    const ids = (slot * RECORD_BYTES + region) >> 2;
    const m = Math.min(n, INLINE_CELLS);
    let c = 0;
    while (c < m && i32[ids + c] !== id) c++;
    if (c >= INLINE_CELLS) return 0;
    const at = (slot * RECORD_BYTES + region + REGION_IDS + c * CELL_BYTES) >> 2;
    return (i32[at] as number) ^ (i32[at + 7] as number);
  }

  /**
   * touchPair() for the record at position k of the group prefetch() last read for: its hashes
   * are known.
   */
  touchPairPrefetched(k: number, buf: Uint8Array, s0: number, s1: number, d0: number, d1: number, now: number): void {
    if (this.groupOk[k] !== 1) {
      this.pairSrc = this.touchBytes(buf, s0, s1, now);
      this.pairDst = this.touchBytes(buf, d0, d1, now);
      return;
    }
    const hs = this.groupSrc[k] as number;
    const hd = this.groupDst[k] as number;
    if (!this.pairFast(buf, s0, s1, d0, d1, hs, hd, now)) {
      // Short ASCII keys with their hashes known: what touchBytes() would find, without hashing again.
      this.pairSrc = this.touchHashed(buf, s0, s1, hs, now);
      this.pairDst = this.touchHashed(buf, d0, d1, hd, now);
    }
  }

  /**
   * Both addresses (ASCII keys that fit a record, hashes hs and hd) touched if both hosts are
   * known and at their index entry's home, reading their entries, then their records, side by
   * side; false, nothing done, otherwise.
   */
  private pairFast(
    buf: Uint8Array,
    s0: number,
    s1: number,
    d0: number,
    d1: number,
    hs: number,
    hd: number,
    now: number,
  ): boolean {
    const index = this.index;
    const mask = this.indexMask;
    const ps = 2 * (hs & mask);
    const pd = 2 * (hd & mask);
    const es = index[ps + 1] as number;
    const ed = index[pd + 1] as number;
    if (index[ps] !== hs || index[pd] !== hd || es === 0 || ed === 0) return false;
    const i32 = this.i32;
    const src = es - 1;
    const dst = ed - 1;
    const u8 = this.u8;
    if (
      i32[src * I_STRIDE + I_KEY_LEN] !== s1 - s0 ||
      i32[dst * I_STRIDE + I_KEY_LEN] !== d1 - d0 ||
      !sameBytes(u8, src * RECORD_BYTES + B_KEY, buf, s0, s1 - s0) ||
      !sameBytes(u8, dst * RECORD_BYTES + B_KEY, buf, d0, d1 - d0)
    ) {
      return false;
    }
    this.pairSrc = this.seen(src, now);
    this.pairDst = this.seen(dst, now);
    return true;
  }

  /**
   * touchBytes() of a record's two addresses, src first. When both are known hosts (nearly
   * always) their index entries, then their records, are read side by side: the CPU waits for
   * the two cache misses of each step together instead of one after the other.
   */
  touchPair(buf: Uint8Array, s0: number, s1: number, d0: number, d1: number, now: number): void {
    let hs = 0x811c9dc5;
    let hd = 0x811c9dc5;
    let or = 0;
    for (let i = s0; i < s1; i++) {
      const b = buf[i] as number;
      or |= b;
      hs = Math.imul(hs ^ b, 0x01000193);
    }
    for (let i = d0; i < d1; i++) {
      const b = buf[i] as number;
      or |= b;
      hd = Math.imul(hd ^ b, 0x01000193);
    }
    const fits = or < 0x80 && s1 > s0 && s1 - s0 <= KEY_BYTES && d1 > d0 && d1 - d0 <= KEY_BYTES;
    if (!fits || !this.pairFast(buf, s0, s1, d0, d1, hs | 0, hd | 0, now)) {
      this.pairSrc = this.touchBytes(buf, s0, s1, now);
      this.pairDst = this.touchBytes(buf, d0, d1, now);
    }
  }

  /** The key bytes of an ASCII string; null for any other (the caller encodes it). */
  private keyOf(ip: string): Uint8Array | null {
    const n = ip.length;
    const key = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const c = ip.charCodeAt(i);
      if (c >= 0x80) return null;
      key[i] = c;
    }
    return key;
  }

  private lookup(buf: Uint8Array, start: number, end: number, hash: number, ip: string | null): number {
    const index = this.index;
    const mask = this.indexMask;
    const len = end - start;
    for (let p = hash & mask; ; p = (p + 1) & mask) {
      const s1 = index[2 * p + 1] as number;
      if (s1 === 0) return -1;
      if (index[2 * p] !== hash) continue;
      const slot = s1 - 1;
      const i32 = this.i32;
      if (i32[slot * I_STRIDE + I_KEY_LEN] !== len) continue;
      if (len > KEY_BYTES) {
        if (ip !== null ? this.ips[slot] === ip : this.ips[slot] === decoder.decode(buf.subarray(start, end)))
          return slot;
        continue;
      }
      if (sameBytes(this.u8, slot * RECORD_BYTES + B_KEY, buf, start, len)) return slot;
    }
  }

  private seen(slot: number, now: number): number {
    this.f64[slot * R_STRIDE + R_LAST_SEEN] = now;
    if (slot !== this.lruTail) {
      this.unlink(slot);
      this.append(slot);
    }
    return slot;
  }

  private insert(buf: Uint8Array, start: number, end: number, hash: number, ip: string, now: number): number {
    if (this.count >= this.capacity) {
      const old = this.lruHead;
      if (old >= 0) {
        this.evictions++;
        this.hooks.evicted(old);
        this.release(old);
      }
    }
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      if (this.used === this.slotCap) this.grow();
      slot = this.used++;
    }
    this.count++;
    const len = end - start;
    const r = slot * R_STRIDE;
    const i = slot * I_STRIDE;
    const i32 = this.i32;
    const gen = ((i32[i + I_GEN] as number) + 1) | 0;
    this.f64.fill(0, r, r + R_STRIDE);
    i32[i + I_GEN] = gen;
    i32[i + I_APP0] = -1;
    i32[i + I_APP_BLOCK] = -1;
    i32[i + I_PEER_BLOCK] = -1;
    i32[i + I_HASH] = hash;
    i32[i + I_KEY_LEN] = len;
    i32[i + I_NODES] = -1;
    if (len <= KEY_BYTES) this.u8.set(buf.subarray(start, end), slot * RECORD_BYTES + B_KEY);
    this.f64[r + R_FIRST_SEEN] = now;
    this.f64[r + R_LAST_SEEN] = now;
    this.ips[slot] = ip;
    this.append(slot);
    if (2 * (this.count + 1) > this.indexMask + 1) this.rehash(2 * (this.indexMask + 1));
    this.indexInsert(hash, slot);
    this.hooks.created(slot, ip, now);
    return slot;
  }

  /** Empties a slot: out of the index and the LRU list, its cells back to the pool. */
  private release(slot: number): void {
    const i = slot * I_STRIDE;
    const i32 = this.i32;
    this.indexRemove(i32[i + I_HASH] as number, slot);
    this.unlink(slot);
    this.cells?.release(i32[i + I_APP_BLOCK] as number);
    this.cells?.release(i32[i + I_PEER_BLOCK] as number);
    this.peerKeys.fill("", slot * INLINE_CELLS, (slot + 1) * INLINE_CELLS);
    const nodes = i32[i + I_NODES] as number;
    if (nodes >= 0) {
      this.moreNodes[nodes] = undefined;
      this.freeNodeLists.push(nodes);
    }
    this.ips[slot] = "";
    this.peer0Keys[slot] = "";
    this.node0[slot] = "";
    this.networks[slot] = null;
    this.series[slot] = null;
    this.freeSlots.push(slot);
    this.count--;
  }

  /** Room for more slots in the per-slot arrays that are not typed arrays. */
  private grow(): void {
    const cap = Math.min(this.capacity, this.slotCap * 2);
    for (let k = this.slotCap * INLINE_CELLS; k < cap * INLINE_CELLS; k++) this.peerKeys.push("");
    for (let s = this.slotCap; s < cap; s++) {
      this.ips.push("");
      this.peer0Keys.push("");
      this.node0.push("");
      this.networks.push(null);
      this.series.push(null);
    }
    this.slotCap = cap;
  }

  private indexInsert(hash: number, slot: number): void {
    const index = this.index;
    const mask = this.indexMask;
    let p = hash & mask;
    while (index[2 * p + 1] !== 0) p = (p + 1) & mask;
    index[2 * p] = hash;
    index[2 * p + 1] = slot + 1;
  }

  /** Removes a slot from the index, shifting back the entries after it (no tombstones). */
  private indexRemove(hash: number, slot: number): void {
    const index = this.index;
    const mask = this.indexMask;
    let p = hash & mask;
    while (index[2 * p + 1] !== slot + 1) p = (p + 1) & mask;
    for (let q = (p + 1) & mask; index[2 * q + 1] !== 0; q = (q + 1) & mask) {
      const home = (index[2 * q] as number) & mask;
      // The entry at q may move to p if its home is not in (p, q] (cyclically).
      if (p <= q ? home <= p || home > q : home <= p && home > q) {
        index[2 * p] = index[2 * q] as number;
        index[2 * p + 1] = index[2 * q + 1] as number;
        p = q;
      }
    }
    index[2 * p] = 0;
    index[2 * p + 1] = 0;
  }

  private rehash(size: number): void {
    const old = this.index;
    this.index = new Int32Array(tableBuffer(8 * size));
    this.indexMask = size - 1;
    for (let p = 0; p < old.length; p += 2) {
      const s1 = old[p + 1] as number;
      if (s1 !== 0) this.indexInsert(old[p] as number, s1 - 1);
    }
  }

  private unlink(slot: number): void {
    const p = this.lruPrev[slot] as number;
    const n = this.lruNext[slot] as number;
    if (p < 0) this.lruHead = n;
    else this.lruNext[p] = n;
    if (n < 0) this.lruTail = p;
    else this.lruPrev[n] = p;
  }

  private append(slot: number): void {
    this.lruPrev[slot] = this.lruTail;
    this.lruNext[slot] = -1;
    if (this.lruTail < 0) this.lruHead = slot;
    else this.lruNext[this.lruTail] = slot;
    this.lruTail = slot;
  }

  setNetwork(slot: number, net: NetworkEntry | null): void {
    this.networks[slot] = net;
    this.i32[slot * I_STRIDE + I_NET] = net === null ? 0 : net.index + 1;
  }

  setSeries(slot: number, series: SeriesSet | null): void {
    this.series[slot] = series;
    this.i32[slot * I_STRIDE + I_SERIES] = series === null ? 0 : 1;
  }

  /** Notes that `node` (the NodeEntry of that serial) reported the host. */
  addNode(slot: number, node: string, serial: number): void {
    const at = slot * I_STRIDE + I_NODE0;
    if (this.i32[at] === serial) return;
    const first = this.node0[slot] as string;
    if (first === node) {
      this.i32[at] = serial;
      return;
    }
    if (first === "") {
      this.node0[slot] = node;
      this.i32[at] = serial;
      return;
    }
    const i = slot * I_STRIDE + I_NODES;
    let idx = this.i32[i] as number;
    if (idx < 0) {
      idx = this.freeNodeLists.pop() ?? this.moreNodes.length;
      this.moreNodes[idx] = [];
      this.i32[i] = idx;
    }
    const more = this.moreNodes[idx] as string[];
    if (more.length + 1 < MAX_NODES_PER_HOST && !more.includes(node)) more.push(node);
  }

  nodes(slot: number): string[] {
    const first = this.node0[slot] as string;
    if (first === "") return [];
    const idx = this.i32[slot * I_STRIDE + I_NODES] as number;
    return idx < 0 ? [first] : [first, ...(this.moreNodes[idx] as string[])];
  }

  hasNode(slot: number, node: string): boolean {
    if (this.node0[slot] === node) return true;
    const idx = this.i32[slot * I_STRIDE + I_NODES] as number;
    return idx >= 0 && (this.moreNodes[idx] as string[]).includes(node);
  }

  /** Counts traffic of the host under an application id (ids are >= 0). */
  addApp(slot: number, app: number, bytes: number, packets: number, flows: number): AddResult {
    const i32 = this.i32;
    const i = slot * I_STRIDE;
    if (i32[i + I_APP0] === app) {
      const f64 = this.f64;
      const r = slot * R_STRIDE + R_APP0;
      f64[r] = (f64[r] as number) + bytes;
      f64[r + 1] = (f64[r + 1] as number) + packets;
      f64[r + 2] = (f64[r + 2] as number) + flows;
      return AddResult.Counted;
    }
    if (i32[i + I_APPS] === 0) {
      i32[i + I_APP0] = app;
      i32[i + I_APPS] = 1;
      const r = slot * R_STRIDE + R_APP0;
      this.f64[r] = bytes;
      this.f64[r + 1] = packets;
      this.f64[r + 2] = flows;
      return AddResult.NewKey;
    }
    return this.addCell(slot, B_APP_CELLS, I_APP_BLOCK, I_APPS, R_OTHER_APPS, app, -1, bytes, packets, flows);
  }

  /** Counts traffic of the host with the host in peerSlot (keyed by its address). */
  addPeer(slot: number, peerSlot: number, bytes: number, packets: number, flows: number): AddResult {
    const i32 = this.i32;
    const i = slot * I_STRIDE;
    // Peers are told apart by the hash of their address, then by slot and generation (the same
    // ones: the very host), and only when those differ (the peer left the table and came back)
    // by the address itself, a string elsewhere in memory.
    const p = peerSlot * I_STRIDE;
    const hash = i32[p + I_HASH] as number;
    const gen = i32[p + I_GEN] as number;
    if (i32[i + I_PEERS] === 0) {
      i32[i + I_PEER0] = hash;
      i32[i + I_PEER0_SLOT] = peerSlot;
      i32[i + I_PEER0_GEN] = gen;
      i32[i + I_PEERS] = 1;
      this.peer0Keys[slot] = this.ips[peerSlot] as string;
      const r = slot * R_STRIDE + R_PEER0;
      this.f64[r] = bytes;
      this.f64[r + 1] = packets;
      this.f64[r + 2] = flows;
      return AddResult.NewKey;
    }
    if (
      i32[i + I_PEER0] === hash &&
      ((i32[i + I_PEER0_SLOT] === peerSlot && i32[i + I_PEER0_GEN] === gen) ||
        this.peer0Keys[slot] === this.ips[peerSlot])
    ) {
      const f64 = this.f64;
      const r = slot * R_STRIDE + R_PEER0;
      f64[r] = (f64[r] as number) + bytes;
      f64[r + 1] = (f64[r + 1] as number) + packets;
      f64[r + 2] = (f64[r + 2] as number) + flows;
      return AddResult.Counted;
    }
    return this.addCell(
      slot,
      B_PEER_CELLS,
      I_PEER_BLOCK,
      I_PEERS,
      R_OTHER_PEERS,
      hash,
      peerSlot,
      bytes,
      packets,
      flows,
    );
  }

  /**
   * A key beyond the first: in the record's cells (or a block past them), or "other" once
   * cellCap keys are counted. Peers (peerSlot >= 0) must also be the same host: the same slot
   * and generation, or else the same address; applications (-1) are told apart by id alone.
   */
  private addCell(
    slot: number,
    region: number,
    blockField: number,
    countField: number,
    otherField: number,
    id: number,
    peerSlot: number,
    bytes: number,
    packets: number,
    flows: number,
  ): AddResult {
    const i32 = this.i32;
    const f64 = this.f64;
    const i = slot * I_STRIDE;
    const n = (i32[i + countField] as number) - 1;
    const gen = peerSlot >= 0 ? (i32[peerSlot * I_STRIDE + I_GEN] as number) : 0;
    const base = slot * RECORD_BYTES + region;
    const ids = base >> 2;
    const inline = Math.min(n, INLINE_CELLS);
    for (let c = 0; c < inline; c++) {
      if (i32[ids + c] !== id) continue;
      const at = base + REGION_IDS + c * CELL_BYTES;
      if (
        peerSlot >= 0 &&
        !(i32[(at >> 2) + CELL_SLOT] === peerSlot && i32[(at >> 2) + CELL_GEN] === gen) &&
        this.peerKeys[slot * INLINE_CELLS + c] !== this.ips[peerSlot]
      ) {
        continue;
      }
      const r = at >> 3;
      f64[r] = (f64[r] as number) + bytes;
      f64[r + 1] = (f64[r + 1] as number) + packets;
      f64[r + 2] = (f64[r + 2] as number) + flows;
      return AddResult.Counted;
    }
    const pool = this.cells;
    let block = i32[i + blockField] as number;
    if (n > INLINE_CELLS && pool !== null) {
      const c = pool.find(block, n - INLINE_CELLS, id, peerSlot, gen, this.ips);
      if (c >= 0) {
        pool.add(block, c, bytes, packets, flows);
        return AddResult.Counted;
      }
    }
    if (n + 1 >= this.cellCap) {
      const r = slot * R_STRIDE + otherField;
      f64[r] = (f64[r] as number) + bytes;
      f64[r + 1] = (f64[r + 1] as number) + packets;
      f64[r + 2] = (f64[r + 2] as number) + flows;
      return AddResult.Other;
    }
    const key = peerSlot >= 0 ? (this.ips[peerSlot] as string) : null;
    if (n < INLINE_CELLS) {
      i32[ids + n] = id;
      const at = base + REGION_IDS + n * CELL_BYTES;
      i32[(at >> 2) + CELL_SLOT] = peerSlot;
      i32[(at >> 2) + CELL_GEN] = gen;
      f64[at >> 3] = bytes;
      f64[(at >> 3) + 1] = packets;
      f64[(at >> 3) + 2] = flows;
      if (key !== null) this.peerKeys[slot * INLINE_CELLS + n] = key;
    } else {
      const cells = pool as CellPool;
      if (block < 0) {
        block = cells.alloc();
        i32[i + blockField] = block;
      }
      cells.set(block, n - INLINE_CELLS, id, key, peerSlot, gen, bytes, packets, flows);
    }
    i32[i + countField] = n + 2;
    return AddResult.NewKey;
  }

  /** Applications counted apart: ids and counters, first key first. */
  apps(slot: number): HostCell[] {
    return this.cellList(slot, B_APP_CELLS, R_APP0, I_APP_BLOCK, I_APPS, false);
  }

  peers(slot: number): HostCell[] {
    return this.cellList(slot, B_PEER_CELLS, R_PEER0, I_PEER_BLOCK, I_PEERS, true);
  }

  appCount(slot: number): number {
    return this.i32[slot * I_STRIDE + I_APPS] as number;
  }

  peerCount(slot: number): number {
    return this.i32[slot * I_STRIDE + I_PEERS] as number;
  }

  otherApps(slot: number): Counters {
    return this.counters(slot, R_OTHER_APPS);
  }

  otherPeers(slot: number): Counters {
    return this.counters(slot, R_OTHER_PEERS);
  }

  private counters(slot: number, field: number): Counters {
    const r = slot * R_STRIDE + field;
    return { bytes: this.f64[r] as number, packets: this.f64[r + 1] as number, flows: this.f64[r + 2] as number };
  }

  private cellList(
    slot: number,
    region: number,
    counts0: number,
    blockField: number,
    countField: number,
    peer: boolean,
  ): HostCell[] {
    const i = slot * I_STRIDE;
    const n = this.i32[i + countField] as number;
    if (n === 0) return [];
    const f64 = this.f64;
    const i32 = this.i32;
    const r = slot * R_STRIDE + counts0;
    const out: HostCell[] = [
      {
        key: peer ? (this.peer0Keys[slot] as string) : (i32[i + I_APP0] as number),
        bytes: f64[r] as number,
        packets: f64[r + 1] as number,
        flows: f64[r + 2] as number,
      },
    ];
    const base = slot * RECORD_BYTES + region;
    for (let c = 0; c < n - 1 && c < INLINE_CELLS; c++) {
      const at = (base + REGION_IDS + c * CELL_BYTES) >> 3;
      out.push({
        key: peer ? (this.peerKeys[slot * INLINE_CELLS + c] as string) : (i32[(base >> 2) + c] as number),
        bytes: f64[at] as number,
        packets: f64[at + 1] as number,
        flows: f64[at + 2] as number,
      });
    }
    const block = i32[i + blockField] as number;
    if (block >= 0 && this.cells !== null) {
      for (let c = 0; c < n - 1 - INLINE_CELLS; c++) out.push(this.cells.cell(block, c, peer));
    }
    return out;
  }
}

/**
 * Blocks of `width` cells (an id, a string key for peers, three counters) for the keys beyond
 * the inline cells, handed to hosts when they get that many applications or peers (a cap above
 * the default), and back when they leave. A block's ids come first and its counters right after.
 * Storage comes in chunks of CHUNK_BLOCKS blocks, so that growing copies nothing.
 */
class CellPool {
  private readonly i32s: Int32Array[] = [];
  private readonly f64s: Float64Array[] = [];
  private readonly keys: string[][] = [];
  /** Bytes of a block's ids (whole cache lines), and of the whole block. */
  private readonly idBytes: number;
  private readonly blockBytes: number;
  private blocks = 0;
  private readonly spare: number[] = [];
  inUse = 0;

  constructor(readonly width: number) {
    this.idBytes = Math.ceil((width * 4) / 64) * 64;
    this.blockBytes = Math.ceil((this.idBytes + width * CELL_BYTES) / 64) * 64;
  }

  alloc(): number {
    this.inUse++;
    const b = this.spare.pop();
    if (b !== undefined) return b;
    if (this.blocks === this.i32s.length * CHUNK_BLOCKS) {
      const buf = new ArrayBuffer(CHUNK_BLOCKS * this.blockBytes);
      this.i32s.push(new Int32Array(buf));
      this.f64s.push(new Float64Array(buf));
      this.keys.push(new Array<string>(CHUNK_BLOCKS * this.width).fill(""));
    }
    return this.blocks++;
  }

  /** Returns a block (or -1, nothing) to the pool, its keys let go. */
  release(block: number): void {
    if (block < 0) return;
    this.inUse--;
    const chunk = (block / CHUNK_BLOCKS) | 0;
    const base = (block - chunk * CHUNK_BLOCKS) * this.width;
    (this.keys[chunk] as string[]).fill("", base, base + this.width);
    this.spare.push(block);
  }

  /**
   * The cell of `id` among the first n of the block, or -1. A peer's cell (slot >= 0) must
   * also be that host: the same slot and generation, or else the same address (names[slot]).
   */
  find(block: number, n: number, id: number, slot: number, gen: number, names: string[] | null): number {
    const chunk = (block / CHUNK_BLOCKS) | 0;
    const b = block - chunk * CHUNK_BLOCKS;
    const ids = this.i32s[chunk] as Int32Array;
    const base = (b * this.blockBytes) >> 2;
    for (let c = 0; c < n; c++) {
      if (ids[base + c] !== id) continue;
      if (slot < 0) return c;
      const at = (b * this.blockBytes + this.idBytes + c * CELL_BYTES) >> 2;
      if (ids[at + CELL_SLOT] === slot && ids[at + CELL_GEN] === gen) return c;
      if ((this.keys[chunk] as string[])[b * this.width + c] === (names as string[])[slot]) return c;
    }
    return -1;
  }

  add(block: number, i: number, bytes: number, packets: number, flows: number): void {
    const chunk = (block / CHUNK_BLOCKS) | 0;
    const counts = this.f64s[chunk] as Float64Array;
    const r = ((block - chunk * CHUNK_BLOCKS) * this.blockBytes + this.idBytes + i * CELL_BYTES) >> 3;
    counts[r] = (counts[r] as number) + bytes;
    counts[r + 1] = (counts[r + 1] as number) + packets;
    counts[r + 2] = (counts[r + 2] as number) + flows;
  }

  set(
    block: number,
    i: number,
    id: number,
    key: string | null,
    slot: number,
    gen: number,
    bytes: number,
    packets: number,
    flows: number,
  ): void {
    const chunk = (block / CHUNK_BLOCKS) | 0;
    const b = block - chunk * CHUNK_BLOCKS;
    const ints = this.i32s[chunk] as Int32Array;
    ints[((b * this.blockBytes) >> 2) + i] = id;
    if (key !== null) (this.keys[chunk] as string[])[b * this.width + i] = key;
    const at = b * this.blockBytes + this.idBytes + i * CELL_BYTES;
    ints[(at >> 2) + CELL_SLOT] = slot;
    ints[(at >> 2) + CELL_GEN] = gen;
    const counts = this.f64s[chunk] as Float64Array;
    counts[at >> 3] = bytes;
    counts[(at >> 3) + 1] = packets;
    counts[(at >> 3) + 2] = flows;
  }

  cell(block: number, i: number, peer: boolean): HostCell {
    const chunk = (block / CHUNK_BLOCKS) | 0;
    const b = block - chunk * CHUNK_BLOCKS;
    const counts = this.f64s[chunk] as Float64Array;
    const r = (b * this.blockBytes + this.idBytes + i * CELL_BYTES) >> 3;
    return {
      key: peer
        ? ((this.keys[chunk] as string[])[b * this.width + i] as string)
        : ((this.i32s[chunk] as Int32Array)[((b * this.blockBytes) >> 2) + i] as number),
      bytes: counts[r] as number,
      packets: counts[r + 1] as number,
      flows: counts[r + 2] as number,
    };
  }

  approxBytes(): number {
    return this.i32s.length * CHUNK_BLOCKS * (this.blockBytes + this.width * 4);
  }
}
