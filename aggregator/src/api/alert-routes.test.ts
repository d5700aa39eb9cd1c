// The alerts API over a real engine fed through the real pipeline, through Fastify's injection:
// engaged and past alerts with filters and paging, acknowledgement, rule status (with a refused
// rule), the OpenAPI document, the metrics, and 400/404 with {error:{code,message}}.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { Registry } from "prom-client";
import { AlertEngine } from "../alerts/engine.js";
import { Feeder, flowRecord, rules } from "../alerts/testing.js";
import { registerAlertMetrics } from "../metrics.js";
import { LocalNetworks } from "../networks.js";
import { defaultStateConfig, LiveState } from "../state/live-state.js";
import { buildHttpServer } from "./server.js";

const MIN = 60_000;
const T0 = 28_333_334 * MIN + 5000;

describe("REST API /api/v1/alerts and /api/v1/alert-rules", () => {
  let app: FastifyInstance;
  const clock = { now: T0 };
  const registry = new Registry();

  before(async () => {
    const loaded = rules(
      {
        name: "big-sender",
        severity: "error",
        threshold: {
          target: { kind: "local-hosts", value: "*" },
          metric: "bytesSent",
          window: "1m",
          operator: ">",
          value: 5000,
        },
      },
      {
        name: "dns-app",
        severity: "info",
        threshold: {
          target: { kind: "application", value: "DNS" },
          metric: "flows",
          window: "1m",
          operator: ">=",
          value: 1,
        },
      },
      { name: "tls", severity: "warning", check: { name: "tls-risks" } },
    );
    loaded.push({
      origin: "rules.yaml[3]",
      name: "broken",
      errors: ['rules.yaml[3]: spec.threshold.metric: unknown metric "nope"'],
    });
    const engine = new AlertEngine({
      logger: pino({ level: "silent" }),
      clock: () => clock.now,
      localNetworks: ["10.0.0.0/8"],
    });
    engine.setRules(loaded);
    const feeder = new Feeder(engine);
    feeder.feed([
      flowRecord({ srcAddr: "10.0.0.1", dstAddr: "1.1.1.1", srcToDstBytes: 9000 }),
      flowRecord({ srcAddr: "10.0.0.2", dstAddr: "1.1.1.1", srcToDstBytes: 7000 }),
      flowRecord({ srcAddr: "10.0.0.3", dstAddr: "1.1.1.1", srcToDstBytes: 100 }),
      flowRecord({ srcAddr: "10.0.0.3", dstAddr: "9.9.9.9", dstPort: 53, proto: 17, l7: "DNS", l7Category: "Network" }),
      flowRecord({
        srcAddr: "10.0.0.4",
        dstAddr: "2.2.2.2",
        communityId: "1:abc",
        info: { risks: ["TLS Certificate Mismatch"] },
      }),
    ]);
    clock.now = T0 + 10_000;
    await engine.evaluate();
    // The next minute, 10.0.0.2 sends little: its alert is released at the end of the one after.
    clock.now = T0 + MIN;
    feeder.feed([flowRecord({ srcAddr: "10.0.0.1", dstAddr: "1.1.1.1", srcToDstBytes: 9000 })]);
    await engine.evaluate();
    clock.now = T0 + 2 * MIN;
    await engine.evaluate();
    registerAlertMetrics(registry, engine);
    const state = new LiveState(defaultStateConfig(), new LocalNetworks([]), () => clock.now);
    app = await buildHttpServer({
      state,
      registry,
      logger: pino({ level: "silent" }),
      ready: () => true,
      now: () => clock.now,
      alerts: { engine },
    });
  });
  after(() => app.close());

  const get = async (url: string) => {
    const r = await app.inject({ method: "GET", url });
    return { status: r.statusCode, body: r.json() as Record<string, unknown> };
  };
  type Item = {
    id: string;
    rule: string;
    state: string;
    entity: { kind: string; value: string };
    acknowledged: boolean;
    durationMs?: number;
  };
  const items = (b: Record<string, unknown>) => b.items as Item[];

  it("lists engaged and past alerts, newest first, with filters", async () => {
    const all = await get("/api/v1/alerts");
    assert.equal(all.status, 200);
    const got = items(all.body).map((a) => `${a.state} ${a.rule} ${a.entity.kind}:${a.entity.value}`);
    assert.deepEqual(got.sort(), [
      "engaged big-sender host:10.0.0.1",
      "past big-sender host:10.0.0.2",
      "past dns-app application:DNS",
      "past tls flow:1:abc",
    ]);
    assert.equal(all.body.total, 4);
    const engaged = await get("/api/v1/alerts?state=engaged");
    assert.deepEqual(
      items(engaged.body).map((a) => a.entity.value),
      ["10.0.0.1"],
    );
    const past = await get("/api/v1/alerts?state=past&rule=big-sender");
    assert.deepEqual(
      items(past.body).map((a) => a.entity.value),
      ["10.0.0.2"],
    );
    assert.equal(items(past.body)[0]?.durationMs, 2 * MIN - 10_000);
    const severe = await get("/api/v1/alerts?severity=warning");
    assert.deepEqual(
      items(severe.body)
        .map((a) => a.rule)
        .sort(),
      ["big-sender", "big-sender", "tls"],
    );
    const byEntity = await get("/api/v1/alerts?entity=10.0.0.4");
    assert.deepEqual(
      items(byEntity.body).map((a) => a.rule),
      ["tls"],
      "a flow alert is found by its host",
    );
    const flows = await get("/api/v1/alerts?entityKind=flow");
    assert.equal(flows.body.total, 1);
    const early = await get(`/api/v1/alerts?until=${T0 + 5000}`);
    assert.equal(early.body.total, 1, "only the flow alert started before T0+5s");
    const late = await get(`/api/v1/alerts?since=${T0 + MIN + 1}`);
    assert.deepEqual(
      items(late.body)
        .map((a) => a.entity.value)
        .sort(),
      ["10.0.0.1", "10.0.0.2", "DNS"],
    );
    const page = await get("/api/v1/alerts?limit=2&offset=3");
    assert.equal(items(page.body).length, 1);
    assert.equal(page.body.total, 4);
  });

  it("acknowledges engaged and past alerts", async () => {
    const [engaged] = items((await get("/api/v1/alerts?state=engaged")).body);
    const r = await app.inject({ method: "POST", url: `/api/v1/alerts/${engaged?.id}/ack` });
    assert.equal(r.statusCode, 200);
    assert.equal((r.json() as Item).acknowledged, true);
    const [past] = items((await get("/api/v1/alerts?state=past&rule=dns-app")).body);
    assert.equal((await app.inject({ method: "POST", url: `/api/v1/alerts/${past?.id}/ack` })).statusCode, 200);
    const acked = await get("/api/v1/alerts?acknowledged=true");
    assert.deepEqual(
      items(acked.body)
        .map((a) => a.rule)
        .sort(),
      ["big-sender", "dns-app"],
    );
    const missing = await app.inject({
      method: "POST",
      url: "/api/v1/alerts/00000000-0000-0000-0000-000000000000/ack",
    });
    assert.equal(missing.statusCode, 404);
    assert.equal((missing.json() as { error: { code: string } }).error.code, "NOT_FOUND");
  });

  it("shows each rule's status, refused ones with their reasons", async () => {
    const r = await get("/api/v1/alert-rules");
    assert.equal(r.status, 200);
    const rows = r.body.items as Array<{
      name: string;
      accepted: boolean;
      kind: string;
      engaged: number;
      errors: string[];
      lastTransitionTime?: string;
    }>;
    const byName = Object.fromEntries(rows.map((x) => [x.name, x]));
    assert.equal(byName["big-sender"]?.engaged, 1);
    assert.equal(byName["big-sender"]?.kind, "threshold");
    assert.equal(byName["big-sender"]?.lastTransitionTime, new Date(T0 + 2 * MIN).toISOString());
    assert.equal(byName.tls?.kind, "check");
    assert.equal(byName.broken?.accepted, false);
    assert.match(byName.broken?.errors[0] ?? "", /unknown metric "nope"/);
  });

  it("refuses bad requests with 400 and {error:{code,message}}", async () => {
    for (const url of [
      "/api/v1/alerts?severity=fatal",
      "/api/v1/alerts?state=open",
      "/api/v1/alerts?bogus=1",
      "/api/v1/alerts?since=yesterday",
      `/api/v1/alerts?since=${T0}&until=${T0 - 1}`,
      "/api/v1/alerts?limit=0",
      "/api/v1/alert-rules?x=1",
    ]) {
      const r = await get(url);
      assert.equal(r.status, 400, url);
      const e = r.body.error as { code: string; message: string };
      assert.equal(e.code, "BAD_REQUEST", url);
      assert.ok(e.message.length > 0);
    }
    const bad = await app.inject({ method: "POST", url: "/api/v1/alerts/not%20an%20id/ack" });
    assert.equal(bad.statusCode, 400);
  });

  it("documents the routes in the OpenAPI document, and exports the engaged gauge", async () => {
    const doc = (await get("/api/v1/openapi.json")).body as { paths: Record<string, unknown> };
    for (const p of ["/api/v1/alerts", "/api/v1/alerts/{id}/ack", "/api/v1/alert-rules"]) assert.ok(doc.paths[p], p);
    const text = await registry.metrics();
    assert.match(text, /flowlens_alerts_engaged\{rule="big-sender",severity="error"\} 1/);
    assert.match(text, /flowlens_alert_rules\{state="refused"\} 1/);
    assert.match(text, /flowlens_alert_evaluations_total 3/);
  });
});
