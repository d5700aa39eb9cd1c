// Threshold rules: a metric of a target over a window, compared to a value, ntopng-style.
// Each rule keeps counters only for what it names, and only for its own metric: one row for a
// host, a network, an application, a category, an interface, an exporter or a node; one row per
// local host for local-hosts (a growing table up to a bound, refusals counted). Windows are
// tumbling periods aligned on the clock (every minute, 5 minutes, hour, day): at the end of a
// period the rule judges the period's delta; in between, every evaluation (10 s) may engage early
// a rule whose value can only grow within the period (bytes > X crossed mid-period is crossed),
// and idle time is judged every time. Release needs the value back across the threshold by the
// hysteresis, at a period's end. Counters live in flat arrays indexed by row; a record adds to
// them without allocating (distinct-count sets grow, rarely).
import { type AlertThresholdDefinition, DISTINCT_COUNT_CAP } from "@flowlens/contracts";
import { ABSENT, type IngestFlow } from "../state/ingest-flow.js";
import { DistinctSet } from "./distinct-set.js";
import { KeyTable } from "./key-table.js";
import type { AlertEntity } from "./notify/types.js";
import { addrHash, CidrSet, DST, hashAddress, hashAddressText, SRC } from "./record-keys.js";
import type { AlertRecord } from "./types.js";

/** Which side of a record the target is: the sender (SRC), the receiver (DST), or both/neither. */
export const BOTH = 2;
export type Role = typeof SRC | typeof DST | typeof BOTH;

const M_BYTES = 0;
const M_BYTES_SENT = 1;
const M_BYTES_RCVD = 2;
const M_PACKETS = 3;
const M_FLOWS = 4;
const M_BPS = 5;
const M_PPS = 6;
const M_DNS_BYTES = 7;
const M_P2P_BYTES = 8;
const M_APP_BYTES = 9;
const M_ACTIVITY = 10;
const M_IDLE = 11;
const M_RETX = 12;
const M_CLIENT_LAT = 13;
const M_SERVER_LAT = 14;
const M_PEERS = 15;
const M_PORTS = 16;

const METRIC_CODES: Readonly<Record<string, number>> = {
  bytes: M_BYTES,
  bytesSent: M_BYTES_SENT,
  bytesReceived: M_BYTES_RCVD,
  packets: M_PACKETS,
  flows: M_FLOWS,
  bps: M_BPS,
  pps: M_PPS,
  dnsBytes: M_DNS_BYTES,
  p2pBytes: M_P2P_BYTES,
  activityTime: M_ACTIVITY,
  idleTime: M_IDLE,
  retransmissionRatio: M_RETX,
  clientLatencyMs: M_CLIENT_LAT,
  serverLatencyMs: M_SERVER_LAT,
  distinctPeers: M_PEERS,
  distinctPorts: M_PORTS,
};

/** Metrics whose value within a period only grows: crossing upwards mid-period is final. */
const MONOTONIC = new Set([
  M_BYTES,
  M_BYTES_SENT,
  M_BYTES_RCVD,
  M_PACKETS,
  M_FLOWS,
  M_BPS,
  M_PPS,
  M_DNS_BYTES,
  M_P2P_BYTES,
  M_APP_BYTES,
  M_ACTIVITY,
  M_PEERS,
  M_PORTS,
]);

// A row's counters in ThresholdRule.d: the period they count, numerator and denominator, the
// last 10 s activity slot counted, when the target was last seen, and the ended period's values
// (kept when a record of the next period came before the judgement).
const ROW = 8;
const PERIOD = 0;
const NUM = 1;
const DEN = 2;
const ACTIVE = 3;
const SEEN = 4;
const C_PERIOD = 5;
const C_NUM = 6;
const C_DEN = 7;

/** Rows from..capacity-1 in a new array: no period, nothing counted, last seen at `seenMs`. */
function newRows(capacity: number, from: number, seenMs: number): Float64Array {
  const d = new Float64Array(capacity * ROW);
  for (let s = from; s < capacity; s++) {
    d[s * ROW + PERIOD] = -1;
    d[s * ROW + ACTIVE] = -1;
    d[s * ROW + SEEN] = seenMs;
    d[s * ROW + C_PERIOD] = -1;
  }
  return d;
}

const P2P_CATEGORY = "Download-FileTransfer-FileSharing";
const ACTIVITY_SLOT_MS = 10_000;
const TCP = 6;

/** Whether nDPI name `l7` is `name` or one of its sub-protocols (TLS.Google is TLS and Google). */
export function matchesApplication(l7: string, name: string): boolean {
  if (l7 === name) return true;
  const k = name.length;
  if (l7.length <= k) return false;
  if (l7.charCodeAt(k) === 46 && l7.startsWith(name)) return true;
  return l7.charCodeAt(l7.length - k - 1) === 46 && l7.endsWith(name);
}

/** An IPv6 address in the form records carry (RFC 5952: lower case, compressed); IPv4 as is. */
export function canonicalAddress(a: string): string {
  if (!a.includes(":")) return a;
  try {
    return new URL(`http://[${a}]/`).hostname.slice(1, -1);
  } catch {
    return a;
  }
}

/**
 * What the index worked out about the record being routed, once for all rules: addresses as
 * IPv4 integers (-1 if not) or IPv6 words, and their hashes.
 */
export interface RecordFacts {
  srcV4: number;
  dstV4: number;
  srcV6: boolean;
  dstV6: boolean;
  readonly srcWords: Uint32Array;
  readonly dstWords: Uint32Array;
  srcH1: number;
  srcH2: number;
  dstH1: number;
  dstH2: number;
}

/** What a rule calls to engage and release alerts (the engine). */
export interface ThresholdEmitter {
  engageThreshold(rule: ThresholdRule, entity: AlertEntity, value: number, now: number): AlertRecord | null;
  releaseThreshold(rule: ThresholdRule, alert: AlertRecord, now: number): void;
}

export interface ThresholdRuleOptions {
  /** Rows a local-hosts rule may hold (hosts); more are refused and counted. */
  maxHosts: number;
  now: number;
  /** Periods last this many times the rule's window (tests, demos: 0.1 makes 1m six seconds). */
  windowScale?: number;
}

export class ThresholdRule {
  readonly metric: number;
  readonly windowMs: number;
  readonly upper: boolean;
  /** The period (index of windowMs since the epoch) counters are being added to. */
  period: number;
  /** When the period ends (ingest moves to the next one at the first batch after). */
  periodEndMs: number;
  /** The last period judged. */
  private judgedThrough: number;
  /** Set during an evaluation cycle that closes a period: the period being judged. */
  private judging = -1;
  private readonly startedMs: number;
  private readonly entity: AlertEntity | null;
  /** local-hosts: the hosts' table (null for single-row targets). */
  readonly hosts: KeyTable | null;
  /** local-hosts narrowed by a CIDR. */
  readonly filter: CidrSet | null;
  private readonly maxHosts: number;
  private readonly app: string;
  private lastL7 = "\u0000";
  private lastL7Match = false;
  /**
   * Each row's counters side by side (ROW doubles, one cache line): what a record adds to is
   * one line away, wherever the row is. Offsets: PERIOD, NUM, DEN, ACTIVE, SEEN, C_PERIOD,
   * C_NUM, C_DEN.
   */
  private d: Float64Array;
  private distinct: (DistinctSet | null)[];
  readonly alerts: (AlertRecord | null)[];
  /** Hosts refused because the table was at its bound. */
  overflows = 0;

  constructor(
    readonly name: string,
    readonly def: AlertThresholdDefinition,
    private readonly emitter: ThresholdEmitter,
    opts: ThresholdRuleOptions,
  ) {
    this.metric = def.application !== undefined ? M_APP_BYTES : (METRIC_CODES[def.metric] as number);
    if (this.metric === undefined) throw new Error(`threshold metric ${def.metric} is not evaluated`);
    this.app = def.application ?? "";
    this.windowMs = Math.max(1000, Math.round(def.windowMs * (opts.windowScale ?? 1)));
    this.upper = def.operator === ">" || def.operator === ">=";
    this.startedMs = opts.now;
    this.period = Math.floor(opts.now / this.windowMs);
    this.periodEndMs = (this.period + 1) * this.windowMs;
    this.judgedThrough = this.period - 1;
    const t = def.target;
    let rows = 1;
    if (t.kind === "local-hosts") {
      this.maxHosts = opts.maxHosts;
      rows = Math.min(1024, opts.maxHosts);
      this.hosts = new KeyTable(rows);
      this.filter = t.value === "*" ? null : new CidrSet([t.value]);
      this.entity = null;
    } else {
      this.maxHosts = 1;
      this.hosts = null;
      this.filter = null;
      const value = t.kind === "host" || t.kind === "exporter" ? canonicalAddress(t.value) : t.value;
      this.entity = { kind: t.kind, value };
    }
    // Idle time counts from when the rule was loaded for a target not seen since.
    this.d = newRows(rows, 0, opts.now);
    this.distinct = new Array<DistinctSet | null>(rows).fill(null);
    this.alerts = new Array<AlertRecord | null>(rows).fill(null);
  }

  get rows(): number {
    return this.hosts === null ? 1 : this.hosts.size;
  }

  /**
   * What this rule counts, for sharing: rules of one single-row target, window and counting
   * (bytes and bps count the same, so do packets and pps) count once. null: counts alone
   * (local-hosts rules keep their own tables of hosts).
   */
  get counterKey(): string | null {
    if (this.entity === null) return null;
    const counting = this.metric === M_BPS ? M_BYTES : this.metric === M_PPS ? M_PACKETS : this.metric;
    return JSON.stringify([this.entity.kind, this.entity.value, counting, this.app, this.windowMs]);
  }

  /** Whether another rule's counters are read instead of counting (ThresholdIndex sets it). */
  private follows = false;

  /**
   * Reads `leader`'s counters from now on (the same arrays): the index routes records to the
   * leader only, and this rule judges what the leader counted by its own operator and value.
   */
  shareCountersOf(leader: ThresholdRule): void {
    if (leader === this || leader.counterKey !== this.counterKey || this.counterKey === null) return;
    this.follows = true;
    this.d = leader.d;
    this.distinct = leader.distinct;
  }

  /** Counts on its own (again): it keeps the arrays it reads, and adds to them itself. */
  countOwn(): void {
    this.follows = false;
  }

  get memoryBytes(): number {
    // A follower's counters are its leader's: only its alerts are its own.
    if (this.follows) return this.alerts.length * 8;
    let n = this.d.byteLength;
    if (this.hosts !== null) n += this.hosts.bytes;
    for (const d of this.distinct) if (d !== null) n += d.bytes + 32;
    return n;
  }

  /** The row of a local host (added, growing the table, if new); -1 when refused. */
  private hostRow(f: IngestFlow, side: typeof SRC | typeof DST, h1: number, h2: number): number {
    const table = this.hosts as KeyTable;
    let s = table.find(h1, h2);
    if (s >= 0) return s;
    if (table.size >= table.capacity) {
      if (table.capacity >= this.maxHosts) {
        this.overflows++;
        return -1;
      }
      this.growRows(Math.min(this.maxHosts, table.capacity * 2));
    }
    s = table.add(h1, h2, side === SRC ? f.srcAddr : f.dstAddr);
    this.resetRow(s);
    this.d[s * ROW + PERIOD] = this.period;
    this.d[s * ROW + C_PERIOD] = -1;
    return s;
  }

  private growRows(capacity: number): void {
    (this.hosts as KeyTable).grow(capacity);
    const d = newRows(capacity, this.d.length / ROW, 0);
    d.set(this.d);
    this.d = d;
    for (let i = this.distinct.length; i < capacity; i++) {
      this.distinct.push(null);
      this.alerts.push(null);
    }
  }

  private resetRow(s: number): void {
    this.d[s * ROW + NUM] = 0;
    this.d[s * ROW + DEN] = 0;
    this.d[s * ROW + ACTIVE] = -1;
    this.distinct[s]?.clear();
  }

  /** Moves a row's counters of an ended period aside (a record of the next period arrived first). */
  private roll(s: number): void {
    this.d[s * ROW + C_PERIOD] = this.d[s * ROW + PERIOD] as number;
    this.d[s * ROW + C_NUM] = this.isDistinct() ? (this.distinct[s]?.size ?? 0) : (this.d[s * ROW + NUM] as number);
    this.d[s * ROW + C_DEN] = this.d[s * ROW + DEN] as number;
    this.resetRow(s);
    this.d[s * ROW + PERIOD] = this.period;
  }

  private isDistinct(): boolean {
    return this.metric === M_PEERS || this.metric === M_PORTS;
  }

  /** A local-hosts rule whose filter the index checked: adds the record to one side's row. */
  addLocalSide(f: IngestFlow, side: typeof SRC | typeof DST, h1: number, h2: number, wall: number): void {
    const s = this.hostRow(f, side, h1, h2);
    if (s >= 0) this.add(s, f, side, wall);
  }

  /** A local-hosts rule: adds the record to each local side's row. */
  addLocal(f: IngestFlow, srcLocal: boolean, dstLocal: boolean, k: RecordFacts, wall: number): void {
    const filter = this.filter;
    if (
      srcLocal &&
      (filter === null || (k.srcV4 >= 0 ? filter.hasV4(k.srcV4) : k.srcV6 && filter.hasV6Words(k.srcWords)))
    ) {
      const s = this.hostRow(f, SRC, k.srcH1, k.srcH2);
      if (s >= 0) this.add(s, f, SRC, wall);
    }
    if (
      dstLocal &&
      (filter === null || (k.dstV4 >= 0 ? filter.hasV4(k.dstV4) : k.dstV6 && filter.hasV6Words(k.dstWords)))
    ) {
      const s = this.hostRow(f, DST, k.dstH1, k.dstH2);
      if (s >= 0) this.add(s, f, DST, wall);
    }
  }

  /** Adds one record to row `s`, the target being the record's `role` side. */
  add(s: number, f: IngestFlow, role: Role, wall: number): void {
    const d = this.d;
    const o = s * ROW;
    if (d[o + PERIOD] !== this.period) this.roll(s);
    d[o + SEEN] = wall;
    switch (this.metric) {
      case M_BYTES:
      case M_BPS:
        d[o + NUM] = (d[o + NUM] as number) + f.srcToDstBytes + f.dstToSrcBytes;
        return;
      case M_BYTES_SENT:
        d[o + NUM] =
          (d[o + NUM] as number) +
          (role === SRC ? f.srcToDstBytes : role === DST ? f.dstToSrcBytes : f.srcToDstBytes + f.dstToSrcBytes);
        return;
      case M_BYTES_RCVD:
        d[o + NUM] =
          (d[o + NUM] as number) +
          (role === SRC ? f.dstToSrcBytes : role === DST ? f.srcToDstBytes : f.srcToDstBytes + f.dstToSrcBytes);
        return;
      case M_PACKETS:
      case M_PPS:
        d[o + NUM] = (d[o + NUM] as number) + f.srcToDstPackets + f.dstToSrcPackets;
        return;
      case M_FLOWS:
        d[o + NUM] = (d[o + NUM] as number) + 1;
        return;
      case M_DNS_BYTES:
        if (matchesApplication(f.l7, "DNS")) d[o + NUM] = (d[o + NUM] as number) + f.srcToDstBytes + f.dstToSrcBytes;
        return;
      case M_P2P_BYTES:
        if (f.l7Category === P2P_CATEGORY) d[o + NUM] = (d[o + NUM] as number) + f.srcToDstBytes + f.dstToSrcBytes;
        return;
      case M_APP_BYTES: {
        // Decoded names are shared strings: the last answer is reused for the same name.
        const l7 = f.l7;
        if (l7 !== this.lastL7) {
          this.lastL7 = l7;
          this.lastL7Match = matchesApplication(l7, this.app);
        }
        if (this.lastL7Match) d[o + NUM] = (d[o + NUM] as number) + f.srcToDstBytes + f.dstToSrcBytes;
        return;
      }
      case M_ACTIVITY: {
        // 10 s slots of flow time the target's records cover, counted once each (records
        // arrive roughly in time order, so "covered up to" is enough).
        const last = Math.floor(f.lastSeenMs / ACTIVITY_SLOT_MS);
        let first = Math.floor(f.firstSeenMs / ACTIVITY_SLOT_MS);
        const done = d[o + ACTIVE] as number;
        if (first <= done) first = done + 1;
        if (last >= first) {
          d[o + NUM] = (d[o + NUM] as number) + (last - first + 1);
          d[o + ACTIVE] = last;
        }
        return;
      }
      case M_IDLE:
        return;
      case M_RETX:
        if (f.proto === TCP) {
          d[o + NUM] = (d[o + NUM] as number) + f.srcRetransmits + f.dstRetransmits;
          d[o + DEN] = (d[o + DEN] as number) + f.srcToDstPackets + f.dstToSrcPackets;
        }
        return;
      case M_CLIENT_LAT:
        if (f.clientNwLatencyUs !== ABSENT) {
          d[o + NUM] = (d[o + NUM] as number) + f.clientNwLatencyUs;
          d[o + DEN] = (d[o + DEN] as number) + 1;
        }
        return;
      case M_SERVER_LAT:
        if (f.serverNwLatencyUs !== ABSENT) {
          d[o + NUM] = (d[o + NUM] as number) + f.serverNwLatencyUs;
          d[o + DEN] = (d[o + DEN] as number) + 1;
        }
        return;
      case M_PEERS: {
        const set = this.distinctOf(s);
        if (role !== SRC) {
          hashAddress(f, SRC);
          set.add(addrHash.h1);
        }
        if (role !== DST) {
          hashAddress(f, DST);
          set.add(addrHash.h1);
        }
        return;
      }
      case M_PORTS:
        this.distinctOf(s).add((f.proto << 16) | f.dstPort);
        return;
    }
  }

  private distinctOf(s: number): DistinctSet {
    let d = this.distinct[s];
    if (d == null) {
      d = new DistinctSet(DISTINCT_COUNT_CAP);
      this.distinct[s] = d;
    }
    return d;
  }

  private valueOf(s: number, num: number, den: number, now: number): number | undefined {
    const secs = this.windowMs / 1000;
    switch (this.metric) {
      case M_BPS:
        return (num * 8) / secs;
      case M_PPS:
        return num / secs;
      case M_ACTIVITY:
        return Math.min(num * (ACTIVITY_SLOT_MS / 1000), secs);
      case M_IDLE:
        return Math.max(0, Math.floor((now - (this.d[s * ROW + SEEN] as number)) / 1000));
      case M_RETX:
        return den > 0 ? num / den : undefined;
      case M_CLIENT_LAT:
      case M_SERVER_LAT:
        return den > 0 ? num / den / 1000 : undefined;
      default:
        return num;
    }
  }

  /** The value of the period being counted now, so far (API, tests). */
  currentValue(s = 0, now = Date.now()): number | undefined {
    if (this.d[s * ROW + PERIOD] !== this.period) return this.valueOf(s, 0, 0, now);
    const num = this.isDistinct() ? (this.distinct[s]?.size ?? 0) : (this.d[s * ROW + NUM] as number);
    return this.valueOf(s, num, this.d[s * ROW + DEN] as number, now);
  }

  private holds(v: number): boolean {
    const t = this.def.value;
    switch (this.def.operator) {
      case ">":
        return v > t;
      case ">=":
        return v >= t;
      case "<":
        return v < t;
      case "<=":
        return v <= t;
    }
  }

  /** Back across the threshold by at least the hysteresis (0: merely not holding). */
  private cleared(v: number): boolean {
    if (this.holds(v)) return false;
    const h = this.def.hysteresis;
    if (h === 0) return true;
    return this.upper ? v <= this.def.value - h : v >= this.def.value + h;
  }

  /**
   * Starts an evaluation cycle at `now`: closes the period if it ended. Returns the rows to
   * visit (visit() each, in any number of slices, then endCycle()).
   */
  beginCycle(now: number): number[] {
    this.advance(now);
    if (this.period - 1 > this.judgedThrough) {
      this.judging = this.period - 1;
      this.judgedThrough = this.judging;
    } else this.judging = -1;
    if (this.hosts === null) return [0];
    return this.hosts.slots();
  }

  /** Moves counting to the period `now` is in (records after a period's end count in the next). */
  advance(now: number): void {
    if (now < this.periodEndMs) return;
    this.period = Math.floor(now / this.windowMs);
    this.periodEndMs = (this.period + 1) * this.windowMs;
  }

  get closingPeriod(): boolean {
    return this.judging >= 0;
  }

  /** Judges one row; returns false when the row was removed (a local host gone quiet). */
  visit(s: number, now: number): boolean {
    if (this.hosts !== null && (this.hosts.labels[s] ?? "") === "") return false;
    let v: number | undefined;
    let final: boolean;
    const c = this.judging;
    if (this.metric === M_IDLE) {
      v = this.valueOf(s, 0, 0, now);
      final = true;
    } else if (c >= 0) {
      final = true;
      if (this.d[s * ROW + PERIOD] === c) {
        const num = this.isDistinct() ? (this.distinct[s]?.size ?? 0) : (this.d[s * ROW + NUM] as number);
        v = this.valueOf(s, num, this.d[s * ROW + DEN] as number, now);
      } else if (this.d[s * ROW + C_PERIOD] === c)
        v = this.valueOf(s, this.d[s * ROW + C_NUM] as number, this.d[s * ROW + C_DEN] as number, now);
      else v = this.valueOf(s, 0, 0, now);
      // A period the rule saw only part of cannot tell that something stayed low.
      if (!this.upper && c * this.windowMs < this.startedMs) v = undefined;
    } else {
      if (!this.upper || !MONOTONIC.has(this.metric) || this.d[s * ROW + PERIOD] !== this.period) return true;
      v = this.currentValue(s, now);
      final = false;
    }
    this.decide(s, v, final, now);
    if (
      this.hosts !== null &&
      c >= 0 &&
      this.metric !== M_IDLE &&
      this.alerts[s] === null &&
      this.d[s * ROW + PERIOD] !== this.period &&
      this.d[s * ROW + PERIOD] !== c &&
      this.d[s * ROW + C_PERIOD] !== c
    ) {
      // Nothing in the judged period nor the current one, nothing engaged: the row is freed.
      this.hosts.remove(s);
      this.resetRow(s);
      this.distinct[s] = null;
      return false;
    }
    return true;
  }

  endCycle(): void {
    this.judging = -1;
  }

  private decide(s: number, v: number | undefined, final: boolean, now: number): void {
    const a = this.alerts[s] ?? null;
    if (a !== null && a.state !== "engaged") this.alerts[s] = null;
    const engaged = a !== null && a.state === "engaged" ? a : null;
    if (v === undefined) {
      if (final && engaged !== null && this.judging >= 0) {
        this.emitter.releaseThreshold(this, engaged, now);
        this.alerts[s] = null;
      }
      return;
    }
    if (engaged !== null) {
      engaged.value = round(v);
      if (this.upper ? v > engaged.peak : v < engaged.peak) engaged.peak = round(v);
      if (this.holds(v)) {
        engaged.lastSeenMs = now;
        engaged.hits++;
      } else if (final && this.cleared(v)) {
        this.emitter.releaseThreshold(this, engaged, now);
        this.alerts[s] = null;
      }
      return;
    }
    if (!this.holds(v)) return;
    const entity = this.entity ?? { kind: "host", value: (this.hosts as KeyTable).labels[s] as string };
    this.alerts[s] = this.emitter.engageThreshold(this, entity, round(v), now);
  }

  /** Takes back an alert engaged before a restart (or a reload that kept the rule). */
  adopt(a: AlertRecord): boolean {
    if (this.hosts === null) {
      if (this.entity === null || a.entity.kind !== this.entity.kind || a.entity.value !== this.entity.value)
        return false;
      this.alerts[0] = a;
      return true;
    }
    if (a.entity.kind !== "host") return false;
    hashAddressText(a.entity.value);
    const h1 = addrHash.h1;
    const h2 = addrHash.h2;
    let s = this.hosts.find(h1, h2);
    if (s < 0) {
      if (this.hosts.size >= this.hosts.capacity) {
        if (this.hosts.capacity >= this.maxHosts) return false;
        this.growRows(Math.min(this.maxHosts, this.hosts.capacity * 2));
      }
      s = this.hosts.add(h1, h2, a.entity.value);
      this.resetRow(s);
      this.d[s * ROW + PERIOD] = -1;
      this.d[s * ROW + C_PERIOD] = -1;
      this.d[s * ROW + SEEN] = this.startedMs;
    }
    this.alerts[s] = a;
    return true;
  }
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
