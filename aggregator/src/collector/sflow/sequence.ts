// Lost export datagrams, from the sequence numbers exporters put in them (sFlow datagram
// sequence per agent and sub-agent; NetFlow v9 package sequence per source id). A gap counts
// the datagrams it skipped; one of them arriving late takes its count back; a jump backwards
// beyond the reorder window, or a far jump forwards, is an exporter restart and starts over.
// Bounded: the least recently seen source makes room for a new one (counted).

/** How far back a datagram may arrive and still be a late one rather than a restart (bits of `seen`). */
const REORDER_WINDOW = 32;
/** A forward jump larger than this is a restart (or garbage), not that many lost datagrams. */
const MAX_GAP = 1 << 20;
const TWO32 = 4294967296;

interface SourceSeq {
  key: string;
  /** Highest sequence number seen since the last restart. */
  last: number;
  /** Bit j: sequence last-j has arrived (tells a late datagram from a duplicate). */
  seen: number;
  lost: number;
  reordered: number;
  restarts: number;
  datagrams: number;
}

export interface SequenceSourceStats {
  source: string;
  datagrams: number;
  lost: number;
  reordered: number;
  restarts: number;
  lastSequence: number;
}

export class SequenceTracker {
  private readonly sources = new Map<string, SourceSeq>();
  private lostTotal = 0;
  evictions = 0;

  constructor(readonly maxSources: number) {}

  /**
   * The sequence number of one datagram from `key`; returns the change to the lost count it
   * implies (positive for a gap, -1 for a late arrival of a datagram counted lost, 0 otherwise).
   */
  observe(key: string, sequence: number): number {
    let s = this.sources.get(key);
    if (s === undefined) {
      if (this.sources.size >= this.maxSources) {
        const oldest = this.sources.keys().next();
        if (!oldest.done) {
          this.sources.delete(oldest.value);
          this.evictions++;
        }
      }
      s = { key, last: sequence, seen: 1, lost: 0, reordered: 0, restarts: 0, datagrams: 1 };
      this.sources.set(key, s);
      return 0;
    }
    // Most recently seen last: Map order is the LRU order.
    this.sources.delete(key);
    this.sources.set(key, s);
    s.datagrams++;
    const ahead = (sequence - s.last + TWO32) % TWO32;
    if (ahead === 1) {
      s.last = sequence;
      s.seen = ((s.seen << 1) | 1) >>> 0;
      return 0;
    }
    if (ahead !== 0 && ahead <= MAX_GAP) {
      s.last = sequence;
      s.seen = ahead < REORDER_WINDOW ? ((s.seen << ahead) | 1) >>> 0 : 1;
      s.lost += ahead - 1;
      this.lostTotal += ahead - 1;
      return ahead - 1;
    }
    const behind = (s.last - sequence + TWO32) % TWO32;
    if (behind < REORDER_WINDOW) {
      // A duplicate, or a late datagram whose slot was counted lost: it is not lost after all.
      const bit = 2 ** behind;
      if (Math.floor(s.seen / bit) % 2 === 1) return 0;
      s.seen = (s.seen | bit) >>> 0;
      s.reordered++;
      if (s.lost > 0) {
        s.lost--;
        this.lostTotal--;
        return -1;
      }
      return 0;
    }
    s.restarts++;
    s.last = sequence;
    s.seen = 1;
    return 0;
  }

  get lost(): number {
    return this.lostTotal;
  }

  get size(): number {
    return this.sources.size;
  }

  stats(): SequenceSourceStats[] {
    return [...this.sources.values()].map((s) => ({
      source: s.key,
      datagrams: s.datagrams,
      lost: s.lost,
      reordered: s.reordered,
      restarts: s.restarts,
      lastSequence: s.last,
    }));
  }
}
