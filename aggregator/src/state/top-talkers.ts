// Top talkers (bytes sent + received per host) over sliding windows of ingest time.
//
// During a 10 s bucket each host counts its own bytes exactly (two numbers on its host entry, so
// the hot path hashes nothing). When the bucket closes, its `capacity` largest hosts are frozen
// into a fixed-size summary and the counts restart. A host evicted from the host table mid-bucket
// hands its partial count to a Space-Saving summary of `capacity` counters, so evictions cost
// bounded memory too. Every 6 closed 10 s buckets are merged into a 1 min summary of the same
// size. Memory: (7 + 61) frozen summaries and one Space-Saving summary of `capacity` entries,
// whatever the number of hosts.
//
// Windows: "1m" = the current 10 s bucket and the 6 before it (60 to 70 s); "5m" = the current
// minute (its closed 10 s buckets and the current one) and the 5 minutes before (5 to 6 min);
// "1h" = likewise with 60 minutes before.
//
// Error bound (TalkerEntry.error; true bytes are in [bytes - error, bytes]): a key a summary does
// not list is bounded by the summary's floor, and an entry's error is the sum of the floors of
// the summaries it is missing from. A closed 10 s bucket lists its `capacity` largest hosts
// exactly, its floor being the next largest count, at most (bucket bytes) / capacity. Merging
// and cutting back to `capacity` (a minute from its buckets, a bucket with its evictions) adds
// at most (bytes) / capacity again each time. So error <= (window bytes) / capacity for "1m"
// and <= 2 (window bytes) / capacity for "5m" and "1h", one more (window bytes) / capacity when
// hosts were evicted; with skewed traffic it is far smaller, and 0 for a host listed in every
// bucket of the window.
import { mod } from "./num.js";
import { smallest } from "./select.js";
import { SpaceSaving } from "./space-saving.js";
import {
  byCountDesc,
  ExactTop,
  FrozenSummary,
  mergeParts,
  type SpaceSavingEntry,
  type SummaryPart,
} from "./summary.js";
import type { TalkerEntry, Window } from "./types.js";

/** What top talkers needs on a host entry: its address and its count in the current bucket. */
export interface Talker {
  readonly ip: string;
  /** Bytes in the current bucket. */
  talkBytes: number;
  /** Position in the list of hosts counted in the current bucket; -1 when not in it. */
  talkIdx: number;
}

const FINE_MS = 10_000;
const PER_MINUTE = 6;
const FINE_SLOTS = 7;
const COARSE_SLOTS = 61;
const WHOLE_MINUTES: Record<Exclude<Window, "1m">, number> = { "5m": 5, "1h": 60 };

export class TopTalkers {
  /** Hosts with bytes in the current bucket. */
  private readonly touched: Talker[] = [];
  /** Partial counts of hosts evicted during the current bucket. */
  private readonly evicted: SpaceSaving;
  private readonly fine: FrozenSummary[];
  private readonly coarse: FrozenSummary[];
  private current = Number.NaN;

  constructor(readonly capacity: number) {
    this.evicted = new SpaceSaving(capacity);
    this.fine = Array.from({ length: FINE_SLOTS }, () => new FrozenSummary(capacity));
    this.coarse = Array.from({ length: COARSE_SLOTS }, () => new FrozenSummary(capacity));
  }

  /**
   * Closes the current bucket if `now` is past it, and the current minute with it. Returns what
   * it closed; the first call counts as closing a minute (everything starts then).
   */
  advance(now: number): "none" | "bucket" | "minute" {
    const b = Math.floor(now / FINE_MS);
    if (b === this.current) return "none";
    const prev = this.current;
    this.current = b;
    if (Number.isNaN(prev)) return "minute";
    const slot = this.fine[mod(prev, FINE_SLOTS)] as FrozenSummary;
    slot.fill(prev, mergeParts(this.currentParts()));
    for (const t of this.touched) {
      t.talkIdx = -1;
      t.talkBytes = 0;
    }
    this.touched.length = 0;
    this.evicted.reset();
    const minute = Math.floor(prev / PER_MINUTE);
    if (Math.floor(b / PER_MINUTE) === minute) return "bucket";
    const parts = this.fine.filter((s) => Math.floor(s.bucket / PER_MINUTE) === minute);
    (this.coarse[mod(minute, COARSE_SLOTS)] as FrozenSummary).fill(minute, mergeParts(parts));
    return "minute";
  }

  /** Counts bytes for a host in the current bucket (hot path: no hashing, no allocation). */
  add(t: Talker, bytes: number): void {
    if (t.talkIdx < 0) {
      t.talkIdx = this.touched.length;
      this.touched.push(t);
    }
    t.talkBytes += bytes;
  }

  /** A host leaves the host table: keep its partial count, drop the reference. */
  forget(t: Talker): void {
    const i = t.talkIdx;
    if (i < 0) return;
    if (t.talkBytes > 0) this.evicted.add(t.ip, t.talkBytes);
    const last = this.touched.pop() as Talker;
    if (last !== t) {
      this.touched[i] = last;
      last.talkIdx = i;
    }
    t.talkIdx = -1;
    t.talkBytes = 0;
  }

  /** The k hosts with the most bytes in the window, most first. Call advance(now) first. */
  top(window: Window, k: number, now: number): TalkerEntry[] {
    const cur = Math.floor(now / FINE_MS);
    const parts = this.currentParts();
    if (window === "1m") {
      for (const s of this.fine) if (s.bucket < cur && s.bucket >= cur - (FINE_SLOTS - 1)) parts.push(s);
    } else {
      const minute = Math.floor(cur / PER_MINUTE);
      for (const s of this.fine) if (s.bucket < cur && s.bucket >= minute * PER_MINUTE) parts.push(s);
      const from = minute - WHOLE_MINUTES[window];
      for (const s of this.coarse) if (s.bucket < minute && s.bucket >= from) parts.push(s);
    }
    const top = smallest(mergeParts(parts).entries, Math.max(0, k), byCountDesc);
    return top.map((e) => ({ ip: e.key, bytes: e.count, error: e.error }));
  }

  /** The current bucket as summary parts: the exact counts' top, and the evicted hosts. */
  private currentParts(): SummaryPart[] {
    const kept = smallest(this.touched, this.capacity + 1, byBytesDesc);
    const listed: SpaceSavingEntry[] = [];
    const n = Math.min(kept.length, this.capacity);
    for (let i = 0; i < n; i++) {
      const t = kept[i] as Talker;
      listed.push({ key: t.ip, count: t.talkBytes, error: 0 });
    }
    const parts: SummaryPart[] = [new ExactTop(listed, kept[this.capacity]?.talkBytes ?? 0)];
    if (this.evicted.size > 0) parts.push(this.evicted);
    return parts;
  }

  /** Hosts counted in the current bucket (bounded by the host table). */
  get counting(): number {
    return this.touched.length;
  }

  entries(): number {
    let n = this.evicted.size;
    for (const s of this.fine) n += s.size;
    for (const s of this.coarse) n += s.size;
    return n;
  }

  counters(): number {
    return (FINE_SLOTS + COARSE_SLOTS + 1) * this.capacity;
  }

  replacements(): number {
    return this.evicted.replacements;
  }

  approxBytes(): number {
    let n = this.evicted.approxBytes() + this.touched.length * 8;
    for (const s of this.fine) n += s.approxBytes();
    for (const s of this.coarse) n += s.approxBytes();
    return n;
  }
}

function byBytesDesc(a: Talker, b: Talker): number {
  return b.talkBytes - a.talkBytes || (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0);
}
