import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { atLeastNthLargest, DEFAULT_LIMIT, MAX_LIMIT, nthLargest, page, smallest } from "./select.js";
import { rng } from "./testing.js";

describe("smallest", () => {
  it("selects what a full sort would, from arrays and iterables", () => {
    const random = rng(3);
    const xs = Array.from({ length: 5000 }, () => Math.floor(random() * 1000));
    const cmp = (a: number, b: number) => a - b;
    const sorted = [...xs].sort(cmp);
    for (const n of [0, 1, 7, 100, 1249, 5000, 6000]) {
      assert.deepEqual(smallest(xs, n, cmp), sorted.slice(0, n), `n=${n}`);
      assert.deepEqual(smallest(new Set(xs).values(), n, cmp), [...new Set(sorted)].slice(0, n), `iterable n=${n}`);
    }
  });
});

describe("atLeastNthLargest", () => {
  it("keeps every id that a full sort puts among the n largest, and only ids at or above the n-th value", () => {
    const random = rng(11);
    for (let round = 0; round < 300; round++) {
      const ids = 1 + Math.floor(random() * 3000);
      // Few distinct values in some rounds (many ties at the cut), all distinct in others.
      const spread = [1, 3, 50, 1e9][round % 4] as number;
      const values = new Float64Array(ids + 10);
      const order = Array.from({ length: ids }, (_, i) => i + 5).sort(() => random() - 0.5);
      for (const id of order) values[id] = Math.floor(random() * spread) + (round % 7 === 0 ? 0.5 : 0);
      const touched = Int32Array.from(order);
      const n = [1, 2, 10, 1001, ids - 1, ids, ids + 5][round % 7] as number;
      const got = atLeastNthLargest(touched, ids, values, n, new Float64Array(ids));
      const byValue = [...order].sort((a, b) => (values[b] as number) - (values[a] as number) || a - b);
      const nth = values[byValue[Math.min(n, ids) - 1] as number] as number;
      const want = byValue.filter((id) => (values[id] as number) >= nth);
      assert.deepEqual(
        [...got].sort((a, b) => a - b),
        [...want].sort((a, b) => a - b),
        `round ${round} n=${n}`,
      );
      assert.ok(got.length >= Math.min(n, ids), `round ${round}: at least n ids`);
    }
    assert.deepEqual(atLeastNthLargest(new Int32Array(4), 0, new Float64Array(4), 3, new Float64Array(0)), []);
    assert.deepEqual(atLeastNthLargest(Int32Array.of(1, 2), 2, new Float64Array(3), 0, new Float64Array(2)), []);
  });
});

describe("nthLargest", () => {
  it("gives the n-th largest by partitions, and by sorting the rest once its partitions run out", () => {
    const random = rng(5);
    for (let round = 0; round < 200; round++) {
      const count = 1 + Math.floor(random() * 2000);
      const spread = [2, 100, 1e9][round % 3] as number;
      const values = Float64Array.from({ length: count }, () => Math.floor(random() * spread));
      const sorted = [...values].sort((a, b) => b - a);
      const n = 1 + Math.floor(random() * count);
      for (const rounds of [undefined, 0, 1, 3]) {
        assert.equal(
          nthLargest(values.slice(), count, n, rounds),
          sorted[n - 1],
          `round ${round} n=${n} rounds=${rounds}`,
        );
      }
    }
  });
});

describe("page", () => {
  const items = Array.from({ length: 30 }, (_, i) => i);
  const cmp = (a: number, b: number) => b - a;
  it("pages in order without overlap", () => {
    const p1 = page(items, cmp, 0, 10, String);
    const p2 = page(items, cmp, 10, 10, String);
    assert.equal(p1.total, 30);
    assert.deepEqual(p1.items, ["29", "28", "27", "26", "25", "24", "23", "22", "21", "20"]);
    assert.deepEqual(p2.items[0], "19");
    assert.deepEqual(page(items, cmp, 25, 10, String).items, ["4", "3", "2", "1", "0"]);
    assert.deepEqual(page(items, cmp, 40, 10, String).items, []);
  });
  it("clamps nonsense paging", () => {
    const p = page(items, cmp, -5, Number.NaN, String);
    assert.equal(p.offset, 0);
    assert.equal(p.limit, DEFAULT_LIMIT);
    assert.equal(page(items, cmp, 0, 1e12, String).limit, MAX_LIMIT);
    assert.equal(page(items, cmp, 0, -1, String).items.length, 0);
  });
});
