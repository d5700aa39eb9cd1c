// Sorting and paging for query answers. A page near the start of a large table (the usual
// "top 50 hosts") is selected with a bounded heap instead of sorting the whole table.
import type { Page } from "./types.js";

/** Largest page size honoured, whatever the caller asks. */
export const MAX_LIMIT = 10_000;
/** Page size when the caller gives none. */
export const DEFAULT_LIMIT = 50;

export function clampPaging(offset: number, limit: number): { offset: number; limit: number } {
  const o = Number.isFinite(offset) && offset > 0 ? Math.floor(offset) : 0;
  const l = Number.isFinite(limit) ? Math.min(Math.max(0, Math.floor(limit)), MAX_LIMIT) : DEFAULT_LIMIT;
  return { offset: o, limit: l };
}

/** The first `n` items of `items` in `cmp` order (a total order), sorted. Reorders nothing else. */
export function smallest<T>(items: Iterable<T>, n: number, cmp: (a: T, b: T) => number): T[] {
  if (n <= 0) return [];
  if (Array.isArray(items) && n * 4 >= items.length) return [...items].sort(cmp).slice(0, n);
  // Max-heap of the n best so far: the root is the worst of them, replaced by anything better.
  const heap: T[] = [];
  const worse = (i: number, j: number) => cmp(heap[i] as T, heap[j] as T) > 0;
  const swap = (i: number, j: number) => {
    const t = heap[i] as T;
    heap[i] = heap[j] as T;
    heap[j] = t;
  };
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && worse(l, m)) m = l;
      if (r < heap.length && worse(r, m)) m = r;
      if (m === i) return;
      swap(i, m);
      i = m;
    }
  };
  for (const it of items) {
    if (heap.length < n) {
      heap.push(it);
      for (let i = heap.length - 1; i > 0; ) {
        const p = (i - 1) >> 1;
        if (!worse(i, p)) break;
        swap(i, p);
        i = p;
      }
    } else if (cmp(it, heap[0] as T) < 0) {
      heap[0] = it;
      down(0);
    }
  }
  return heap.sort(cmp);
}

/** One page of `items` in `cmp` order, each item mapped by `view`. */
export function page<T, V>(
  items: readonly T[],
  cmp: (a: T, b: T) => number,
  offset: number,
  limit: number,
  view: (t: T) => V,
): Page<V> {
  const p = clampPaging(offset, limit);
  const firstN = smallest(items, p.offset + p.limit, cmp);
  return { total: items.length, offset: p.offset, limit: p.limit, items: firstN.slice(p.offset).map(view) };
}
