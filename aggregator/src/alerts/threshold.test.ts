// Threshold rules through the real pipeline and engine, with the engine's clock driven by the
// test: early engagement within a period, judgement at a period's end, hysteresis, "<" rules,
// every target kind and a sample of metrics, local-hosts bounds, reload, restart, and that a
// large evaluation yields to ingest.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { pino } from "pino";
import { AlertEngine, type AlertEngineOptions } from "./engine.js";
import { Feeder, flowRecord, RecordingSink, rules } from "./testing.js";

const MIN = 60_000;
/** The start of a minute, plus 5 s: the rule's first period is a partial one. */
const T0 = 28_333_334 * MIN + 5000;
const period = (n: number) => 28_333_334 * MIN + n * MIN;

function setup(extra: Partial<AlertEngineOptions> = {}) {
  const clock = { now: T0 };
  const sink = new RecordingSink();
  const engine = new AlertEngine({
    logger: pino({ level: "silent" }),
    sink,
    endpoints: [{ kind: "webhook", target: "http://127.0.0.1:9/hook" }],
    clock: () => clock.now,
    ...extra,
  });
  const feeder = new Feeder(engine);
  return { clock, sink, engine, feeder };
}

const threshold = (name: string, t: Record<string, unknown>, severity = "warning") => ({
  name,
  severity,
  threshold: { window: "1m", operator: ">", value: 0, ...t },
});

describe("threshold rules", () => {
  it("engages mid-period on a growing metric, holds through hysteresis, releases at a period's end", async () => {
    const { clock, sink, engine, feeder } = setup();
    engine.setRules(
      rules(
        threshold("big", {
          target: { kind: "host", value: "10.0.0.1" },
          metric: "bytes",
          value: 5000,
          hysteresis: 2000,
        }),
      ),
    );
    const to = (bytes: number) =>
      flowRecord({ srcAddr: "10.0.0.1", dstAddr: "10.0.0.2", srcToDstBytes: bytes / 2, dstToSrcBytes: bytes / 2 });
    feeder.feed([to(2000), to(2000)]);
    clock.now = T0 + 10_000;
    await engine.evaluate();
    assert.deepEqual(engine.engagedAlerts(), [], "4000 is not > 5000");
    feeder.feed([to(2000)]);
    clock.now = T0 + 20_000;
    await engine.evaluate();
    const [a] = engine.engagedAlerts();
    assert.equal(a?.value, 6000);
    assert.equal(a?.entity.kind, "host");
    assert.equal(a?.entity.value, "10.0.0.1");
    assert.equal(a?.metric, "bytes");
    assert.equal(a?.threshold, 5000);
    assert.deepEqual(sink.events(), ["engaged big 10.0.0.1"]);

    clock.now = period(1) + 1000;
    feeder.feed([to(4000)]);
    await engine.evaluate(); // judges the first minute: 6000, still engaged
    clock.now = period(2) + 1000;
    feeder.feed([to(2000)]);
    await engine.evaluate(); // judges the second: 4000 is not > 5000 but not below 3000 either
    assert.equal(engine.engagedAlerts().length, 1);
    assert.equal(engine.engagedAlerts()[0]?.value, 4000);
    clock.now = period(3) + 1000;
    await engine.evaluate(); // the third: 2000 <= 5000 - 2000: released
    assert.deepEqual(engine.engagedAlerts(), []);
    const [past] = engine.pastAlerts();
    assert.equal(past?.state, "past");
    assert.equal(past?.peak, 6000);
    assert.equal(past?.value, 2000);
    assert.equal(past?.endedAtMs, period(3) + 1000);
    assert.deepEqual(sink.events(), ["engaged big 10.0.0.1", "released big 10.0.0.1"]);
  });

  it("a < rule skips the partial first period, engages on a silent one, releases when traffic returns", async () => {
    const { clock, sink, engine, feeder } = setup();
    engine.setRules(
      rules(
        threshold("quiet", { target: { kind: "host", value: "10.0.0.2" }, metric: "packets", operator: "<", value: 5 }),
      ),
    );
    clock.now = period(1) + 1000;
    await engine.evaluate();
    assert.deepEqual(engine.engagedAlerts(), [], "the first minute was seen in part");
    clock.now = period(2) + 1000;
    await engine.evaluate();
    assert.equal(engine.engagedAlerts()[0]?.value, 0);
    feeder.feed([flowRecord({ srcAddr: "10.0.0.9", dstAddr: "10.0.0.2" })]);
    clock.now = period(3) + 1000;
    await engine.evaluate();
    assert.deepEqual(engine.engagedAlerts(), []);
    assert.deepEqual(sink.events(), ["engaged quiet 10.0.0.2", "released quiet 10.0.0.2"]);
  });

  it("measures each target kind: network, application (with sub-protocols), category, host, node, exporter, interface", async () => {
    const { clock, engine, feeder } = setup();
    engine.setRules(
      rules(
        threshold("net-sent", { target: { kind: "network", value: "10.1.0.0/16" }, metric: "bytesSent" }),
        threshold("net-rcvd", { target: { kind: "network", value: "10.1.0.0/16" }, metric: "bytesReceived" }),
        threshold("net6", { target: { kind: "network", value: "2001:db8::/32" }, metric: "flows" }),
        threshold("app-tls", { target: { kind: "application", value: "TLS" }, metric: "bytes" }),
        threshold("cat-network", { target: { kind: "category", value: "Network" }, metric: "bytes" }),
        threshold("host-google", { target: { kind: "host", value: "10.1.0.5" }, metric: "appBytes_TLS_Google" }),
        threshold("host-peers", { target: { kind: "host", value: "10.1.0.5" }, metric: "distinctPeers", value: 1 }),
        threshold("host6-ports", {
          target: { kind: "host", value: "2001:DB8:0:0::1" },
          metric: "distinctPorts",
          value: 1,
        }),
        threshold("node-b", { target: { kind: "node", value: "node-b" }, metric: "packets" }),
        threshold("exporter", { target: { kind: "exporter", value: "192.0.2.1" }, metric: "flows" }),
        threshold("interface", { target: { kind: "interface", value: "192.0.2.1:3" }, metric: "bytes" }),
        threshold("interface-other", { target: { kind: "interface", value: "192.0.2.1:4" }, metric: "bytes" }),
        threshold("pps", { target: { kind: "network", value: "10.1.0.0/16" }, metric: "pps" }),
      ),
    );
    feeder.feed([
      flowRecord({
        srcAddr: "10.1.0.5",
        dstAddr: "10.2.0.9",
        srcToDstBytes: 1000,
        dstToSrcBytes: 500,
        l7: "TLS.Google",
      }),
      flowRecord({
        srcAddr: "192.168.1.1",
        dstAddr: "10.1.0.5",
        srcToDstBytes: 100,
        dstToSrcBytes: 50,
        l7: "HTTP",
        exporter: "192.0.2.1",
        exportVersion: 10,
        inIf: 3,
        outIf: 7,
      }),
      flowRecord({
        srcAddr: "2001:db8::1",
        dstAddr: "2001:db8::2",
        dstPort: 53,
        proto: 17,
        l7: "DNS",
        l7Category: "Network",
      }),
      flowRecord({ srcAddr: "2001:db8::1", dstAddr: "2001:db8::3", dstPort: 443 }),
    ]);
    feeder.feed(
      [
        flowRecord({
          srcAddr: "10.1.0.6",
          dstAddr: "10.1.0.7",
          srcToDstBytes: 300,
          dstToSrcBytes: 200,
          l7: "DNS",
          l7Category: "Network",
        }),
      ],
      "node-b",
    );
    clock.now = T0 + 10_000;
    await engine.evaluate();
    const values = Object.fromEntries(
      engine.engagedAlerts().map((a) => [a.rule, `${a.entity.kind}:${a.entity.value}=${a.value}`]),
    );
    assert.deepEqual(values, {
      "net-sent": "network:10.1.0.0/16=1550", // 1000 sent by .5, 500 inside, 50 answered by .5
      "net-rcvd": "network:10.1.0.0/16=1100",
      net6: "network:2001:db8::/32=2",
      "app-tls": "application:TLS=3500", // TLS.Google (1500) and TLS over IPv6 (2000)
      "cat-network": "category:Network=2500", // DNS over IPv6 (2000) and DNS inside 10.1/16 (500)
      "host-google": "host:10.1.0.5=1500",
      "host-peers": "host:10.1.0.5=2",
      "host6-ports": "host:2001:db8::1=2",
      "node-b": "node:node-b=20",
      exporter: "exporter:192.0.2.1=1",
      interface: "interface:192.0.2.1:3=150",
      pps: "network:10.1.0.0/16=1", // 60 packets over 60 s
    });
  });

  it("retransmission ratio and latency are judged at the period's end, idle time at every evaluation", async () => {
    const { clock, engine, feeder } = setup();
    engine.setRules(
      rules(
        threshold("retx", { target: { kind: "host", value: "10.3.0.1" }, metric: "retransmissionRatio", value: 0.1 }),
        threshold("rtt", { target: { kind: "host", value: "10.3.0.1" }, metric: "serverLatencyMs", value: 100 }),
        threshold("idle", { target: { kind: "host", value: "10.3.0.9" }, metric: "idleTime", value: 30 }),
      ),
    );
    feeder.feed([
      flowRecord({ srcAddr: "10.3.0.1", dstAddr: "10.3.0.2", srcRetransmits: 4, serverNwLatencyUs: 150_000 }),
      flowRecord({ srcAddr: "10.3.0.1", dstAddr: "10.3.0.3", srcRetransmits: 0, serverNwLatencyUs: 250_000 }),
    ]);
    clock.now = T0 + 20_000;
    await engine.evaluate();
    assert.deepEqual(engine.engagedAlerts(), [], "not monotonic: nothing before the period ends; idle 20 s");
    clock.now = T0 + 40_000;
    await engine.evaluate();
    assert.deepEqual(
      engine.engagedAlerts().map((a) => `${a.rule}=${a.value}`),
      ["idle=40"],
    );
    feeder.feed([flowRecord({ srcAddr: "10.3.0.9", dstAddr: "10.3.0.2" })]);
    clock.now = period(1) + 1000;
    await engine.evaluate();
    const got = engine
      .engagedAlerts()
      .map((a) => `${a.rule}=${a.value}`)
      .sort();
    assert.deepEqual(got, ["rtt=200"], "retransmissions: 4 of 40 packets is not > 0.1");
    assert.deepEqual(
      engine.pastAlerts().map((a) => a.rule),
      ["idle"],
    );
  });

  it("local-hosts: one alert per local host, rows bounded and refusals counted", async () => {
    const { clock, engine, feeder } = setup({ localNetworks: ["10.0.0.0/8"], maxHostsPerRule: 4 });
    engine.setRules(
      rules(threshold("chatty", { target: { kind: "local-hosts", value: "*" }, metric: "flows", value: 2 })),
    );
    const recs = [];
    for (let h = 1; h <= 6; h++)
      for (let k = 0; k < 3; k++)
        recs.push(flowRecord({ srcAddr: `10.0.0.${h}`, dstAddr: "8.8.8.8", srcPort: 1000 + k }));
    feeder.feed(recs);
    clock.now = T0 + 10_000;
    await engine.evaluate();
    const hosts = engine
      .engagedAlerts()
      .map((a) => a.entity.value)
      .sort();
    assert.deepEqual(hosts, ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]);
    assert.equal(engine.stats.checkOverflows, 6, "3 records of each of the 2 hosts beyond the bound");
    assert.equal(engine.stats.thresholdRows, 4);
    // A quiet minute and then the next: hosts without traffic and without alert give their rows back.
    clock.now = period(1) + 1000;
    await engine.evaluate();
    clock.now = period(2) + 1000;
    await engine.evaluate();
    assert.deepEqual(engine.engagedAlerts(), []);
    assert.equal(engine.stats.thresholdRows, 0);
  });

  it("a rule crossed by many entities at once engages a bounded number of alerts, the rest counted", async () => {
    const { clock, engine, feeder } = setup({ localNetworks: ["10.0.0.0/8"], maxEngagedPerRule: 2 });
    engine.setRules(rules(threshold("any", { target: { kind: "local-hosts", value: "*" }, metric: "flows" })));
    feeder.feed([1, 2, 3, 4, 5].map((h) => flowRecord({ srcAddr: `10.0.0.${h}`, dstAddr: "8.8.8.8" })));
    clock.now = T0 + 10_000;
    await engine.evaluate();
    assert.equal(engine.engagedAlerts().length, 2);
    assert.equal(engine.stats.engagedCapped, 3);
  });

  it("a reload keeps an unchanged rule's alerts and counters; a changed rule's alerts end", async () => {
    const { clock, sink, engine, feeder } = setup();
    const big = threshold("big", { target: { kind: "host", value: "10.0.0.1" }, metric: "bytes", value: 1000 });
    engine.setRules(rules(big));
    feeder.feed([flowRecord({ srcAddr: "10.0.0.1", dstAddr: "10.0.0.2" })]);
    clock.now = T0 + 10_000;
    await engine.evaluate();
    const id = engine.engagedAlerts()[0]?.id;
    assert.ok(id);
    engine.setRules(rules(big, threshold("other", { target: { kind: "host", value: "10.0.0.3" }, metric: "bytes" })));
    assert.equal(engine.engagedAlerts()[0]?.id, id);
    engine.setRules(rules({ ...big, threshold: { ...big.threshold, value: 1500 } }));
    assert.deepEqual(engine.engagedAlerts(), []);
    assert.deepEqual(sink.events(), ["engaged big 10.0.0.1", "released big 10.0.0.1"]);
    const status = engine.ruleStatuses();
    assert.deepEqual(
      status.map((s) => `${s.name}:${s.kind}:${s.engaged}`),
      ["big:threshold:0"],
    );
  });

  it("engaged alerts survive a restart, are taken back by their rule and released by it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "flowlens-alerts-"));
    try {
      const big = threshold("big", { target: { kind: "host", value: "10.0.0.1" }, metric: "bytes", value: 1000 });
      const gone = threshold("gone", { target: { kind: "host", value: "10.0.0.1" }, metric: "flows" });
      const first = setup({ dataDir: dir });
      first.engine.setRules(rules(big, gone));
      first.engine.start();
      first.feeder.feed([flowRecord({ srcAddr: "10.0.0.1", dstAddr: "10.0.0.2" })]);
      first.clock.now = T0 + 10_000;
      await first.engine.evaluate();
      const before = first.engine
        .engagedAlerts()
        .map((a) => `${a.rule}:${a.id}`)
        .sort();
      assert.equal(before.length, 2);
      first.engine.acknowledge(first.engine.engagedAlerts()[0]?.id as string);
      await first.engine.stop();

      const second = setup({ dataDir: dir });
      second.clock.now = T0 + 20_000;
      second.engine.setRules(rules(big));
      second.engine.start();
      const after = second.engine.engagedAlerts();
      assert.deepEqual(
        after.map((a) => `${a.rule}:${a.id}`),
        before.filter((b) => b.startsWith("big:")),
      );
      assert.deepEqual(
        second.engine.pastAlerts().map((a) => a.rule),
        ["gone"],
        "its rule is gone: released",
      );
      assert.equal(second.engine.ruleStatuses()[0]?.engaged, 1);
      // Nothing more from 10.0.0.1: the first full minute judged is below: released.
      second.clock.now = period(1) + 1000;
      await second.engine.evaluate();
      assert.deepEqual(second.engine.engagedAlerts(), []);
      assert.deepEqual(second.sink.events(), ["released gone 10.0.0.1", "released big 10.0.0.1"]);
      await second.engine.stop();

      const third = setup({ dataDir: dir });
      third.engine.setRules(rules(big));
      third.engine.start();
      assert.deepEqual(third.engine.engagedAlerts(), []);
      assert.deepEqual(
        third.engine
          .pastAlerts()
          .map((a) => a.rule)
          .sort(),
        ["big", "gone"],
      );
      await third.engine.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rules counting the same thing share counters, each judged by its own value; a reload keeps the count", async () => {
    const { clock, sink, engine, feeder } = setup();
    const host = { kind: "host", value: "10.0.0.1" };
    const warn = threshold("warn", { target: host, metric: "bytes", value: 5000 });
    const err = threshold("err", { target: host, metric: "bytes", value: 9000 }, "error");
    // bps counts what bytes counts: 10,000 bytes in a minute are 1333 bits per second.
    const rate = threshold("rate", { target: host, metric: "bps", value: 1000 });
    engine.setRules(rules(warn));
    const alone = engine.checkMemoryBytes();
    engine.setRules(rules(warn, err, rate));
    assert.ok(engine.checkMemoryBytes() < alone * 1.5, "three rules, one set of counters");
    const to = (bytes: number) =>
      flowRecord({ srcAddr: "10.0.0.1", dstAddr: "10.0.0.2", srcToDstBytes: bytes, dstToSrcBytes: 0 });
    feeder.feed([to(6000)]);
    clock.now = T0 + 10_000;
    await engine.evaluate();
    assert.deepEqual(sink.events(), ["engaged warn 10.0.0.1"]);
    feeder.feed([to(4000)]);
    clock.now = T0 + 20_000;
    await engine.evaluate();
    const values = Object.fromEntries(engine.engagedAlerts().map((a) => [a.rule, a.value]));
    assert.deepEqual(values, { warn: 10_000, err: 10_000, rate: 1333.333 });
    // The leader goes; the follower that stays counts on from what was counted.
    engine.setRules(rules(err));
    feeder.feed([to(1000)]);
    clock.now = T0 + 30_000;
    await engine.evaluate();
    assert.deepEqual(
      engine.engagedAlerts().map((a) => [a.rule, a.value]),
      [["err", 11_000]],
    );
  });

  it("a large evaluation runs in slices that let ingest in between", async () => {
    const { clock, engine, feeder } = setup({ localNetworks: ["10.0.0.0/8"], evaluationSliceRows: 500 });
    engine.setRules(
      rules(threshold("any", { target: { kind: "local-hosts", value: "10.0.0.0/16" }, metric: "bytes", value: 1e12 })),
    );
    const recs = [];
    for (let h = 0; h < 5000; h++) recs.push(flowRecord({ srcAddr: `10.0.${h >> 8}.${h & 255}`, dstAddr: "1.1.1.1" }));
    feeder.feed(recs);
    assert.equal(engine.stats.thresholdRows, 0);
    let ticks = 0;
    let running = true;
    const spin = () => {
      ticks++;
      if (running) setImmediate(spin);
    };
    setImmediate(spin);
    clock.now = T0 + 10_000;
    await engine.evaluate();
    running = false;
    assert.equal(engine.stats.thresholdRows, 5000);
    assert.ok(ticks >= 9, `ingest got the loop ${ticks} times during 10 slices`);
    assert.ok(engine.stats.longestSliceSeconds <= engine.stats.evaluationSeconds);
  });
});
