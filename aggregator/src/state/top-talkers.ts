// Top talkers (bytes sent + received per host) over sliding windows of ingest time.
//
// During a 10 s bucket each host counts its own bytes exactly (two numbers per host, in arrays
// indexed by its host table slot, so the hot path hashes nothing). When the bucket closes, its `capacity` largest hosts are frozen
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
import { atLeastNthLargest, smallest } from "./select.js";
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

/** Talkers are ids (host table slots); this gives a talker's address. */
export type TalkerAddress = (id: number) => string;

const FINE_MS = 10_000;
const PER_MINUTE = 6;
const FINE_SLOTS = 7;
const COARSE_SLOTS = 61;
const WHOLE_MINUTES: Record<Exclude<Window, "1m">, number> = { "5m": 5, "1h": 60 };

export class TopTalkers {
  /**
   * Hosts with bytes in the current bucket: the first `talkCtl[0]` entries. Typed arrays, like
   * the per-id counts, so that the host table's native counting can count talkers too (it holds
   * them: they never move once the ids are bounded).
   */
  touched: Int32Array;
  readonly talkCtl = new Int32Array(1);
  /** Per id: bytes in the current bucket, and position in `touched` (-1 when not in it). */
  talkBytes: Float64Array;
  talkIdx: Int32Array;
  /** Partial counts of hosts evicted during the current bucket. */
  private readonly evicted: SpaceSaving;
  private readonly fine: FrozenSummary[];
  /** Room to select the bucket's largest counts in (currentParts). */
  private scratch = new Float64Array(0);
  private readonly coarse: FrozenSummary[];
  private current = Number.NaN;

  /** maxIds: ids are below it (the host table's capacity); 0 for arrays that grow as needed. */
  constructor(
    readonly capacity: number,
    private readonly address: TalkerAddress,
    readonly maxIds = 0,
  ) {
    this.evicted = new SpaceSaving(capacity);
    this.fine = Array.from({ length: FINE_SLOTS }, () => new FrozenSummary(capacity));
    this.coarse = Array.from({ length: COARSE_SLOTS }, () => new FrozenSummary(capacity));
    this.talkBytes = new Float64Array(maxIds);
    this.talkIdx = new Int32Array(maxIds).fill(-1);
    this.touched = new Int32Array(maxIds);
  }

  private get touchedCount(): number {
    return this.talkCtl[0] as number;
  }

  private set touchedCount(n: number) {
    this.talkCtl[0] = n;
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
    for (let i = 0; i < this.touchedCount; i++) {
      const t = this.touched[i] as number;
      this.talkIdx[t] = -1;
      this.talkBytes[t] = 0;
    }
    this.touchedCount = 0;
    this.evicted.reset();
    const minute = Math.floor(prev / PER_MINUTE);
    if (Math.floor(b / PER_MINUTE) === minute) return "bucket";
    const parts = this.fine.filter((s) => Math.floor(s.bucket / PER_MINUTE) === minute);
    (this.coarse[mod(minute, COARSE_SLOTS)] as FrozenSummary).fill(minute, mergeParts(parts));
    return "minute";
  }

  /** Counts bytes for a host in the current bucket (hot path: no hashing, no allocation). */
  add(t: number, bytes: number): void {
    if (t >= this.talkIdx.length) this.grow(t);
    if ((this.talkIdx[t] as number) < 0) {
      const n = this.touchedCount;
      this.talkIdx[t] = n;
      this.touched[n] = t;
      this.touchedCount = n + 1;
    }
    this.talkBytes[t] = (this.talkBytes[t] as number) + bytes;
  }

  /** Reads a host's count (HostTable.prefetch: to have it in cache when counting). */
  peek(t: number): number {
    return t < this.talkIdx.length ? (this.talkIdx[t] as number) ^ (this.talkBytes[t] as number) : 0;
  }

  /** A host leaves the host table (its id may be reused): keep its partial count. */
  forget(t: number): void {
    if (t >= this.talkIdx.length) return;
    const i = this.talkIdx[t] as number;
    if (i < 0) return;
    const bytes = this.talkBytes[t] as number;
    if (bytes > 0) this.evicted.add(this.address(t), bytes);
    const n = this.touchedCount - 1;
    const last = this.touched[n] as number;
    this.touchedCount = n;
    if (last !== t) {
      this.touched[i] = last;
      this.talkIdx[last] = i;
    }
    this.talkIdx[t] = -1;
    this.talkBytes[t] = 0;
  }

  /** Room for ids up to `id` (only without maxIds: arrays held by native code never move). */
  private grow(id: number): void {
    if (this.maxIds > 0) throw new RangeError(`talker id ${id} is not below maxIds ${this.maxIds}`);
    const n = Math.max(1024, 2 ** Math.ceil(Math.log2(id + 1)));
    const bytes = new Float64Array(n);
    bytes.set(this.talkBytes);
    const idx = new Int32Array(n).fill(-1);
    idx.set(this.talkIdx);
    const touched = new Int32Array(n);
    touched.set(this.touched);
    this.talkBytes = bytes;
    this.talkIdx = idx;
    this.touched = touched;
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
    const talkBytes = this.talkBytes;
    const address = this.address;
    // Numbers first: only hosts that can be among the capacity + 1 largest meet the comparator.
    const n = this.capacity + 1;
    if (this.scratch.length < this.touchedCount) {
      // Doubling, but never past what `touched` can hold (the host table's capacity).
      const room = Math.min(this.touched.length, Math.max(1024, 2 * this.scratch.length));
      this.scratch = new Float64Array(Math.max(this.touchedCount, room));
    }
    const kept = smallest(
      atLeastNthLargest(this.touched, this.touchedCount, talkBytes, n, this.scratch),
      n,
      (a, b) => (talkBytes[b] as number) - (talkBytes[a] as number) || byAddress(address(a), address(b)),
    );
    const listed: SpaceSavingEntry[] = [];
    const listedCount = Math.min(kept.length, this.capacity);
    for (let i = 0; i < listedCount; i++) {
      const t = kept[i] as number;
      listed.push({ key: address(t), count: talkBytes[t] as number, error: 0 });
    }
    const next = kept[this.capacity];
    const parts: SummaryPart[] = [new ExactTop(listed, next === undefined ? 0 : (talkBytes[next] as number))];
    if (this.evicted.size > 0) parts.push(this.evicted);
    return parts;
  }

  /** Hosts counted in the current bucket (bounded by the host table). */
  get counting(): number {
    return this.touchedCount;
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
    let n = this.evicted.approxBytes() + this.talkIdx.length * 16 + this.scratch.length * 8;
    for (const s of this.fine) n += s.approxBytes();
    for (const s of this.coarse) n += s.approxBytes();
    return n;
  }
}

function byAddress(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
