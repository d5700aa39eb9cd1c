// The work queue by itself, with real timers and no API server: what the controllers rely on
// (one key at a time, no lost change, growing and resetting retry delays, memory bounded by the
// number of keys, a clean shutdown).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { WorkQueue } from "./workqueue.js";

/**
 * What `p` resolves with within `ms`, or "nothing" if it is still pending then. The queue's
 * timers are unref'd (they must not keep the operator alive), so this timer is what keeps the
 * test's event loop running while it waits for them.
 */
async function within<T>(p: Promise<T>, ms: number): Promise<T | "nothing"> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"nothing">((resolve) => {
    timer = setTimeout(() => resolve("nothing"), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Takes every key ready now (each marked done at once), in order. */
async function drain(q: WorkQueue): Promise<string[]> {
  const out: string[] = [];
  while (q.depth() > 0) {
    const k = (await q.get()) as string;
    out.push(k);
    q.done(k);
  }
  return out;
}

describe("WorkQueue", () => {
  it("holds a key asked back in 60 days instead of firing at once (setTimeout's 2^31 ms bound)", async () => {
    const q = new WorkQueue();
    q.addAfter("fc/renew-in-60-days", 60 * 24 * 3600 * 1000);
    assert.equal(await within(q.get(), 200), "nothing");
    assert.equal(q.depth(), 0);
    q.shutdown();
  });

  it("queues a key once however often it is added, first in first out", async () => {
    const q = new WorkQueue();
    for (const k of ["a", "b", "a", "c", "b", "a"]) q.add(k);
    assert.equal(q.depth(), 3);
    assert.deepEqual(await drain(q), ["a", "b", "c"]);
    q.shutdown();
  });

  it("never hands a key being processed to a second worker, and queues it again once done", async () => {
    const q = new WorkQueue();
    q.add("a");
    const first = await q.get();
    assert.equal(first, "a");
    // Changes while "a" is processed: noted, not queued, not given to an idle worker.
    const idle = q.get();
    q.add("a");
    q.add("a");
    assert.equal(q.depth(), 0);
    assert.equal(await within(idle, 30), "nothing", "a second worker got the key in progress");
    // Another key is not held up meanwhile.
    q.add("b");
    assert.equal(await idle, "b");
    q.done("b");
    // Done: the change made during processing is processed again, once.
    q.done("a");
    assert.equal(q.depth(), 1);
    assert.equal(await q.get(), "a");
    q.done("a");
    assert.equal(q.depth(), 0);
    q.shutdown();
  });

  it("hands a re-queued key straight to a waiting worker", async () => {
    const q = new WorkQueue();
    q.add("a");
    await q.get();
    q.add("a");
    const waiting = q.get();
    q.done("a");
    assert.equal(await within(waiting, 100), "a");
    q.done("a");
    q.shutdown();
  });

  it("does not queue a key again when nothing changed while it was processed", async () => {
    const q = new WorkQueue();
    q.add("a");
    await q.get();
    q.done("a");
    assert.equal(q.depth(), 0);
    assert.equal(await within(q.get(), 30), "nothing");
    q.shutdown();
  });

  it("doubles the retry delay per failure up to the maximum, and starts over after forget", async () => {
    const q = new WorkQueue({ baseMs: 10, maxMs: 75 });
    const delays = Array.from({ length: 6 }, () => q.addRateLimited("a"));
    assert.deepEqual(delays, [10, 20, 40, 75, 75, 75]);
    assert.equal(q.retries("a"), 6);
    assert.equal(q.addRateLimited("b"), 10, "failures are counted per key");
    q.forget("a");
    assert.equal(q.retries("a"), 0);
    assert.equal(q.addRateLimited("a"), 10);
    q.shutdown();
  });

  it("delivers a rate-limited key after its delay, not before", async () => {
    const q = new WorkQueue({ baseMs: 40, maxMs: 1000 });
    const started = performance.now();
    q.addRateLimited("a"); // 40 ms
    q.addRateLimited("a"); // 80 ms: the pending earlier retry wins
    q.addAfter("marker", 70); // between the two: shows which one delivered "a", however loaded the machine
    assert.equal(q.depth(), 0);
    assert.equal(await within(q.get(), 5_000), "a");
    const waited = performance.now() - started;
    assert.ok(waited >= 39, `delivered after ${waited.toFixed(1)} ms, before its 40 ms delay`);
    q.done("a");
    assert.equal(await within(q.get(), 5_000), "marker", "the 40 ms retry delivered the key, not the 80 ms one");
    q.done("marker");
    // One delivery for the two retries.
    assert.equal(await within(q.get(), 120), "nothing");
    q.shutdown();
  });

  it("lets an earlier addAfter replace a later one, and add() not wait at all", async () => {
    const q = new WorkQueue();
    q.addAfter("a", 5_000);
    q.addAfter("a", 30);
    let t = performance.now();
    assert.equal(await within(q.get(), 1_000), "a");
    assert.ok(performance.now() - t < 500, "the earlier time won");
    q.done("a");
    q.addAfter("b", 5_000);
    q.add("b");
    t = performance.now();
    assert.equal(await within(q.get(), 100), "b");
    q.done("b");
    // The delayed add of a key already handled is harmless: at most one more reconcile.
    q.addAfter("c", 0);
    assert.equal(q.depth(), 1, "addAfter(0) adds at once");
    q.shutdown();
  });

  it("stays bounded by the number of keys under a storm of events and failures", async () => {
    const q = new WorkQueue({ baseMs: 1, maxMs: 5 });
    const keys = Array.from({ length: 50 }, (_, i) => `ns/k${i}`);
    for (let round = 0; round < 2_000; round++) {
      const k = keys[round % keys.length] as string;
      q.add(k);
      q.addAfter(k, 1 + (round % 3));
      q.addRateLimited(k);
    }
    assert.ok(q.depth() <= keys.length, `depth ${q.depth()}`);
    await sleep(30);
    // Each key is delivered once, whatever the number of events and timers it had.
    const got = await drain(q);
    assert.equal(got.length, keys.length);
    assert.deepEqual(new Set(got), new Set(keys));
    assert.equal(await within(q.get(), 30), "nothing");
    q.shutdown();
  });

  it("shuts down: waiting workers get undefined, nothing is queued or delivered afterwards", async () => {
    const q = new WorkQueue({ baseMs: 10, maxMs: 10 });
    q.add("a");
    const a = await q.get();
    const waiters = [q.get(), q.get()];
    q.add("b");
    q.addRateLimited("c");
    q.add("a"); // changed while processing
    const b = await waiters[0];
    assert.equal(b, "b");
    q.shutdown();
    assert.equal(await waiters[1], undefined);
    assert.equal(await q.get(), undefined);
    q.add("d");
    q.addAfter("e", 1);
    q.addRateLimited("f");
    assert.equal(q.depth(), 0);
    // The worker that was busy finishes; its key is not queued again.
    q.done(a as string);
    q.done("b");
    await sleep(30);
    assert.equal(q.depth(), 0);
    assert.equal(await q.get(), undefined);
  });
});
