// A bounded map from a two-half hash key to a slot number, for per-entity check state kept in
// flat arrays indexed by slot. Open addressing with linear probing and backward-shift deletion:
// no object per entry, no allocation once built. When full, new keys are refused and counted
// (the caller sweeps stale slots on its timer). A position's two halves and slot sit side by
// side (E_* in one array), so that a lookup, which every record of a check makes, reads one
// cache line where three arrays made it read three.
/** A position's int32s in KeyTable.ent: the key's two halves, its slot, and padding to 16 bytes. */
const E_H1 = 0;
const E_H2 = 1;
const E_SLOT = 2;
const E_STRIDE = 4;

export class KeyTable {
  capacity: number;
  private mask: number;
  /** Per position, E_STRIDE int32s: the key's halves and its slot (-1: the position is empty). */
  private ent: Int32Array;
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
    this.ent = new Int32Array(positions * E_STRIDE).fill(-1);
    this.posOf = new Int32Array(capacity).fill(-1);
    this.free = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.free[i] = capacity - 1 - i;
    this.freeTop = capacity;
    this.labels = new Array<string>(capacity).fill("");
  }

  /** Bytes of the table's arrays (for the memory metric). */
  get bytes(): number {
    return (this.mask + 1) * E_STRIDE * 4 + this.capacity * 8 + this.capacity * 8;
  }

  find(h1: number, h2: number): number {
    const mask = this.mask;
    const ent = this.ent;
    for (let p = h1 & mask; ; p = (p + 1) & mask) {
      const e = p * E_STRIDE;
      const s = ent[e + E_SLOT] as number;
      if (s < 0) return -1;
      if (ent[e + E_H1] === h1 && ent[e + E_H2] === h2) return s;
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
    const ent = this.ent;
    let p = h1 & mask;
    while ((ent[p * E_STRIDE + E_SLOT] as number) >= 0) p = (p + 1) & mask;
    this.put(p, h1, h2, slot);
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
    const ent = this.ent;
    // Backward shift: move later entries of the probe run into the hole when their home allows.
    let q = (p + 1) & mask;
    for (;;) {
      const e = q * E_STRIDE;
      const s = ent[e + E_SLOT] as number;
      if (s < 0) break;
      const home = (ent[e + E_H1] as number) & mask;
      const between = p <= q ? home > p && home <= q : home > p || home <= q;
      if (!between) {
        this.put(p, ent[e + E_H1] as number, ent[e + E_H2] as number, s);
        p = q;
      }
      q = (q + 1) & mask;
    }
    ent[p * E_STRIDE + E_SLOT] = -1;
  }

  /** Files the key (h1, h2) of `slot` at position p. */
  private put(p: number, h1: number, h2: number, slot: number): void {
    const e = p * E_STRIDE;
    this.ent[e + E_H1] = h1;
    this.ent[e + E_H2] = h2;
    this.ent[e + E_SLOT] = slot;
    this.posOf[slot] = p;
  }

  /**
   * Makes room for `capacity` slots, keeping every slot number (state kept elsewhere by slot
   * stays valid, and so do lists of slots taken before). New slots are handed out first.
   */
  grow(capacity: number): void {
    if (capacity <= this.capacity) return;
    const old = { ent: this.ent, mask: this.mask };
    let positions = 16;
    while (positions < capacity * 2) positions *= 2;
    this.mask = positions - 1;
    this.ent = new Int32Array(positions * E_STRIDE).fill(-1);
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
      const e = p * E_STRIDE;
      const slot = old.ent[e + E_SLOT] as number;
      if (slot < 0) continue;
      const a = old.ent[e + E_H1] as number;
      let q = a & this.mask;
      while ((this.ent[q * E_STRIDE + E_SLOT] as number) >= 0) q = (q + 1) & this.mask;
      this.put(q, a, old.ent[e + E_H2] as number, slot);
    }
    for (let i = this.capacity; i < capacity; i++) this.labels.push("");
    this.capacity = capacity;
  }

  /** Calls fn for every slot in use. */
  forEach(fn: (slot: number) => void): void {
    for (let p = 0; p <= this.mask; p++) {
      const s = this.ent[p * E_STRIDE + E_SLOT] as number;
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
