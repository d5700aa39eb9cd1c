// Time series in preallocated rings: a slot per bucket, reused when the ring wraps, so a series
// costs the same memory on its first minute as after a month. Buckets are aligned on the epoch
// (t = k * bucketMs) of the ingest wall clock.
import { mod } from "./num.js";
import type { Resolution, SeriesPoint } from "./types.js";

export class RingSeries {
  /** Bucket number held by each slot; NaN before first use. */
  private readonly bucketOf: Float64Array;
  private readonly bytes: Float64Array;
  private readonly packets: Float64Array;
  private readonly flows: Float64Array;
  /** First bucket of this series: nothing is reported before it. */
  private readonly start: number;
  /** The `now` of the last add() and the slot of its bucket. */
  private lastNow = Number.NaN;
  private lastSlot = 0;

  constructor(
    readonly bucketMs: number,
    readonly slots: number,
    startMs: number,
  ) {
    this.bucketOf = new Float64Array(slots).fill(Number.NaN);
    this.bytes = new Float64Array(slots);
    this.packets = new Float64Array(slots);
    this.flows = new Float64Array(slots);
    this.start = Math.floor(startMs / bucketMs);
  }

  add(now: number, bytes: number, packets: number, flows: number): void {
    let i = this.lastSlot;
    // A batch's records all come at one `now`: the bucket is found once.
    if (now !== this.lastNow) {
      const b = Math.floor(now / this.bucketMs);
      i = mod(b, this.slots);
      this.lastNow = now;
      this.lastSlot = i;
      if (this.bucketOf[i] !== b) {
        this.bucketOf[i] = b;
        this.bytes[i] = bytes;
        this.packets[i] = packets;
        this.flows[i] = flows;
        return;
      }
    }
    this.bytes[i] = (this.bytes[i] as number) + bytes;
    this.packets[i] = (this.packets[i] as number) + packets;
    this.flows[i] = (this.flows[i] as number) + flows;
  }

  /**
   * One point per bucket (zeros included, so charts need no gap filling) from the oldest bucket
   * still held, the series start or sinceMs, whichever is latest, to the bucket of untilMs or now.
   */
  points(now: number, sinceMs?: number, untilMs?: number): SeriesPoint[] {
    const cur = Math.floor(now / this.bucketMs);
    let first = Math.max(cur - this.slots + 1, this.start);
    let last = cur;
    if (sinceMs !== undefined && Number.isFinite(sinceMs)) first = Math.max(first, Math.floor(sinceMs / this.bucketMs));
    if (untilMs !== undefined && Number.isFinite(untilMs)) last = Math.min(last, Math.floor(untilMs / this.bucketMs));
    const out: SeriesPoint[] = [];
    for (let b = first; b <= last; b++) {
      const i = mod(b, this.slots);
      const held = this.bucketOf[i] === b;
      out.push({
        t: b * this.bucketMs,
        bytes: held ? (this.bytes[i] as number) : 0,
        packets: held ? (this.packets[i] as number) : 0,
        flows: held ? (this.flows[i] as number) : 0,
      });
    }
    return out;
  }
}

/** Bucket size and length of each resolution: an hour of 10 s, a day of 1 min, 30 days of 1 h. */
export const RESOLUTION_RINGS: Record<Resolution, { bucketMs: number; slots: number }> = {
  "10s": { bucketMs: 10_000, slots: 360 },
  "1m": { bucketMs: 60_000, slots: 1440 },
  "1h": { bucketMs: 3_600_000, slots: 720 },
};

/** The three resolutions of one entity, fed together. */
export class SeriesSet {
  private readonly r10s: RingSeries;
  private readonly r1m: RingSeries;
  private readonly r1h: RingSeries;

  constructor(startMs: number) {
    const mk = (r: Resolution) => new RingSeries(RESOLUTION_RINGS[r].bucketMs, RESOLUTION_RINGS[r].slots, startMs);
    this.r10s = mk("10s");
    this.r1m = mk("1m");
    this.r1h = mk("1h");
  }

  add(now: number, bytes: number, packets: number, flows: number): void {
    this.r10s.add(now, bytes, packets, flows);
    this.r1m.add(now, bytes, packets, flows);
    this.r1h.add(now, bytes, packets, flows);
  }

  ring(resolution: Resolution): RingSeries {
    return resolution === "10s" ? this.r10s : resolution === "1m" ? this.r1m : this.r1h;
  }

  /** Heap bytes of one set: the same for every set, whatever it holds. */
  static readonly BYTES = Object.values(RESOLUTION_RINGS).reduce((n, r) => n + r.slots * 4 * 8, 0);
}
