// Per-key traffic counters with a cap on distinct keys: the first `cap` keys are counted
// individually and the rest together as "other", so a scanner touching a million peers costs a
// host `cap` entries. Exact: every byte lands either in its key or in "other".
//
// Most hosts have a single peer or application, and the hot path is bound by memory latency,
// so the first key lives in the object itself; a Map is only made for the second one.
import type { Counters } from "./types.js";

export class Cell implements Counters {
  bytes = 0;
  packets = 0;
  flows = 0;
  constructor(
    readonly key: string,
    /** A label that comes with the key (an application's category). */
    readonly tag: string,
  ) {}
}

/** What add() did with the key, for callers that count keys (hosts per application). */
export enum AddResult {
  Counted = 0,
  NewKey = 1,
  Other = 2,
}

export class CappedCounters {
  private key0: string | null = null;
  private tag0 = "";
  private bytes0 = 0;
  private packets0 = 0;
  private flows0 = 0;
  private more: Map<string, Cell> | null = null;
  private otherCounters: Counters | null = null;

  constructor(readonly cap: number) {}

  get size(): number {
    return this.key0 === null ? 0 : 1 + (this.more === null ? 0 : this.more.size);
  }

  get other(): Counters {
    const o = this.otherCounters;
    return o === null ? { bytes: 0, packets: 0, flows: 0 } : { ...o };
  }

  add(key: string, tag: string, bytes: number, packets: number, flows: number): AddResult {
    if (this.key0 === key) {
      this.bytes0 += bytes;
      this.packets0 += packets;
      this.flows0 += flows;
      return AddResult.Counted;
    }
    return this.addMore(key, tag, bytes, packets, flows);
  }

  private addMore(key: string, tag: string, bytes: number, packets: number, flows: number): AddResult {
    if (this.key0 === null) {
      this.key0 = key;
      this.tag0 = tag;
      this.bytes0 = bytes;
      this.packets0 = packets;
      this.flows0 = flows;
      return AddResult.NewKey;
    }
    let r = AddResult.Counted;
    let c = this.more?.get(key);
    if (c === undefined) {
      if (this.size >= this.cap) {
        if (this.otherCounters === null) this.otherCounters = { bytes: 0, packets: 0, flows: 0 };
        const o = this.otherCounters;
        o.bytes += bytes;
        o.packets += packets;
        o.flows += flows;
        return AddResult.Other;
      }
      c = new Cell(key, tag);
      if (this.more === null) this.more = new Map();
      this.more.set(key, c);
      r = AddResult.NewKey;
    }
    c.bytes += bytes;
    c.packets += packets;
    c.flows += flows;
    return r;
  }

  has(key: string): boolean {
    return this.key0 === key || (this.more?.has(key) ?? false);
  }

  keys(): string[] {
    if (this.key0 === null) return [];
    return this.more === null ? [this.key0] : [this.key0, ...this.more.keys()];
  }

  /** Cells by bytes, most first. */
  sorted(): Cell[] {
    if (this.key0 === null) return [];
    const first = new Cell(this.key0, this.tag0);
    first.bytes = this.bytes0;
    first.packets = this.packets0;
    first.flows = this.flows0;
    const out = this.more === null ? [first] : [first, ...this.more.values()];
    return out.sort((a, b) => b.bytes - a.bytes || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}
