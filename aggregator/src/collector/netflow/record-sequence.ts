// Lost IPFIX data records, from the message sequence numbers (RFC 7011 section 3.1: a counter,
// modulo 2^32, of the data records sent by the observation domain before the message). A gap
// counts the records it skipped; a late message whose records were counted lost takes them
// back; a jump backwards beyond the reorder window, or a far jump forwards, is an exporter
// restart and starts over. NetFlow v9 counts packets instead, one per datagram: sflow's
// SequenceTracker follows those.
//
// Exporters differ in what they count: the RFC counts every data record (options data too)
// sent before the message; softflowd counts flow records only, up to and including the
// message's own. The tracker learns which of these a source does from the messages that
// arrive in order (those that tell them apart), and measures gaps in that source's unit.
// Bounded: the least recently seen source makes room for a new one (counted).

/** How far behind the expected sequence a message may be and still be a late one (records). */
const REORDER_RECORDS = 1 << 16;
/** A forward jump larger than this is a restart (or garbage), not that many lost records. */
const MAX_GAP = 1 << 24;
/** Gaps remembered per source, so that late messages can fill them. */
const MAX_GAPS = 8;
const TWO32 = 4294967296;

// What a source's sequence counts: data records before the message (the RFC) or up to and
// including it (AFTER), every data record or flow records only (FLOWS: options data left out).
const AFTER = 1;
const FLOWS = 2;
/** Every way, as a set of candidates (bit 1 << style). */
const ALL_STYLES = 0b1111;

interface Source {
  key: string;
  lastSeq: number;
  /** The last message's data records, all and flow records only. */
  lastCount: number;
  lastFlows: number;
  /** The ways of counting this source's messages in order have agreed with (bits 1 << style). */
  styles: number;
  /** The last message's record count was unknown: the next message resynchronises. */
  resync: boolean;
  /** Records counted lost and not yet arrived: [start, length] pairs, in records-before terms. */
  gaps: number[];
  lost: number;
  reordered: number;
  restarts: number;
  messages: number;
}

export interface RecordSequenceStats {
  source: string;
  messages: number;
  lost: number;
  reordered: number;
  restarts: number;
  lastSequence: number;
}

const mod32 = (n: number): number => ((n % TWO32) + TWO32) % TWO32;

/** The ways among `styles` by which `sequence` is the one expected next. */
function matches(s: Source, styles: number, sequence: number, count: number, flows: number): number {
  let m = 0;
  for (let style = 0; style < 4; style++) {
    if ((styles & (1 << style)) !== 0 && sequence === expected(s, style, count, flows)) m |= 1 << style;
  }
  return m;
}

/** The sequence number a source counting `style`'s way gives its next message. */
function expected(s: Source, style: number, count: number, flows: number): number {
  const fl = (style & FLOWS) !== 0;
  const n = (style & AFTER) !== 0 ? (fl ? flows : count) : fl ? s.lastFlows : s.lastCount;
  return mod32(s.lastSeq + Math.max(n, 0));
}

export class RecordSequenceTracker {
  private readonly sources = new Map<string, Source>();
  private lostTotal = 0;
  evictions = 0;

  constructor(readonly maxSources: number) {}

  /**
   * One message from `key` with sequence number `sequence`, `count` data records of which
   * `flows` are not options data (both -1 when some of its records could not be counted: a
   * set waiting for its template). Returns the change to the records lost it implies: positive
   * for a gap, negative for a late message whose records had been counted lost, 0 otherwise.
   */
  observe(key: string, sequence: number, count: number, flows = count): number {
    let s = this.sources.get(key);
    if (s === undefined) {
      if (this.sources.size >= this.maxSources) {
        const oldest = this.sources.keys().next();
        if (!oldest.done) {
          this.sources.delete(oldest.value);
          this.evictions++;
        }
      }
      s = {
        key,
        lastSeq: 0,
        lastCount: 0,
        lastFlows: 0,
        styles: ALL_STYLES,
        resync: false,
        gaps: [],
        lost: 0,
        reordered: 0,
        restarts: 0,
        messages: 1,
      };
      this.follow(s, sequence, count, flows);
      this.sources.set(key, s);
      return 0;
    }
    // Most recently seen last: Map order is the LRU order.
    this.sources.delete(key);
    this.sources.set(key, s);
    s.messages++;
    if (s.resync) {
      this.follow(s, sequence, count, flows);
      return 0;
    }
    let matching = matches(s, s.styles, sequence, count, flows);
    // A way ruled out by a coincidence earlier may be the one after all.
    if (matching === 0) matching = matches(s, ALL_STYLES, sequence, count, flows);
    if (matching !== 0) {
      s.styles = matching;
      this.follow(s, sequence, count, flows);
      return 0;
    }
    // Out of order: judged by the first way the source may count.
    const style = 31 - Math.clz32(s.styles & -s.styles);
    const n = Math.max((style & FLOWS) !== 0 ? flows : count, 0);
    const want = expected(s, style, count, flows);
    // Records-before terms: where the message's records, and the gap before them, start.
    const after = (style & AFTER) !== 0;
    const ahead = mod32(sequence - want);
    if (ahead <= MAX_GAP) {
      s.gaps.push(after ? mod32(want - n) : want, ahead);
      if (s.gaps.length > 2 * MAX_GAPS) s.gaps.splice(0, 2);
      s.lost += ahead;
      this.lostTotal += ahead;
      this.follow(s, sequence, count, flows);
      return ahead;
    }
    if (mod32(want - sequence) <= REORDER_RECORDS) {
      const back = this.late(s, after ? mod32(sequence - n) : sequence, n);
      return back === 0 ? 0 : -back;
    }
    s.restarts++;
    s.gaps.length = 0;
    this.follow(s, sequence, count, flows);
    return 0;
  }

  private follow(s: Source, sequence: number, count: number, flows: number): void {
    s.lastSeq = sequence;
    s.lastCount = Math.max(count, 0);
    s.lastFlows = Math.max(flows, 0);
    s.resync = count < 0 || flows < 0;
  }

  /** A late message's records [start, start + n): taken back if they fall in a gap. */
  private late(s: Source, start: number, n: number): number {
    const g = s.gaps;
    for (let i = 0; i < g.length; i += 2) {
      const gs = g[i] as number;
      const gl = g[i + 1] as number;
      const off = mod32(start - gs);
      if (off + n > gl) continue;
      // Split the gap around the records that arrived.
      const rest = gl - off - n;
      if (off === 0) {
        g[i] = mod32(gs + n);
        g[i + 1] = rest;
      } else {
        g[i + 1] = off;
        if (rest > 0 && g.length < 2 * MAX_GAPS) g.push(mod32(start + n), rest);
      }
      if (g[i + 1] === 0) g.splice(i, 2);
      s.reordered++;
      const back = Math.min(n, s.lost);
      s.lost -= back;
      this.lostTotal -= back;
      return back;
    }
    // A duplicate, or records not counted lost: nothing to take back.
    return 0;
  }

  get lost(): number {
    return this.lostTotal;
  }

  stats(): RecordSequenceStats[] {
    return [...this.sources.values()].map((s) => ({
      source: s.key,
      messages: s.messages,
      lost: s.lost,
      reordered: s.reordered,
      restarts: s.restarts,
      lastSequence: s.lastSeq,
    }));
  }
}
