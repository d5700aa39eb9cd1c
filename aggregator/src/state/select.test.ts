import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_LIMIT, MAX_LIMIT, page, smallest } from "./select.js";
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
