// A set of 32-bit hashes that counts distinct values exactly up to a cap (distinctPeers,
// distinctPorts of threshold rules): open addressing in an Int32Array that starts small and
// doubles, so a target with three peers costs a few bytes and one with thousands at most the
// cap. Past the cap it saturates: the count stays at the cap (the contract says so).
export class DistinctSet {
  private keys: Int32Array;
  size = 0;

  constructor(
    private readonly cap: number,
    initial = 8,
  ) {
    this.keys = new Int32Array(initial);
  }

  get bytes(): number {
    return this.keys.byteLength;
  }

  /** Adds a hash (0 is folded onto 1: it marks an empty cell). */
  add(hash: number): void {
    if (this.size >= this.cap) return;
    const h = hash === 0 ? 1 : hash | 0;
    let keys = this.keys;
    let mask = keys.length - 1;
    for (let p = h & mask; ; p = (p + 1) & mask) {
      const k = keys[p] as number;
      if (k === h) return;
      if (k === 0) {
        // Load factor at most 1/2: grow before inserting past it.
        if ((this.size + 1) * 2 > keys.length) {
          this.grow();
          keys = this.keys;
          mask = keys.length - 1;
          p = h & mask;
          while ((keys[p] as number) !== 0) p = (p + 1) & mask;
        }
        keys[p] = h;
        this.size++;
        return;
      }
    }
  }

  private grow(): void {
    const old = this.keys;
    const keys = new Int32Array(old.length * 2);
    const mask = keys.length - 1;
    for (let i = 0; i < old.length; i++) {
      const k = old[i] as number;
      if (k === 0) continue;
      let p = k & mask;
      while ((keys[p] as number) !== 0) p = (p + 1) & mask;
      keys[p] = k;
    }
    this.keys = keys;
  }

  /** Empties the set; a large one gives its memory back. */
  clear(): void {
    if (this.keys.length > 64) this.keys = new Int32Array(8);
    else this.keys.fill(0);
    this.size = 0;
  }
}
