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

/**
 * The ids among `ids[0, count)` whose value is at least the n-th largest of their values: a
 * superset of the n largest under any order by value descending (ties included), to be ordered
 * by the caller. Numbers only (no comparator calls), in place on `scratch`, which must hold
 * `count` numbers; so that picking the top of 100k hosts does not compare 100k of them by a
 * comparator that falls back to their address strings on ties.
 */
export function atLeastNthLargest(
  ids: Int32Array,
  count: number,
  values: Float64Array,
  n: number,
  scratch: Float64Array,
): number[] {
  const out: number[] = [];
  if (n <= 0 || count <= 0) return out;
  if (n < count) {
    for (let i = 0; i < count; i++) scratch[i] = values[ids[i] as number] as number;
    const floor = nthLargest(scratch, count, n);
    for (let i = 0; i < count; i++) {
      const id = ids[i] as number;
      if ((values[id] as number) >= floor) out.push(id);
    }
    return out;
  }
  for (let i = 0; i < count; i++) out.push(ids[i] as number);
  return out;
}

/**
 * The n-th largest of a[0, count) (1 <= n <= count), reordering a (quickselect, Hoare's
 * partition around the median of three). NaN is not expected (counts are sums of numbers >= 0).
 * Counts come from traffic, so an order that defeats the pivot choice is not ruled out: after
 * `rounds` partitions (a few times what random data needs) the rest of the range is sorted,
 * which bounds the time at O(count log count).
 */
export function nthLargest(
  a: Float64Array,
  count: number,
  n: number,
  rounds = 2 * Math.ceil(Math.log2(count + 1)) + 8,
): number {
  // The (count - n)-th smallest, 0-based.
  const k = count - n;
  let lo = 0;
  let hi = count - 1;
  for (let round = 0; hi > lo; round++) {
    if (round >= rounds) {
      a.subarray(lo, hi + 1).sort();
      break;
    }
    const mid = lo + ((hi - lo) >> 1);
    const x = a[lo] as number;
    const y = a[mid] as number;
    const z = a[hi] as number;
    const pivot = Math.max(Math.min(x, y), Math.min(Math.max(x, y), z));
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((a[i] as number) < pivot) i++;
      while ((a[j] as number) > pivot) j--;
      if (i <= j) {
        const t = a[i] as number;
        a[i] = a[j] as number;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return a[k] as number;
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
