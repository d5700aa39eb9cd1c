// Heavy-hitter summaries as parts that can be merged: each lists some keys with an upper bound
// (count) and the slack of that bound (error), and bounds every key it does not list by its
// floor. For a listed key, true weight is in [count - error, count]; for any other, in
// [0, floor]. Space-Saving is one such part; a bucket frozen from exact counts is another.
//
// Merging parts that cover disjoint pieces of a stream (Agarwal et al., "Mergeable summaries",
// 2012): a key missing from a part may have had up to that part's floor there, so the floor is
// added to both its count and its error. Compressing to a capacity keeps the largest counts and
// raises the floor to the largest count dropped, so the guarantees survive both.
import { smallest } from "./select.js";

export interface SpaceSavingEntry {
  key: string;
  count: number;
  error: number;
}

export interface SummaryPart {
  /** Upper bound of the weight of any key not listed. */
  readonly floor: number;
  /** Listed keys; a key may be listed more than once (its counts then add up). */
  forEach(fn: (key: string, count: number, error: number) => void): void;
}

export function byCountDesc(a: SpaceSavingEntry, b: SpaceSavingEntry): number {
  return b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/** A merged summary: its entries, and the bound of every key it does not list. */
export interface Merged {
  entries: SpaceSavingEntry[];
  floor: number;
}

export function mergeParts(parts: readonly SummaryPart[]): Merged {
  let floors = 0;
  // part marks the last part that charged a key its floor: a key listed twice in one part pays once.
  const acc = new Map<string, SpaceSavingEntry & { part: number }>();
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] as SummaryPart;
    const f = p.floor;
    floors += f;
    // Counted relative to the floor, so that adding all floors at the end charges each key
    // exactly the floors of the parts it is missing from.
    p.forEach((key, count, error) => {
      const e = acc.get(key);
      if (e === undefined) acc.set(key, { key, count: count - f, error: error - f, part: i });
      else if (e.part === i) {
        e.count += count;
        e.error += error;
      } else {
        e.count += count - f;
        e.error += error - f;
        e.part = i;
      }
    });
  }
  const entries: SpaceSavingEntry[] = [];
  for (const e of acc.values()) entries.push({ key: e.key, count: e.count + floors, error: e.error + floors });
  return { entries, floor: floors };
}

/** A summary of at most `capacity` entries in preallocated arrays, reused bucket after bucket. */
export class FrozenSummary implements SummaryPart {
  private readonly keys: string[];
  private readonly counts: Float64Array;
  private readonly errors: Float64Array;
  private used = 0;
  floor = 0;
  /** The time bucket it holds; NaN while empty. */
  bucket = Number.NaN;

  constructor(readonly capacity: number) {
    this.keys = new Array<string>(capacity).fill("");
    this.counts = new Float64Array(capacity);
    this.errors = new Float64Array(capacity);
  }

  get size(): number {
    return this.used;
  }

  /** Holds the `capacity` largest entries of `m` for `bucket`; the rest raise the floor. */
  fill(bucket: number, m: Merged): void {
    const kept = smallest(m.entries, this.capacity + 1, byCountDesc);
    const n = Math.min(kept.length, this.capacity);
    for (let i = 0; i < n; i++) {
      const e = kept[i] as SpaceSavingEntry;
      this.keys[i] = e.key;
      this.counts[i] = e.count;
      this.errors[i] = e.error;
    }
    this.keys.fill("", n, this.used);
    this.used = n;
    const dropped = kept[this.capacity];
    this.floor = dropped === undefined ? m.floor : Math.max(m.floor, dropped.count);
    this.bucket = bucket;
  }

  forEach(fn: (key: string, count: number, error: number) => void): void {
    for (let i = 0; i < this.used; i++) fn(this.keys[i] as string, this.counts[i] as number, this.errors[i] as number);
  }

  approxBytes(): number {
    return this.capacity * 24 + this.used * 32;
  }
}

/** Exact weights, of which only the largest are listed: the floor is the largest left out. */
export class ExactTop implements SummaryPart {
  constructor(
    private readonly entries: readonly SpaceSavingEntry[],
    readonly floor: number,
  ) {}

  forEach(fn: (key: string, count: number, error: number) => void): void {
    for (const e of this.entries) fn(e.key, e.count, 0);
  }
}
