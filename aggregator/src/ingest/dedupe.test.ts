// SequenceDeduper: exactly-once on top of at-least-once delivery, per agent process, with
// bounded memory (pending set per agent, agent table).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SequenceDeduper } from "./dedupe.js";

/** Applies a batch unless it is a duplicate; true if applied. */
const offer = (d: SequenceDeduper, agent: string, seq: number): boolean => {
  if (d.isDuplicate(agent, BigInt(seq))) return false;
  d.markApplied(agent, BigInt(seq));
  return true;
};

describe("SequenceDeduper", () => {
  it("applies a sequence once and counts every repetition", () => {
    const d = new SequenceDeduper();
    assert.equal(offer(d, "a", 1), true);
    assert.equal(offer(d, "a", 1), false);
    assert.equal(offer(d, "a", 1), false);
    assert.equal(offer(d, "a", 2), true);
    assert.equal(d.duplicates, 2);
  });

  it("keeps agents apart: the same sequence from another agent process is new", () => {
    const d = new SequenceDeduper();
    assert.equal(offer(d, "a", 1), true);
    assert.equal(offer(d, "b", 1), true);
    assert.equal(d.agentCount, 2);
    assert.equal(d.duplicates, 0);
  });

  it("accepts batches out of order and recognises every one of them afterwards", () => {
    const d = new SequenceDeduper();
    for (const s of [3, 1, 5, 2, 4]) assert.equal(offer(d, "a", s), true, `seq ${s}`);
    for (let s = 1; s <= 5; s++) assert.equal(d.isDuplicate("a", BigInt(s)), true, `seq ${s} again`);
    assert.equal(d.isDuplicate("a", 6n), false);
  });

  it("does not count a first sighting as a duplicate, nor a sequence above everything seen", () => {
    const d = new SequenceDeduper();
    assert.equal(d.isDuplicate("new-agent", 7n), false);
    offer(d, "a", 1);
    assert.equal(d.isDuplicate("a", 1000n), false);
    assert.equal(d.duplicates, 0);
  });

  it("gives up on a gap that never fills once too many sequences wait above it", () => {
    const d = new SequenceDeduper({ maxPendingPerAgent: 4, maxAgents: 10 });
    // Batch 1 was dropped by the agent's queue: 2.. can never join the watermark by themselves.
    for (let s = 2; s <= 5; s++) assert.equal(offer(d, "a", s), true);
    assert.equal(d.isDuplicate("a", 1n), false, "within the bound the gap is still open");
    assert.equal(offer(d, "a", 6), true);
    // Over the bound: the gap is given up (1 now counts as applied), 2..6 are still known.
    assert.equal(d.isDuplicate("a", 1n), true);
    for (let s = 2; s <= 6; s++) assert.equal(d.isDuplicate("a", BigInt(s)), true, `seq ${s}`);
    assert.equal(offer(d, "a", 7), true);
  });

  it("forgets the least recently seen agent when the table is full", () => {
    const d = new SequenceDeduper({ maxPendingPerAgent: 16, maxAgents: 2 });
    offer(d, "a", 1);
    offer(d, "b", 1);
    offer(d, "a", 2); // a is now the most recent
    offer(d, "c", 1); // b goes
    assert.equal(d.agentsForgotten, 1);
    assert.equal(d.agentCount, 2);
    assert.equal(d.isDuplicate("a", 1n), true);
    assert.equal(d.isDuplicate("c", 1n), true);
    assert.equal(d.isDuplicate("b", 1n), false, "b was forgotten");
  });

  it("matches a set model over a long run of reordered and repeated deliveries", () => {
    let seed = 0x1234567;
    const rand = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    // Large enough pending bound that no gap is given up: then the model is exact.
    const d = new SequenceDeduper({ maxPendingPerAgent: 100_000, maxAgents: 100 });
    const applied = new Map<string, Set<number>>();
    let duplicates = 0;
    const next = new Map<string, number>();
    for (let step = 0; step < 20_000; step++) {
      const agent = `agent-${rand(5)}`;
      const top = next.get(agent) ?? 1;
      // Mostly new sequences a little out of order, sometimes a resend of an old one.
      const seq = rand(4) === 0 ? 1 + rand(top) : top + rand(3);
      next.set(agent, Math.max(top, seq + 1));
      const set = applied.get(agent) ?? new Set<number>();
      applied.set(agent, set);
      const expectNew = !set.has(seq);
      if (expectNew) set.add(seq);
      else duplicates++;
      assert.equal(offer(d, agent, seq), expectNew, `step ${step}: ${agent} seq ${seq}`);
    }
    assert.equal(d.duplicates, duplicates);
    assert.ok(duplicates > 1000, "the run exercised resends");
  });
});
