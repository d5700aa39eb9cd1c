// Host checks fed per record: port scan, SYN flood, ICMP flood, flow flood, DNS error bursts.
// Each keeps, per entity (a host, or a source/target pair), a tumbling window in flow time
// (the records' lastSeenMs, so that a replayed capture is judged as it happened) with a count
// and, where distinct values matter, a small linear-counting bitmap, all in flat arrays indexed
// by the slot a KeyTable gives the entity: nothing is allocated per record once an entity has
// a slot. A crossing engages an alert through the emitter, once per window; the engine releases
// it when the check stays quiet.
import type { AlertCheckDefinition } from "@flowlens/contracts";
import { ABSENT, type IngestFlow } from "../state/ingest-flow.js";
import { KeyTable, linearCount } from "./key-table.js";
import { addrHash, DST, hashAddress, ipv4Of, type Side, SRC } from "./record-keys.js";
import type { AlertRecord } from "./types.js";

export interface HostCheckHit {
  /** The host the alert is about, and what it is (summary, labels). */
  entity: string;
  value: number;
  threshold: number;
  summary: string;
  labels: Record<string, string>;
}

/** What a check calls when an entity crosses; returns the engaged alert (or null if refused). */
export type Engage = (hit: HostCheckHit) => AlertRecord | null;

export interface RecordCheck {
  observe(f: IngestFlow): void;
  /** Frees entities whose window ended before `flowNowMs`. */
  sweep(flowNowMs: number): void;
  readonly memoryBytes: number;
  readonly entities: number;
  readonly overflows: number;
}

const TCP = 6;
const UDP = 17;
const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;

/** Multicast and broadcast destinations never answer, and are no scan targets. */
function isGroupAddress(f: IngestFlow): boolean {
  const v4 = ipv4Of(f, DST);
  if (v4 >= 0) return v4 >= 0xe0000000 || (v4 & 0xff) === 0xff;
  const s = f.dstAddrStart >= 0 && f.buf !== null ? f.buf[f.dstAddrStart] : f.dstAddr.charCodeAt(0);
  return s === 0x66 || s === 0x46; // ff00::/8
}

/**
 * Whether a flow attempt got no answer: no SYN-ACK to a SYN, or no reply to UDP. A one-way
 * record (a uniflow export) cannot tell: it never has the reply, answered or not.
 */
export function unanswered(f: IngestFlow): boolean {
  if (f.oneWay) return false;
  if (f.proto === TCP) return (f.srcTcpFlags & SYN) !== 0 && (f.dstTcpFlags & (SYN | ACK)) !== (SYN | ACK);
  if (f.proto === UDP) return f.dstToSrcPackets === 0;
  return false;
}

/** A TCP SYN whose three-way handshake did not complete (never judged on a one-way record). */
export function incompleteHandshake(f: IngestFlow): boolean {
  if (f.oneWay || f.proto !== TCP || (f.srcTcpFlags & SYN) === 0) return false;
  return (f.dstTcpFlags & (SYN | ACK)) !== (SYN | ACK) || (f.srcTcpFlags & ACK) === 0;
}

function mix(a: number, b: number): number {
  let h = Math.imul(a ^ (b >>> 16), 0x85ebca6b) ^ b;
  h ^= h >>> 13;
  return Math.imul(h, 0xc2b2ae35) | 0;
}

/** Entities a table starts with; it doubles on demand up to its check's cap. */
const INITIAL_ENTITIES = 1024;

/**
 * Per-entity window state: start (flow time), a count, and an optional bitmap of `bits` bits
 * with its number of set bits. The arrays start small and double (slots keep their numbers)
 * when the entities outgrow them, up to `maxEntities`: a quiet network costs kilobytes, not
 * the cap's worth up front.
 */
class WindowTable {
  readonly keys: KeyTable;
  start: Float64Array;
  count: Float64Array;
  setBits: Int32Array;
  bitmap: Uint32Array;
  readonly words: number;
  /** The alert engaged in the current window, if any. */
  readonly alert: (AlertRecord | null)[];

  constructor(
    private readonly maxEntities: number,
    readonly bits: number,
    private readonly windowMs: number,
  ) {
    const capacity = Math.min(maxEntities, INITIAL_ENTITIES);
    this.keys = new KeyTable(capacity);
    this.start = new Float64Array(capacity);
    this.count = new Float64Array(capacity);
    this.setBits = new Int32Array(capacity);
    this.words = bits >>> 5;
    this.bitmap = new Uint32Array(capacity * this.words);
    this.alert = new Array<AlertRecord | null>(capacity).fill(null);
  }

  get memoryBytes(): number {
    return this.keys.bytes + this.start.byteLength * 2 + this.setBits.byteLength + this.bitmap.byteLength;
  }

  private grow(): void {
    const capacity = Math.min(this.maxEntities, this.keys.capacity * 2);
    this.keys.grow(capacity);
    const start = new Float64Array(capacity);
    start.set(this.start);
    this.start = start;
    const count = new Float64Array(capacity);
    count.set(this.count);
    this.count = count;
    const setBits = new Int32Array(capacity);
    setBits.set(this.setBits);
    this.setBits = setBits;
    const bitmap = new Uint32Array(capacity * this.words);
    bitmap.set(this.bitmap);
    this.bitmap = bitmap;
    for (let i = this.alert.length; i < capacity; i++) this.alert.push(null);
  }

  /** The slot of the entity hashed in addrHash-like halves, its window rolled to `t`; -1 if full. */
  slot(h1: number, h2: number, t: number, label: () => string): number {
    let s = this.keys.find(h1, h2);
    if (s < 0) {
      if (this.keys.size >= this.keys.capacity) {
        // Full at the cap: refused and counted before a label is made (no string per refusal).
        if (this.keys.capacity >= this.maxEntities) {
          this.keys.overflows++;
          return -1;
        }
        this.grow();
      }
      s = this.keys.add(h1, h2, label());
      this.reset(s, t);
      return s;
    }
    const start = this.start[s] as number;
    if (t - start >= this.windowMs || start - t >= this.windowMs) this.reset(s, t);
    return s;
  }

  private reset(s: number, t: number): void {
    this.start[s] = t;
    this.count[s] = 0;
    this.setBits[s] = 0;
    this.alert[s] = null;
    if (this.words > 0) this.bitmap.fill(0, s * this.words, (s + 1) * this.words);
  }

  /** Sets the bit of `hash`; returns the distinct estimate. */
  mark(s: number, hash: number): number {
    const bit = hash & (this.bits - 1);
    const w = s * this.words + (bit >>> 5);
    const m = 1 << (bit & 31);
    const word = this.bitmap[w] as number;
    if ((word & m) === 0) {
      this.bitmap[w] = word | m;
      this.setBits[s] = (this.setBits[s] as number) + 1;
    }
    return linearCount(this.setBits[s] as number, this.bits);
  }

  sweep(flowNowMs: number): void {
    for (const s of this.keys.slots()) {
      if (flowNowMs - (this.start[s] as number) >= 2 * this.windowMs) {
        this.keys.remove(s);
        this.alert[s] = null;
      }
    }
  }
}

// Label makers that read the record of the current observe() call (no closure per record).
let current: IngestFlow | null = null;
const srcLabel = () => (current as IngestFlow).srcAddr;
const dstLabel = () => (current as IngestFlow).dstAddr;
const pairLabel = () => `${(current as IngestFlow).srcAddr}>${(current as IngestFlow).dstAddr}`;

abstract class WindowCheck implements RecordCheck {
  protected readonly windowMs: number;
  constructor(
    protected readonly params: AlertCheckDefinition["params"],
    protected readonly engage: Engage,
  ) {
    this.windowMs = (params.windowSeconds as number) * 1000;
  }
  abstract observe(f: IngestFlow): void;
  protected abstract tables(): WindowTable[];
  sweep(flowNowMs: number): void {
    for (const t of this.tables()) t.sweep(flowNowMs);
  }
  get memoryBytes(): number {
    return this.tables().reduce((n, t) => n + t.memoryBytes, 0);
  }
  get entities(): number {
    return this.tables().reduce((n, t) => n + t.keys.size, 0);
  }
  get overflows(): number {
    return this.tables().reduce((n, t) => n + t.keys.overflows, 0);
  }

  /**
   * A crossing in the window of a slot whose alert is engaged updates it: returns true. Called
   * before hit(), so that a flood, which crosses on every record, makes no hit per record.
   */
  protected updateEngaged(table: WindowTable, s: number, value: number): boolean {
    const a = table.alert[s];
    if (a == null || a.state !== "engaged") return false;
    a.value = value;
    if (value > a.peak) a.peak = value;
    return true;
  }

  /** Engages an alert for the slot (once per window: updateEngaged() takes the later crossings). */
  protected hit(table: WindowTable, s: number, make: () => HostCheckHit): void {
    table.alert[s] = this.engage(make());
  }
}

export class PortScanCheck extends WindowCheck {
  private readonly sources: WindowTable;
  private readonly pairs: WindowTable;
  private readonly ports: number;
  private readonly hosts: number;
  private readonly unansweredOnly: boolean;

  constructor(params: AlertCheckDefinition["params"], engage: Engage, capacity: number) {
    super(params, engage);
    this.ports = params.ports as number;
    this.hosts = params.hosts as number;
    this.unansweredOnly = params.unansweredOnly as boolean;
    this.sources = new WindowTable(this.hosts > 0 ? capacity : 1, 2048, this.windowMs);
    this.pairs = new WindowTable(this.ports > 0 ? capacity : 1, 2048, this.windowMs);
  }

  protected tables(): WindowTable[] {
    return [this.sources, this.pairs];
  }

  observe(f: IngestFlow): void {
    if (f.proto !== TCP && f.proto !== UDP) return;
    if (f.proto === TCP && (f.srcTcpFlags & SYN) === 0) return;
    if (this.unansweredOnly && !unanswered(f) && (f.dstTcpFlags & RST) === 0) return;
    if (isGroupAddress(f)) return;
    current = f;
    const t = f.lastSeenMs;
    hashAddress(f, DST);
    const d1 = addrHash.h1;
    const d2 = addrHash.h2;
    hashAddress(f, SRC);
    const s1 = addrHash.h1;
    const s2 = addrHash.h2;
    if (this.hosts > 0) {
      const s = this.sources.slot(s1, s2, t, srcLabel);
      if (s >= 0) {
        const n = this.sources.mark(s, d1);
        if (n >= this.hosts) {
          if (!this.updateEngaged(this.sources, s, n))
            this.hit(this.sources, s, () => ({
              entity: this.sources.keys.labels[s] as string,
              value: n,
              threshold: this.hosts,
              summary: `${this.sources.keys.labels[s]} contacted ${n} hosts in ${this.windowMs / 1000} s (horizontal scan)`,
              labels: { scan: "horizontal", windowSeconds: String(this.windowMs / 1000) },
            }));
        }
      }
    }
    if (this.ports > 0) {
      const p1 = mix(s1, d1);
      const p2 = mix(s2, d2);
      const s = this.pairs.slot(p1, p2, t, pairLabel);
      if (s >= 0) {
        const n = this.pairs.mark(s, mix(f.dstPort, 0x27d4eb2d));
        if (n >= this.ports) {
          if (!this.updateEngaged(this.pairs, s, n))
            this.hit(this.pairs, s, () => {
              const [src = "", dst = ""] = (this.pairs.keys.labels[s] as string).split(">");
              return {
                entity: src,
                value: n,
                threshold: this.ports,
                summary: `${src} contacted ${n} ports of ${dst} in ${this.windowMs / 1000} s (vertical scan)`,
                labels: { scan: "vertical", target: dst, windowSeconds: String(this.windowMs / 1000) },
              };
            });
        }
      }
    }
  }
}

export class SynFloodCheck extends WindowCheck {
  private readonly victims: WindowTable;
  private readonly limit: number;
  private readonly minSources: number;

  constructor(params: AlertCheckDefinition["params"], engage: Engage, capacity: number) {
    super(params, engage);
    this.limit = (params.rate as number) * (params.windowSeconds as number);
    this.minSources = params.minSources as number;
    this.victims = new WindowTable(capacity, 1024, this.windowMs);
  }

  protected tables(): WindowTable[] {
    return [this.victims];
  }

  observe(f: IngestFlow): void {
    if (!incompleteHandshake(f)) return;
    current = f;
    hashAddress(f, SRC);
    const src1 = addrHash.h1;
    hashAddress(f, DST);
    const v = this.victims;
    const s = v.slot(addrHash.h1, addrHash.h2, f.lastSeenMs, dstLabel);
    if (s < 0) return;
    const syns = f.srcToDstPackets > 0 ? f.srcToDstPackets : 1;
    const n = (v.count[s] as number) + syns;
    v.count[s] = n;
    const sources = v.mark(s, src1);
    if (n >= this.limit && sources >= this.minSources) {
      const secs = this.windowMs / 1000;
      const rate = Math.round(n / secs);
      if (!this.updateEngaged(v, s, rate))
        this.hit(v, s, () => ({
          entity: v.keys.labels[s] as string,
          value: rate,
          threshold: this.limit / secs,
          summary: `${v.keys.labels[s]} received ${n} SYNs without a completed handshake from ${sources} sources in ${secs} s`,
          labels: { sources: String(sources), windowSeconds: String(secs) },
        }));
    }
  }
}

/** Counts something per host on one or both sides over the window, and alerts above a rate. */
abstract class RateCheck extends WindowCheck {
  protected readonly table: WindowTable;
  protected readonly limit: number;

  constructor(params: AlertCheckDefinition["params"], engage: Engage, capacity: number) {
    super(params, engage);
    this.limit = (params.rate as number) * (params.windowSeconds as number);
    this.table = new WindowTable(capacity, 0, this.windowMs);
  }

  protected tables(): WindowTable[] {
    return [this.table];
  }

  protected add(f: IngestFlow, side: Side, amount: number, what: string): void {
    current = f;
    hashAddress(f, side);
    const t = this.table;
    const s = t.slot(addrHash.h1, addrHash.h2, f.lastSeenMs, side === SRC ? srcLabel : dstLabel);
    if (s < 0) return;
    const n = (t.count[s] as number) + amount;
    t.count[s] = n;
    if (n >= this.limit) {
      const secs = this.windowMs / 1000;
      const rate = Math.round(n / secs);
      if (!this.updateEngaged(t, s, rate))
        this.hit(t, s, () => ({
          entity: t.keys.labels[s] as string,
          value: rate,
          threshold: this.limit / secs,
          summary: `${t.keys.labels[s]}: ${rate} ${what}/s over ${secs} s`,
          labels: { windowSeconds: String(secs) },
        }));
    }
  }
}

export class IcmpFloodCheck extends RateCheck {
  observe(f: IngestFlow): void {
    if (f.proto !== 1 && f.proto !== 58) return;
    const packets = f.srcToDstPackets + f.dstToSrcPackets;
    this.add(f, SRC, packets, "ICMP packets");
    this.add(f, DST, packets, "ICMP packets");
  }
}

export class FlowFloodCheck extends RateCheck {
  observe(f: IngestFlow): void {
    // A record of a flow that began before the window is a continuation, not a new flow.
    if (f.firstSeenMs < f.lastSeenMs - this.windowMs) return;
    this.add(f, SRC, 1, "new flows");
  }
}

export class DnsErrorsCheck extends WindowCheck {
  private readonly table: WindowTable;
  private readonly count: number;
  private readonly rcodes: Uint8Array = new Uint8Array(24);

  constructor(params: AlertCheckDefinition["params"], engage: Engage, capacity: number) {
    super(params, engage);
    this.count = params.count as number;
    for (const r of params.rcodes as string[]) this.rcodes[Number(r)] = 1;
    this.table = new WindowTable(capacity, 0, this.windowMs);
  }

  protected tables(): WindowTable[] {
    return [this.table];
  }

  observe(f: IngestFlow): void {
    const rc = f.dnsRcode;
    if (rc === ABSENT || rc >= 24 || this.rcodes[rc] === 0) return;
    current = f;
    hashAddress(f, SRC);
    const t = this.table;
    const s = t.slot(addrHash.h1, addrHash.h2, f.lastSeenMs, srcLabel);
    if (s < 0) return;
    const n = (t.count[s] as number) + 1;
    t.count[s] = n;
    if (n >= this.count) {
      const secs = this.windowMs / 1000;
      if (!this.updateEngaged(t, s, n))
        this.hit(t, s, () => ({
          entity: t.keys.labels[s] as string,
          value: n,
          threshold: this.count,
          summary: `${t.keys.labels[s]} got ${n} DNS error answers in ${secs} s`,
          labels: { windowSeconds: String(secs) },
        }));
    }
  }
}
