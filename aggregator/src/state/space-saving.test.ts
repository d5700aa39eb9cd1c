import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SpaceSaving } from "./space-saving.js";
import { FrozenSummary, mergeParts, type SpaceSavingEntry } from "./summary.js";
import { rng, zipf } from "./testing.js";

/** A skewed stream of (key, weight), and its exact totals. */
function skewedStream(n: number, keys: number, seed: number) {
  const random = rng(seed);
  const draw = zipf(keys, 1.1, random);
  const stream: Array<[string, number]> = [];
  const exact = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const key = `10.${draw()}`;
    const w = 40 + Math.floor(random() * 1460);
    stream.push([key, w]);
    exact.set(key, (exact.get(key) ?? 0) + w);
  }
  return { stream, exact, total: [...exact.values()].reduce((a, b) => a + b, 0) };
}

function checkBounds(entries: SpaceSavingEntry[], exact: Map<string, number>, maxError: number) {
  for (const e of entries) {
    const t = exact.get(e.key) ?? 0;
    assert.ok(t <= e.count, `${e.key}: true ${t} > count ${e.count}`);
    assert.ok(e.count - e.error <= t, `${e.key}: count ${e.count} - error ${e.error} > true ${t}`);
    assert.ok(e.error <= maxError + 1e-6, `${e.key}: error ${e.error} > bound ${maxError}`);
  }
}

describe("SpaceSaving", () => {
  it("is exact while there are no more keys than counters", () => {
    const s = new SpaceSaving(4);
    for (const [k, w] of [
      ["a", 5],
      ["b", 1],
      ["a", 2],
      ["c", 9],
    ] as const)
      s.add(k, w);
    assert.deepEqual(s.top(10), [
      { key: "c", count: 9, error: 0 },
      { key: "a", count: 7, error: 0 },
      { key: "b", count: 1, error: 0 },
    ]);
    assert.equal(s.floor, 0);
    assert.equal(s.total, 17);
  });

  it("replaces the smallest counter and charges its count as error", () => {
    const s = new SpaceSaving(2);
    s.add("a", 10);
    s.add("b", 3);
    s.add("c", 4);
    assert.deepEqual(s.get("c"), { key: "c", count: 7, error: 3 });
    assert.equal(s.get("b"), undefined);
    assert.equal(s.replacements, 1);
  });

  it("finds every heavy hitter of a skewed stream within its error bound", () => {
    const capacity = 200;
    const { stream, exact, total } = skewedStream(200_000, 50_000, 1);
    const s = new SpaceSaving(capacity);
    for (const [k, w] of stream) s.add(k, w);
    const entries = s.top(capacity);
    assert.equal(entries.length, capacity);
    // Space-Saving counts add up to the stream exactly.
    assert.equal(
      entries.reduce((a, e) => a + e.count, 0),
      total,
    );
    checkBounds(entries, exact, total / capacity);
    assert.ok(s.floor <= total / capacity);
    // Every key above total / capacity is monitored, and the true top 10 are the reported top 10.
    const trueTop = [...exact].sort((a, b) => b[1] - a[1]);
    for (const [k, t] of trueTop) {
      if (t <= total / capacity) break;
      assert.ok(s.get(k) !== undefined, `heavy hitter ${k} (${t}) missing`);
    }
    assert.deepEqual(
      s.top(10).map((e) => e.key),
      trueTop.slice(0, 10).map(([k]) => k),
    );
    assert.ok(s.replacements > 0, "the stream must overflow the summary for this test to mean anything");
  });

  it("reset empties it for the next bucket", () => {
    const s = new SpaceSaving(2);
    s.add("a", 1);
    s.add("b", 1);
    s.add("c", 1);
    s.reset();
    assert.equal(s.size, 0);
    assert.equal(s.floor, 0);
    assert.equal(s.total, 0);
    s.add("d", 5);
    assert.deepEqual(s.top(5), [{ key: "d", count: 5, error: 0 }]);
  });
});

describe("summary merging", () => {
  it("keeps the bounds when merging summaries of disjoint parts of a stream", () => {
    const capacity = 100;
    const { stream, exact, total } = skewedStream(120_000, 20_000, 2);
    const parts = [new SpaceSaving(capacity), new SpaceSaving(capacity), new SpaceSaving(capacity)];
    stream.forEach(([k, w], i) => {
      (parts[i % 3] as SpaceSaving).add(k, w);
    });
    const merged = mergeParts(parts);
    checkBounds(merged.entries, exact, total / capacity);
    // A key listed nowhere is bounded by the merged floor.
    const listed = new Set(merged.entries.map((e) => e.key));
    for (const [k, t] of exact) if (!listed.has(k)) assert.ok(t <= merged.floor, `${k}: ${t} > ${merged.floor}`);
  });

  it("charges a key listed twice in one part that part's floor once", () => {
    const part = {
      floor: 10,
      forEach(fn: (key: string, count: number, error: number) => void) {
        fn("a", 30, 5);
        fn("a", 20, 10);
      },
    };
    const other = { floor: 7, forEach() {} };
    assert.deepEqual(mergeParts([part, other]).entries, [{ key: "a", count: 57, error: 22 }]);
  });

  it("freezes the largest entries and raises the floor to the largest one dropped", () => {
    const f = new FrozenSummary(2);
    f.fill(42, {
      entries: [
        { key: "a", count: 10, error: 1 },
        { key: "b", count: 30, error: 0 },
        { key: "c", count: 20, error: 2 },
      ],
      floor: 3,
    });
    const seen: SpaceSavingEntry[] = [];
    f.forEach((key, count, error) => {
      seen.push({ key, count, error });
    });
    assert.deepEqual(seen, [
      { key: "b", count: 30, error: 0 },
      { key: "c", count: 20, error: 2 },
    ]);
    assert.equal(f.floor, 10);
    assert.equal(f.bucket, 42);
    f.fill(43, { entries: [{ key: "z", count: 1, error: 0 }], floor: 0.5 });
    assert.equal(f.size, 1);
    assert.equal(f.floor, 0.5);
  });
});
