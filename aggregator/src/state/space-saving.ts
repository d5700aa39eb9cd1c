// Weighted Space-Saving (Metwally, Agrawal, El Abbadi 2005): the heavy hitters of a stream in
// a fixed number of counters, whatever the number of distinct keys. A key that is not monitored
// takes over the smallest counter and inherits its count as its error, so for every monitored
// key: true <= count and count - error <= true; the smallest count (hence every error) is at most
// total / capacity, and every key whose true weight exceeds total / capacity is monitored.
//
// Counters sit in typed arrays allocated once, with a binary min-heap over them, so an update is
// one Map lookup plus a short sift (weights only grow, so a key only sinks). Replacements churn
// the Map (a delete and a set), which is why top talkers feed it only with evicted hosts.
import { byCountDesc, type SpaceSavingEntry, type SummaryPart } from "./summary.js";

export class SpaceSaving implements SummaryPart {
  private readonly slotOf = new Map<string, number>();
  private readonly keys: string[];
  private readonly counts: Float64Array;
  private readonly errors: Float64Array;
  /** heap[i] is a slot; posOf[slot] is its heap position. */
  private readonly heap: Int32Array;
  private readonly posOf: Int32Array;
  private used = 0;
  /** Sum of all weights added since the last reset. */
  total = 0;
  /** Times a monitored key was replaced by a new one. */
  replacements = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be >= 1, got ${capacity}`);
    this.keys = new Array<string>(capacity).fill("");
    this.counts = new Float64Array(capacity);
    this.errors = new Float64Array(capacity);
    this.heap = new Int32Array(capacity);
    this.posOf = new Int32Array(capacity);
  }

  get size(): number {
    return this.used;
  }

  /** The most a key not monitored may have had: 0 until the summary is full. */
  get floor(): number {
    return this.used < this.capacity ? 0 : (this.counts[this.heap[0] as number] as number);
  }

  add(key: string, weight: number): void {
    this.total += weight;
    const slot = this.slotOf.get(key);
    if (slot !== undefined) {
      this.counts[slot] = (this.counts[slot] as number) + weight;
      this.siftDown(this.posOf[slot] as number);
      return;
    }
    if (this.used < this.capacity) {
      const s = this.used++;
      this.keys[s] = key;
      this.counts[s] = weight;
      this.errors[s] = 0;
      this.heap[s] = s;
      this.posOf[s] = s;
      this.slotOf.set(key, s);
      this.siftUp(s);
      return;
    }
    const s = this.heap[0] as number;
    const min = this.counts[s] as number;
    this.slotOf.delete(this.keys[s] as string);
    this.keys[s] = key;
    this.errors[s] = min;
    this.counts[s] = min + weight;
    this.slotOf.set(key, s);
    this.replacements++;
    this.siftDown(0);
  }

  /** The monitored entry for a key, if any. */
  get(key: string): SpaceSavingEntry | undefined {
    const s = this.slotOf.get(key);
    if (s === undefined) return undefined;
    return { key, count: this.counts[s] as number, error: this.errors[s] as number };
  }

  /** Calls fn for every monitored key, in no particular order. */
  forEach(fn: (key: string, count: number, error: number) => void): void {
    for (let s = 0; s < this.used; s++) fn(this.keys[s] as string, this.counts[s] as number, this.errors[s] as number);
  }

  /** The k largest counts, largest first. */
  top(k: number): SpaceSavingEntry[] {
    const out: SpaceSavingEntry[] = [];
    this.forEach((key, count, error) => {
      out.push({ key, count, error });
    });
    out.sort(byCountDesc);
    return out.length > k ? out.slice(0, k) : out;
  }

  reset(): void {
    this.slotOf.clear();
    // Drop the key strings so a reset summary does not pin them.
    this.keys.fill("", 0, this.used);
    this.used = 0;
    this.total = 0;
  }

  /** Rough heap footprint: typed arrays, key slots and the index Map. */
  approxBytes(): number {
    return this.capacity * (8 + 8 + 4 + 4 + 8) + this.used * 40;
  }

  private siftUp(i: number): void {
    const { heap, posOf, counts } = this;
    const s = heap[i] as number;
    const c = counts[s] as number;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const ps = heap[p] as number;
      if ((counts[ps] as number) <= c) break;
      heap[i] = ps;
      posOf[ps] = i;
      i = p;
    }
    heap[i] = s;
    posOf[s] = i;
  }

  private siftDown(i: number): void {
    const { heap, posOf, counts } = this;
    const n = this.used;
    const s = heap[i] as number;
    const c = counts[s] as number;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let m = l;
      let ms = heap[l] as number;
      if (r < n) {
        const rs = heap[r] as number;
        if ((counts[rs] as number) < (counts[ms] as number)) {
          m = r;
          ms = rs;
        }
      }
      if ((counts[ms] as number) >= c) break;
      heap[i] = ms;
      posOf[ms] = i;
      i = m;
    }
    heap[i] = s;
    posOf[s] = i;
  }
}
