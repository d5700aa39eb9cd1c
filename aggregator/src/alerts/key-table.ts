// A bounded map from a two-half hash key to a slot number, for per-entity check state kept in
// flat arrays indexed by slot. Open addressing with linear probing and backward-shift deletion:
// no object per entry, no allocation once built. When full, new keys are refused and counted
// (the caller sweeps stale slots on its timer).
export class KeyTable {
  capacity: number;
  private mask: number;
  private h1: Int32Array;
  private h2: Int32Array;
  /** Slot stored at each position, -1 when empty. */
  private slotAt: Int32Array;
  /** Position of each slot, -1 when free. */
  private posOf: Int32Array;
  private free: Int32Array;
  private freeTop: number;
  /** The entity name of each slot (an address, ...), made when the slot is added. */
  readonly labels: string[];
  size = 0;
  /** Keys refused because the table was full. */
  overflows = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    let positions = 16;
    while (positions < capacity * 2) positions *= 2;
    this.mask = positions - 1;
    this.h1 = new Int32Array(positions);
    this.h2 = new Int32Array(positions);
    this.slotAt = new Int32Array(positions).fill(-1);
    this.posOf = new Int32Array(capacity).fill(-1);
    this.free = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.free[i] = capacity - 1 - i;
    this.freeTop = capacity;
    this.labels = new Array<string>(capacity).fill("");
  }

  /** Bytes of the table's arrays (for the memory metric). */
  get bytes(): number {
    return (this.mask + 1) * 12 + this.capacity * 8 + this.capacity * 8;
  }

  find(h1: number, h2: number): number {
    const mask = this.mask;
    for (let p = h1 & mask; ; p = (p + 1) & mask) {
      const s = this.slotAt[p] as number;
      if (s < 0) return -1;
      if (this.h1[p] === h1 && this.h2[p] === h2) return s;
    }
  }

  /** Adds a key known to be absent; returns its slot, or -1 (counted) when full. */
  add(h1: number, h2: number, label: string): number {
    if (this.freeTop === 0) {
      this.overflows++;
      return -1;
    }
    const slot = this.free[--this.freeTop] as number;
    const mask = this.mask;
    let p = h1 & mask;
    while ((this.slotAt[p] as number) >= 0) p = (p + 1) & mask;
    this.h1[p] = h1;
    this.h2[p] = h2;
    this.slotAt[p] = slot;
    this.posOf[slot] = p;
    this.labels[slot] = label;
    this.size++;
    return slot;
  }

  remove(slot: number): void {
    let p = this.posOf[slot] as number;
    if (p < 0) return;
    this.posOf[slot] = -1;
    this.labels[slot] = "";
    this.free[this.freeTop++] = slot;
    this.size--;
    const mask = this.mask;
    // Backward shift: move later entries of the probe run into the hole when their home allows.
    let q = (p + 1) & mask;
    for (;;) {
      const s = this.slotAt[q] as number;
      if (s < 0) break;
      const home = (this.h1[q] as number) & mask;
      const between = p <= q ? home > p && home <= q : home > p || home <= q;
      if (!between) {
        this.h1[p] = this.h1[q] as number;
        this.h2[p] = this.h2[q] as number;
        this.slotAt[p] = s;
        this.posOf[s] = p;
        p = q;
      }
      q = (q + 1) & mask;
    }
    this.slotAt[p] = -1;
  }

  /**
   * Makes room for `capacity` slots, keeping every slot number (state kept elsewhere by slot
   * stays valid, and so do lists of slots taken before). New slots are handed out first.
   */
  grow(capacity: number): void {
    if (capacity <= this.capacity) return;
    const old = { h1: this.h1, h2: this.h2, slotAt: this.slotAt, mask: this.mask };
    let positions = 16;
    while (positions < capacity * 2) positions *= 2;
    this.mask = positions - 1;
    this.h1 = new Int32Array(positions);
    this.h2 = new Int32Array(positions);
    this.slotAt = new Int32Array(positions).fill(-1);
    const posOf = new Int32Array(capacity).fill(-1);
    const free = new Int32Array(capacity);
    // Free slots: the new ones (handed out last-in first-out, lowest first), then the old free ones.
    let top = 0;
    for (let i = this.freeTop - 1; i >= 0; i--) free[top++] = this.free[i] as number;
    for (let i = capacity - 1; i >= this.capacity; i--) free[top++] = i;
    this.posOf = posOf;
    this.free = free;
    this.freeTop = top;
    for (let p = 0; p <= old.mask; p++) {
      const slot = old.slotAt[p] as number;
      if (slot < 0) continue;
      const a = old.h1[p] as number;
      let q = a & this.mask;
      while ((this.slotAt[q] as number) >= 0) q = (q + 1) & this.mask;
      this.h1[q] = a;
      this.h2[q] = old.h2[p] as number;
      this.slotAt[q] = slot;
      this.posOf[slot] = q;
    }
    for (let i = this.capacity; i < capacity; i++) this.labels.push("");
    this.capacity = capacity;
  }

  /** Calls fn for every slot in use. */
  forEach(fn: (slot: number) => void): void {
    for (let p = 0; p <= this.mask; p++) {
      const s = this.slotAt[p] as number;
      if (s >= 0) fn(s);
    }
  }

  /** Slots in use, as a list (for sweeps that remove while walking). */
  slots(): number[] {
    const out: number[] = [];
    this.forEach((s) => {
      out.push(s);
    });
    return out;
  }
}

/** Linear-counting distinct estimate from the number of set bits of an m-bit bitmap. */
export function linearCount(setBits: number, m: number): number {
  if (setBits >= m) return m * Math.log(m); // saturated: the largest value it can tell
  return Math.round(-m * Math.log((m - setBits) / m));
}
