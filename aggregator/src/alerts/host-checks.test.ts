// Host checks' tables: they start small and grow with the entities seen (slots keep their
// state across growth), up to the cap, past which entities are refused and counted.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import { AlertEngine, type AlertEngineOptions } from "./engine.js";
import { Feeder, flowRecord, RecordingSink, rules } from "./testing.js";

const T = 1_700_000_000_000;
const source = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

/** An engine with one flow-flood rule ("ff", 1 new flow/s over the window), at time T. */
function flowFlood(windowSeconds: number, extra: Partial<AlertEngineOptions> = {}) {
  const sink = new RecordingSink();
  const engine = new AlertEngine({
    logger: pino({ level: "silent" }),
    sink,
    endpoints: [{ kind: "webhook", target: "http://127.0.0.1:9/hook" }],
    clock: () => T,
    ...extra,
  });
  engine.setRules(
    rules({ name: "ff", severity: "warning", check: { name: "flow-flood", params: { rate: 1, windowSeconds } } }),
  );
  return { sink, engine, feeder: new Feeder(engine) };
}

describe("host check tables", () => {
  it("grow on demand up to the cap, keep what they counted while growing, count refusals", async () => {
    const { sink, engine, feeder } = flowFlood(60, { maxEntitiesPerCheck: 5000 });
    const flows = (from: number, to: number, lastSeenMs = T) => {
      const out = [];
      for (let i = from; i < to; i++) out.push(flowRecord({ srcAddr: source(i), dstAddr: "192.0.2.1", lastSeenMs }));
      return out;
    };
    const empty = engine.checkMemoryBytes();
    feeder.feed(flows(0, 10));
    const small = engine.checkMemoryBytes();
    assert.equal(small, empty, "ten hosts fit the initial table");
    feeder.feed(flows(10, 3000));
    const grown = engine.checkMemoryBytes();
    assert.ok(grown > small, `${grown} > ${small}`);
    feeder.feed(flows(3000, 6000));
    const full = engine.checkMemoryBytes();
    assert.ok(small * 3 < full, `the initial table (${small} B) is a fraction of a full one (${full} B)`);
    await engine.evaluate();
    assert.equal(engine.stats.checkOverflows, 1000, "6000 sources, 5000 kept");
    // Source 1 got its slot in the first, small table: its count went through two growths.
    assert.deepEqual(sink.events(), []);
    const again = [];
    for (let k = 0; k < 59; k++) again.push(flowRecord({ srcAddr: source(1), dstAddr: "192.0.2.1", lastSeenMs: T }));
    feeder.feed(again);
    assert.deepEqual(sink.events(), ["engaged ff 10.0.0.1"], "1 + 59 flows = 60 in 60 s");
    assert.equal(engine.engagedAlerts()[0]?.value, 1);
  });
  it("keep an engaged alert's value and peak up to date through a flood, engaging it once", () => {
    const { sink, engine, feeder } = flowFlood(10);
    const flood = (n: number) =>
      Array.from({ length: n }, () => flowRecord({ srcAddr: "10.9.9.9", dstAddr: "192.0.2.1", lastSeenMs: T }));
    feeder.feed(flood(10));
    assert.deepEqual(sink.events(), ["engaged ff 10.9.9.9"], "10 new flows in 10 s: 1/s");
    const first = engine.engagedAlerts()[0];
    assert.equal(first?.value, 1);
    // Every record of the flood crosses again: the alert follows, nothing is engaged again.
    feeder.feed(flood(290));
    assert.deepEqual(sink.events(), ["engaged ff 10.9.9.9"]);
    const a = engine.engagedAlerts()[0];
    assert.equal(a, first, "the same alert");
    assert.equal(a?.value, 30, "300 new flows in 10 s");
    assert.equal(a?.peak, 30);
  });
});
