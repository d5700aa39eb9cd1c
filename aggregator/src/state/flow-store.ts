// The flows the API lists: the active set (flows whose last record was an active-timeout update)
// and a ring of recently ended ones. The active set is what makes a long flow count once: a
// record whose flow is in it is a continuation. Both are bounded; entries are recycled between
// them so a steady stream of flows allocates no entries.
import { pb } from "@flowlens/contracts";
import { LocalNetworks } from "../networks.js";
import { type LruLinks, LruList } from "./lru.js";
import { toUint64 } from "./num.js";
import { page } from "./select.js";
import type { FlowQuery, Page, StoredFlow } from "./types.js";

/** Longest Community ID used as a key ("1:" + base64 of SHA-1 is 30 characters). */
const MAX_COMMUNITY_ID = 64;
/** Spare entries kept for reuse. */
const POOL_MAX = 1024;

export class FlowEntry implements LruLinks<FlowEntry> {
  lruPrev: FlowEntry | null = null;
  lruNext: FlowEntry | null = null;
  node = "";
  key = "";
  active = false;
  /** The latest record: everything not summed below is shown from it. */
  last: pb.Flow | null = null;
  firstSeenMs = 0n;
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

  start(node: string, key: string, f: pb.Flow, now: number): void {
    this.node = node;
    this.key = key;
    this.firstSeenMs = f.firstSeenMs;
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

  /** Adds a record's deltas (counters already converted by the caller). */
  update(f: pb.Flow, now: number, s2dBytes: number, s2dPackets: number, d2sBytes: number, d2sPackets: number): void {
    this.last = f;
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
      const rp = Number(f.rawPackets);
      const rb = Number(f.rawBytes);
      if (rp > 0) this.rawPackets += rp;
      if (rb > 0) this.rawBytes += rb;
    }
  }

  get bytes(): number {
    return this.srcToDstBytes + this.dstToSrcBytes;
  }

  get packets(): number {
    return this.srcToDstPackets + this.dstToSrcPackets;
  }

  /** The record as the API shows it: the latest one with the counters of the whole flow. */
  stored(): StoredFlow {
    const f = this.last as pb.Flow;
    return {
      node: this.node,
      state: this.active ? "active" : "ended",
      receivedMs: this.receivedMs,
      flow: {
        ...f,
        firstSeenMs: this.firstSeenMs,
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

/** The key of a flow within its node: its Community ID, or the 5-tuple and VLAN without one. */
export function flowKey(f: pb.Flow): string {
  const c = f.communityId;
  if (typeof c === "string" && c.length > 0 && c.length <= MAX_COMMUNITY_ID) return c;
  return `${f.srcAddr}|${f.srcPort}|${f.dstAddr}|${f.dstPort}|${f.proto}|${f.vlan}`;
}

export class FlowStore {
  private readonly activeByNode = new Map<string, Map<string, FlowEntry>>();
  /** Active flows by last update, oldest first: the eviction and expiry order. */
  private readonly activeLru = new LruList<FlowEntry>();
  private readonly recent: Array<FlowEntry | undefined>;
  private recentNext = 0;
  private recentSize = 0;
  private readonly pool: FlowEntry[] = [];
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
  ) {
    this.recent = new Array<FlowEntry | undefined>(maxRecent).fill(undefined);
  }

  get activeCount(): number {
    return this.activeLru.size;
  }

  get recentCount(): number {
    return this.recentSize;
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
    if (m !== null && m.size === 0) this.activeByNode.delete(node);
  }

  /**
   * Files a record under its flow and returns whether it starts a new flow (false: a
   * continuation of an active one). `active` maps the node's flows, from begin().
   */
  record(
    node: string,
    active: Map<string, FlowEntry>,
    f: pb.Flow,
    now: number,
    s2dBytes: number,
    s2dPackets: number,
    d2sBytes: number,
    d2sPackets: number,
  ): boolean {
    const key = flowKey(f);
    const stillActive = f.endReason === pb.EndReason.END_REASON_ACTIVE;
    let e = active.get(key);
    if (e !== undefined) {
      e.update(f, now, s2dBytes, s2dPackets, d2sBytes, d2sPackets);
      if (stillActive) this.activeLru.touch(e);
      else {
        active.delete(key);
        this.activeLru.remove(e);
        this.toRecent(e);
      }
      return false;
    }
    e = this.pool.pop() ?? new FlowEntry();
    e.start(node, key, f, now);
    e.update(f, now, s2dBytes, s2dPackets, d2sBytes, d2sPackets);
    if (stillActive) {
      if (this.activeLru.size >= this.maxActive) this.evictOldest();
      e.active = true;
      active.set(key, e);
      this.activeLru.push(e);
    } else this.toRecent(e);
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

  private removeActive(e: FlowEntry): void {
    this.activeLru.remove(e);
    const m = this.activeByNode.get(e.node);
    if (m === undefined) return;
    m.delete(e.key);
    if (m.size === 0 && m !== this.current) this.activeByNode.delete(e.node);
  }

  private toRecent(e: FlowEntry): void {
    e.active = false;
    if (this.maxRecent === 0) {
      this.recycle(e);
      return;
    }
    const displaced = this.recent[this.recentNext];
    this.recent[this.recentNext] = e;
    this.recentNext = this.recentNext + 1 === this.maxRecent ? 0 : this.recentNext + 1;
    if (displaced === undefined) this.recentSize++;
    else {
      this.recentEvictions++;
      this.recycle(displaced);
    }
  }

  private recycle(e: FlowEntry): void {
    // Drop the record now: a pooled entry must not pin a decoded flow.
    e.last = null;
    e.active = false;
    if (this.pool.length < POOL_MAX) this.pool.push(e);
  }

  query(q: FlowQuery): Page<StoredFlow> {
    const match = flowFilter(q);
    const hits: FlowEntry[] = [];
    if (q.state !== "ended") for (const e of this.activeLru) if (match(e)) hits.push(e);
    if (q.state !== "active") {
      for (const e of this.recent) if (e !== undefined && match(e)) hits.push(e);
    }
    return page(hits, flowOrder(q), q.offset, q.limit, (e) => e.stored());
  }
}

function flowFilter(q: FlowQuery): (e: FlowEntry) => boolean {
  // Throws CidrError on a bad network, as the host query does: the API validates it first.
  const net = q.network !== undefined && q.network !== "" ? new LocalNetworks([q.network]) : undefined;
  const { host, application: app, proto, node, sinceMs, untilMs } = q;
  return (e) => {
    const f = e.last;
    if (f === null) return false;
    if (host !== undefined && host !== "" && f.srcAddr !== host && f.dstAddr !== host) return false;
    if (net !== undefined && !net.isLocal(f.srcAddr) && !net.isLocal(f.dstAddr)) return false;
    if (app !== undefined && app !== "" && !applicationMatches(f.l7, app)) return false;
    if (proto !== undefined && f.proto !== proto) return false;
    if (node !== undefined && node !== "" && e.node !== node) return false;
    if (sinceMs !== undefined && Number(f.lastSeenMs) < sinceMs) return false;
    if (untilMs !== undefined && Number(e.firstSeenMs) > untilMs) return false;
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
        ? (e) => Number(e.last?.lastSeenMs ?? 0n)
        : q.sort === "firstSeen"
          ? (e) => Number(e.firstSeenMs)
          : (e) => e.bytes;
  // Ties in a stable order, so that pages do not overlap or skip.
  return (a, b) =>
    sign * (value(a) - value(b)) ||
    a.receivedMs - b.receivedMs ||
    (a.node < b.node ? -1 : a.node > b.node ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}
