// An intrusive doubly linked list ordered by last use. The links live on the entries themselves
// so that touching an entry on the hot path is a few pointer writes: no hashing, no allocation
// (a Map re-inserted on every touch would hash the key twice per touch).

export interface LruLinks<T> {
  lruPrev: T | null;
  lruNext: T | null;
}

export class LruList<T extends LruLinks<T>> {
  /** Least recently used. */
  head: T | null = null;
  /** Most recently used. */
  tail: T | null = null;
  size = 0;

  /** Appends an entry that is not in the list. */
  push(e: T): void {
    e.lruPrev = this.tail;
    e.lruNext = null;
    if (this.tail === null) this.head = e;
    else this.tail.lruNext = e;
    this.tail = e;
    this.size++;
  }

  remove(e: T): void {
    const { lruPrev: p, lruNext: n } = e;
    if (p === null) this.head = n;
    else p.lruNext = n;
    if (n === null) this.tail = p;
    else n.lruPrev = p;
    e.lruPrev = null;
    e.lruNext = null;
    this.size--;
  }

  /** Marks an entry (already in the list) as the most recently used. */
  touch(e: T): void {
    if (this.tail === e) return;
    this.remove(e);
    this.push(e);
  }

  /** Removes and returns the least recently used entry. */
  shift(): T | null {
    const h = this.head;
    if (h !== null) this.remove(h);
    return h;
  }

  /** Least to most recent; do not remove entries while iterating. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let e = this.head; e !== null; e = e.lruNext) yield e;
  }
}
