// BoundedBatchQueue: order, cumulative and single acks, resend after a lost connection, the
// bound (oldest dropped first, counted), and a long random run against a plain-array model.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setImmediate as nextMacrotask } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { BoundedBatchQueue, type EncodedBatch } from "./queue.js";

const batch = (sequence: number, flows = 1, bytes = 10): EncodedBatch => ({
  sequence: BigInt(sequence),
  flows,
  bytes: new Uint8Array(bytes),
});

const drain = (q: BoundedBatchQueue): bigint[] => {
  const out: bigint[] = [];
  for (let b = q.nextToSend(); b; b = q.nextToSend()) out.push(b.sequence);
  return out;
};

describe("BoundedBatchQueue", () => {
  it("refuses limits that are not positive", () => {
    assert.throws(() => new BoundedBatchQueue({ maxFlows: 0, maxBytes: 10 }), /must be positive/);
    assert.throws(() => new BoundedBatchQueue({ maxFlows: 10, maxBytes: Number.NaN }), /must be positive/);
  });

  it("hands batches out oldest first, each once, and counts them in flight", () => {
    const q = new BoundedBatchQueue({ maxFlows: 100, maxBytes: 1000 });
    assert.equal(q.isEmpty, true);
    for (let i = 1; i <= 3; i++) q.push(batch(i, 2, 5));
    assert.deepEqual(q.nextToSend()?.sequence, 1n);
    assert.equal(q.hasUnsent, true);
    assert.deepEqual(drain(q), [2n, 3n]);
    assert.equal(q.nextToSend(), undefined);
    assert.equal(q.hasUnsent, false);
    assert.deepEqual(q.stats(), { batches: 3, flows: 6, bytes: 15, inFlight: 3, droppedBatches: 0, droppedFlows: 0 });
  });

  it("acks cumulatively, sent or not, and reports the flows acked", () => {
    const q = new BoundedBatchQueue({ maxFlows: 100, maxBytes: 1000 });
    for (let i = 1; i <= 5; i++) q.push(batch(i, i));
    q.nextToSend();
    q.nextToSend();
    assert.equal(q.ackUpTo(3n), 1 + 2 + 3);
    assert.deepEqual(q.stats(), { batches: 2, flows: 9, bytes: 20, inFlight: 0, droppedBatches: 0, droppedFlows: 0 });
    assert.equal(q.ackUpTo(3n), 0, "an ack repeated is a no-op");
    assert.equal(q.ackUpTo(0n), 0);
    assert.deepEqual(drain(q), [4n, 5n]);
    assert.equal(q.ackUpTo(99n), 9);
    assert.equal(q.isEmpty, true);
    assert.equal(q.stats().inFlight, 0);
  });

  it("sends every unacknowledged batch again after resend(), oldest first", () => {
    const q = new BoundedBatchQueue({ maxFlows: 100, maxBytes: 1000 });
    for (let i = 1; i <= 4; i++) q.push(batch(i));
    assert.deepEqual(drain(q), [1n, 2n, 3n, 4n]);
    q.ackUpTo(1n);
    q.resend();
    assert.equal(q.stats().inFlight, 0);
    assert.equal(q.hasUnsent, true);
    q.push(batch(5));
    assert.deepEqual(drain(q), [2n, 3n, 4n, 5n]);
  });

  it("drops the oldest batches, in flight or not, when the flow bound would be exceeded", () => {
    const q = new BoundedBatchQueue({ maxFlows: 10, maxBytes: 1_000_000 });
    for (let i = 1; i <= 5; i++) q.push(batch(i, 2));
    q.nextToSend(); // 1 in flight
    q.push(batch(6, 3)); // needs 3 more: 1 and 2 go
    assert.deepEqual(q.stats(), { batches: 4, flows: 9, bytes: 40, inFlight: 0, droppedBatches: 2, droppedFlows: 4 });
    assert.deepEqual(drain(q), [3n, 4n, 5n, 6n]);
  });

  it("drops by bytes too", () => {
    const q = new BoundedBatchQueue({ maxFlows: 1_000_000, maxBytes: 100 });
    for (let i = 1; i <= 4; i++) q.push(batch(i, 1, 30));
    assert.deepEqual(q.stats().droppedBatches, 1);
    assert.deepEqual(drain(q), [2n, 3n, 4n]);
    assert.equal(q.stats().bytes, 90);
  });

  it("drops, and counts, a batch larger than the whole bound without touching the rest", () => {
    const q = new BoundedBatchQueue({ maxFlows: 10, maxBytes: 100 });
    q.push(batch(1, 5, 50));
    q.push(batch(2, 11, 10));
    q.push(batch(3, 1, 101));
    assert.deepEqual(q.stats(), { batches: 1, flows: 5, bytes: 50, inFlight: 0, droppedBatches: 2, droppedFlows: 12 });
  });

  it("acks single batches out of order (NATS), at the head, in the middle and unknown ones", () => {
    const q = new BoundedBatchQueue({ maxFlows: 100, maxBytes: 1000 });
    for (let i = 1; i <= 5; i++) q.push(batch(i, i));
    drain(q);
    assert.equal(q.ack(3n), 3);
    assert.equal(q.ack(1n), 1);
    assert.equal(q.ack(3n), 0, "already acked");
    assert.equal(q.ack(42n), 0);
    assert.deepEqual(q.stats(), { batches: 3, flows: 11, bytes: 30, inFlight: 3, droppedBatches: 0, droppedFlows: 0 });
    q.resend();
    assert.deepEqual(drain(q), [2n, 4n, 5n]);
  });

  it("stays consistent with a plain-array model over a long random run (compaction included)", () => {
    // A seeded generator: the same run every time, and a failure names its seed and step.
    let seed = 0x2545f491;
    const rand = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const limits = { maxFlows: 200, maxBytes: 5000 };
    const q = new BoundedBatchQueue(limits);
    let model: { b: EncodedBatch; inFlight: boolean }[] = [];
    let dropped = 0;
    let droppedFlows = 0;
    let next = 1;
    for (let step = 0; step < 50_000; step++) {
      const op = rand(10);
      if (op < 4) {
        const b = batch(next++, 1 + rand(30), 1 + rand(400));
        q.push(b);
        const sum = (k: "flows" | "bytes") =>
          model.reduce((n, s) => n + (k === "flows" ? s.b.flows : s.b.bytes.length), 0);
        while (
          model.length > 0 &&
          (sum("flows") + b.flows > limits.maxFlows || sum("bytes") + b.bytes.length > limits.maxBytes)
        ) {
          const gone = model.shift() as { b: EncodedBatch };
          dropped++;
          droppedFlows += gone.b.flows;
        }
        model.push({ b, inFlight: false });
      } else if (op < 7) {
        const got = q.nextToSend();
        const want = model.find((s) => !s.inFlight);
        if (want) want.inFlight = true;
        assert.equal(got?.sequence, want?.b.sequence, `step ${step}: nextToSend`);
      } else if (op < 8) {
        const upTo = model.length > 0 ? (model[rand(model.length)] as { b: EncodedBatch }).b.sequence : 0n;
        const flows = model.filter((s) => s.b.sequence <= upTo).reduce((n, s) => n + s.b.flows, 0);
        model = model.filter((s) => s.b.sequence > upTo);
        assert.equal(q.ackUpTo(upTo), flows, `step ${step}: ackUpTo`);
      } else if (op < 9) {
        const i = model.length > 0 ? rand(model.length) : -1;
        const s = model[i];
        if (s) model.splice(i, 1);
        assert.equal(q.ack(s ? s.b.sequence : 0n), s ? s.b.flows : 0, `step ${step}: ack`);
      } else if (rand(20) === 0) {
        q.resend();
        for (const s of model) s.inFlight = false;
      }
      const st = q.stats();
      assert.equal(st.batches, model.length, `step ${step}: batches`);
      assert.equal(st.inFlight, model.filter((s) => s.inFlight).length, `step ${step}: inFlight`);
      assert.equal(
        st.flows,
        model.reduce((n, s) => n + s.b.flows, 0),
        `step ${step}: flows`,
      );
      assert.equal(
        st.bytes,
        model.reduce((n, s) => n + s.b.bytes.length, 0),
        `step ${step}: bytes`,
      );
      assert.equal(st.droppedBatches, dropped, `step ${step}: dropped`);
      assert.equal(st.droppedFlows, droppedFlows, `step ${step}: droppedFlows`);
      assert.equal(q.isEmpty, model.length === 0);
      assert.equal(
        q.hasUnsent,
        model.some((s) => !s.inFlight),
      );
    }
    assert.ok(next > 10_000, "the run pushed enough batches to compact many times");
  });

  it("keeps no reference to the bytes of batches that are acked or dropped", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const q = new BoundedBatchQueue({ maxFlows: 3, maxBytes: 1 << 30 });
    const refs: WeakRef<Uint8Array>[] = [];
    // Scoped so that the test itself holds nothing once the batches are gone.
    (() => {
      for (let i = 1; i <= 6; i++) {
        const b = batch(i, 1, 1 << 20);
        refs.push(new WeakRef(b.bytes));
        q.push(b); // 1..3 dropped by 4..6
      }
      q.ackUpTo(5n);
    })();
    await nextMacrotask();
    gc();
    assert.deepEqual(
      refs.map((r) => r.deref() !== undefined),
      [false, false, false, false, false, true],
      "only batch 6 is still queued",
    );
  });
});
