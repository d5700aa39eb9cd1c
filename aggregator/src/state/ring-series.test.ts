import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RESOLUTION_RINGS, RingSeries, SeriesSet } from "./ring-series.js";
import { T0 } from "./testing.js";

describe("RingSeries", () => {
  it("sums what falls in one bucket and reports every bucket, empty ones as zeros", () => {
    const r = new RingSeries(10_000, 6, T0);
    r.add(T0 + 1, 100, 1, 1);
    r.add(T0 + 9_999, 50, 2, 0);
    r.add(T0 + 20_000, 7, 1, 1);
    assert.deepEqual(r.points(T0 + 25_000), [
      { t: T0, bytes: 150, packets: 3, flows: 1 },
      { t: T0 + 10_000, bytes: 0, packets: 0, flows: 0 },
      { t: T0 + 20_000, bytes: 7, packets: 1, flows: 1 },
    ]);
  });

  it("starts at its creation bucket and aligns buckets on the epoch", () => {
    const r = new RingSeries(60_000, 10, T0 + 61_234);
    r.add(T0 + 61_234, 1, 1, 1);
    assert.deepEqual(
      r.points(T0 + 125_000).map((p) => p.t),
      [T0 + 60_000, T0 + 120_000],
    );
  });

  it("sums a batch's adds at one instant, and a later instant in the same slot starts afresh", () => {
    const r = new RingSeries(1000, 4, T0);
    r.add(T0 + 500, 1, 1, 1);
    r.add(T0 + 500, 2, 2, 0);
    r.add(T0 + 900, 4, 0, 0);
    // Four buckets later: the same slot, another bucket.
    r.add(T0 + 4_100, 8, 1, 1);
    r.add(T0 + 4_100, 16, 1, 1);
    assert.deepEqual(r.points(T0 + 4_100).at(-1), { t: T0 + 4_000, bytes: 24, packets: 2, flows: 2 });
    assert.deepEqual(
      r.points(T0 + 4_100).map((p) => p.bytes),
      [0, 0, 0, 24],
    );
  });

  it("wraps around: a reused slot forgets the bucket it held", () => {
    const r = new RingSeries(1000, 4, T0);
    for (let i = 0; i < 10; i++) r.add(T0 + i * 1000, i + 1, 1, 1);
    // Buckets 6..9 remain, each with its own value, none added to an older one.
    assert.deepEqual(
      r.points(T0 + 9_500).map((p) => [p.t - T0, p.bytes]),
      [
        [6000, 7],
        [7000, 8],
        [8000, 9],
        [9000, 10],
      ],
    );
    // Two buckets later with no traffic: the old values of the reused slots are not reported.
    assert.deepEqual(
      r.points(T0 + 11_000).map((p) => [p.t - T0, p.bytes]),
      [
        [8000, 9],
        [9000, 10],
        [10000, 0],
        [11000, 0],
      ],
    );
    r.add(T0 + 12_000, 5, 1, 1);
    assert.deepEqual(
      r.points(T0 + 12_000).map((p) => p.bytes),
      [10, 0, 0, 5],
    );
  });

  it("cuts to [sinceMs, untilMs]", () => {
    const r = new RingSeries(1000, 100, T0);
    for (let i = 0; i < 10; i++) r.add(T0 + i * 1000, 1, 1, 1);
    assert.deepEqual(
      r.points(T0 + 9000, T0 + 2500, T0 + 4000).map((p) => p.t - T0),
      [2000, 3000, 4000],
    );
    assert.deepEqual(r.points(T0 + 9000, T0 + 5000, T0 + 1000), []);
    // Far outside the ring: bounded by what the ring holds, not by the range asked.
    assert.equal(r.points(T0 + 9000, 0, Number.MAX_SAFE_INTEGER).length, 10);
  });
});

describe("SeriesSet", () => {
  it("keeps an hour of 10 s, a day of 1 min and 30 days of 1 h", () => {
    assert.equal(RESOLUTION_RINGS["10s"].slots * 10_000, 3_600_000);
    assert.equal(RESOLUTION_RINGS["1m"].slots * 60_000, 86_400_000);
    assert.equal(RESOLUTION_RINGS["1h"].slots * 3_600_000, 30 * 86_400_000);
    const s = new SeriesSet(T0);
    s.add(T0 + 5_000, 10, 1, 1);
    s.add(T0 + 15_000, 20, 2, 1);
    assert.deepEqual(
      s
        .ring("10s")
        .points(T0 + 15_000)
        .map((p) => p.bytes),
      [10, 20],
    );
    assert.deepEqual(s.ring("1m").points(T0 + 15_000), [{ t: T0, bytes: 30, packets: 3, flows: 2 }]);
    assert.deepEqual(s.ring("1h").points(T0 + 15_000), [{ t: T0, bytes: 30, packets: 3, flows: 2 }]);
  });
});
