import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { rng, T0, zipf } from "./testing.js";
import { TopTalkers } from "./top-talkers.js";

/** TopTalkers with hosts given ids on demand, reused after eviction, as the host table does. */
function setup(capacity: number) {
  const ips: string[] = [];
  const free: number[] = [];
  const tt = new TopTalkers(capacity, (id) => ips[id] as string);
  const hosts = new Map<string, number>();
  const add = (ip: string, bytes: number) => {
    let h = hosts.get(ip);
    if (h === undefined) {
      h = free.pop() ?? ips.length;
      ips[h] = ip;
      hosts.set(ip, h);
    }
    tt.add(h, bytes);
  };
  const evict = (ip: string) => {
    const h = hosts.get(ip);
    if (h === undefined) return;
    tt.forget(h);
    hosts.delete(ip);
    free.push(h);
  };
  return { tt, add, evict };
}

describe("TopTalkers", () => {
  it("answers from the current bucket before it closes", () => {
    const { tt, add } = setup(10);
    tt.advance(T0);
    add("a", 100);
    add("b", 300);
    add("a", 50);
    assert.deepEqual(tt.top("1m", 5, T0), [
      { ip: "b", bytes: 300, error: 0 },
      { ip: "a", bytes: 150, error: 0 },
    ]);
    assert.deepEqual(tt.top("1h", 1, T0), [{ ip: "b", bytes: 300, error: 0 }]);
  });

  it("slides each window over whole buckets of ingest time", () => {
    const { tt, add } = setup(10);
    // T0 is on a minute boundary: "a" is in the first 10 s bucket of its minute.
    tt.advance(T0);
    add("a", 100);
    const at = (ms: number, w: "1m" | "5m" | "1h") => {
      tt.advance(T0 + ms);
      return tt.top(w, 5, T0 + ms).map((e) => `${e.ip}=${e.bytes}`);
    };
    assert.deepEqual(at(69_999, "1m"), ["a=100"]);
    assert.deepEqual(at(70_000, "1m"), []);
    assert.deepEqual(at(70_000, "5m"), ["a=100"]);
    assert.deepEqual(at(6 * 60_000 - 1, "5m"), ["a=100"]);
    assert.deepEqual(at(6 * 60_000, "5m"), []);
    assert.deepEqual(at(6 * 60_000, "1h"), ["a=100"]);
    assert.deepEqual(at(61 * 60_000 - 1, "1h"), ["a=100"]);
    assert.deepEqual(at(61 * 60_000, "1h"), []);
  });

  it("sums a host over the buckets and minutes of a window", () => {
    const { tt, add } = setup(10);
    for (let s = 0; s < 600; s += 10) {
      tt.advance(T0 + s * 1000);
      add("a", 1);
      if (s % 60 === 0) add("b", 5);
    }
    tt.advance(T0 + 600_000);
    assert.deepEqual(
      tt.top("1h", 5, T0 + 600_000).map((e) => [e.ip, e.bytes, e.error]),
      [
        ["a", 60, 0],
        ["b", 50, 0],
      ],
    );
    // The current minute (empty) and the 5 before it.
    assert.deepEqual(
      tt.top("5m", 5, T0 + 600_000).map((e) => [e.ip, e.bytes]),
      [
        ["a", 30],
        ["b", 25],
      ],
    );
    // The current bucket and the 6 before: the last 60 s.
    assert.deepEqual(
      tt.top("1m", 5, T0 + 600_000).map((e) => [e.ip, e.bytes]),
      [
        ["a", 6],
        ["b", 5],
      ],
    );
  });

  it("keeps the error bound and finds the heavy hitters of a skewed stream with evictions", () => {
    const capacity = 50;
    const { tt, add, evict } = setup(capacity);
    const random = rng(7);
    const draw = zipf(20_000, 1.2, random);
    const exact = new Map<string, number>();
    let total = 0;
    // Ten minutes, 2000 records per 10 s bucket, and a host table that evicts now and then.
    for (let b = 0; b < 60; b++) {
      const now = T0 + b * 10_000 + 1;
      tt.advance(now);
      for (let i = 0; i < 2000; i++) {
        const ip = `h${draw()}`;
        const w = 1 + Math.floor(random() * 1500);
        add(ip, w);
        exact.set(ip, (exact.get(ip) ?? 0) + w);
        total += w;
        if (i % 5 === 0) evict(ip);
      }
    }
    const now = T0 + 599_999;
    tt.advance(now);
    const top = tt.top("1h", capacity, now);
    assert.equal(top.length, capacity);
    for (const e of top) {
      const t = exact.get(e.ip) ?? 0;
      assert.ok(t <= e.bytes, `${e.ip}: true ${t} > reported ${e.bytes}`);
      assert.ok(e.bytes - e.error <= t, `${e.ip}: reported ${e.bytes} - error ${e.error} > true ${t}`);
      assert.ok(e.error <= (3 * total) / capacity, `${e.ip}: error ${e.error} > 3 N / capacity`);
    }
    const trueTop = [...exact].sort((a, b) => b[1] - a[1]);
    const reported = new Set(top.map((e) => e.ip));
    for (const [ip] of trueTop.slice(0, 10)) assert.ok(reported.has(ip), `top-10 host ${ip} not reported`);
    assert.ok(tt.replacements() > 0, "evictions must overflow the Space-Saving part for this test to mean anything");
  });

  it("stays within its counters whatever the number of hosts", () => {
    const capacity = 20;
    const { tt, add, evict } = setup(capacity);
    for (let b = 0; b < 80; b++) {
      tt.advance(T0 + b * 10_000);
      for (let i = 0; i < 500; i++) {
        const ip = `x${b}-${i}`;
        add(ip, 10);
        if (i % 2) evict(ip);
      }
    }
    assert.ok(tt.entries() <= tt.counters());
    assert.ok(tt.counting <= 500);
  });
});
