import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import { freePort } from "@flowlens/testkit";
import { pino } from "pino";
import { Registry } from "prom-client";
import { NotificationDispatcher } from "./dispatcher.js";
import { SLACK_COLOURS } from "./slack.js";
import { type HttpReceiver, sampleNotification, startHttpReceiver } from "./testing.js";
import type { EndpointConfig } from "./types.js";
import { SIGNATURE_HEADER, verifyWebhookSignature } from "./webhook.js";

const logger = pino({ level: "silent" });
const SECRET = "0123456789abcdef-test-secret";

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A TCP server that accepts connections and never says or reads anything. */
async function silentTcpServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.pause();
    s.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe("NotificationDispatcher over HTTP (webhook, Slack)", () => {
  const receivers: HttpReceiver[] = [];
  const dispatchers: NotificationDispatcher[] = [];
  const receiver = async () => {
    const r = await startHttpReceiver();
    receivers.push(r);
    return r;
  };
  const dispatcher = (opts: Partial<ConstructorParameters<typeof NotificationDispatcher>[0]> = {}) => {
    const d = new NotificationDispatcher({ logger, ...opts });
    dispatchers.push(d);
    return d;
  };
  after(async () => {
    await Promise.all(dispatchers.map((d) => d.stop(Date.now() + 100)));
    await Promise.all(receivers.map((r) => r.close()));
  });

  it("posts the documented webhook JSON with a verifiable HMAC signature", async () => {
    const r = await receiver();
    const d = dispatcher();
    const ep: EndpointConfig = { kind: "webhook", target: `${r.url}/hook`, options: { secret: SECRET } };
    const n = sampleNotification();
    d.send([ep], n);
    const [req] = await r.waitForRequests(1);
    assert.ok(req);
    assert.equal(req.method, "POST");
    assert.equal(req.url, "/hook");
    assert.equal(req.headers["content-type"], "application/json");
    const body = JSON.parse(req.body);
    assert.equal(body.version, 1);
    assert.equal(body.type, "alert");
    assert.deepEqual(body.alert, n);
    const sig = req.headers[SIGNATURE_HEADER] as string;
    assert.deepEqual(verifyWebhookSignature(SECRET, req.body, sig), { ok: true });
    // The signature covers the exact body, the secret and a fresh timestamp.
    assert.equal(verifyWebhookSignature(SECRET, req.body.replace("512", "513"), sig).ok, false);
    assert.equal(verifyWebhookSignature("another-secret-of-16+", req.body, sig).ok, false);
    assert.equal(verifyWebhookSignature(SECRET, req.body, sig, Date.now() + 600_000).ok, false);
    await until("sent counted", () => d.rowFor(ep)?.sent === 1);
  });

  it("formats Slack messages with text, blocks and a colour by severity (green on release)", async () => {
    const r = await receiver();
    const d = dispatcher();
    const ep: EndpointConfig = {
      kind: "slack",
      target: `${r.url}/services/T000/B000/XXXX`,
      options: { channel: "#ops" },
    };
    const n = sampleNotification({ severity: "critical" });
    d.send([ep], n);
    d.send([ep], { ...n, event: "released", endedAtMs: Date.now() });
    await r.waitForRequests(2);
    const [a, b] = r.requests.map((q) => JSON.parse(q.body));
    assert.equal(a.channel, "#ops");
    assert.match(a.text, /CRITICAL engaged: default\/port-scan on host 10\.231\.0\.5/);
    assert.equal(a.attachments[0].color, SLACK_COLOURS.critical);
    const blocks = a.attachments[0].blocks;
    assert.equal(blocks[0].type, "header");
    assert.ok(blocks.some((x: { fields?: { text: string }[] }) => x.fields?.some((f) => f.text.includes("512"))));
    assert.match(b.text, /released/);
    assert.equal(b.attachments[0].color, SLACK_COLOURS.released);
  });

  it("retries 5xx with backoff until it succeeds", async () => {
    const r = await receiver();
    r.replies.push({ status: 500, body: "boom" }, { status: 503 });
    const d = dispatcher();
    const ep: EndpointConfig = { kind: "webhook", target: r.url, options: { backoffMs: "50", maxAttempts: "5" } };
    d.send([ep], sampleNotification());
    await r.waitForRequests(3);
    await until("sent", () => d.rowFor(ep)?.sent === 1);
    const row = d.rowFor(ep);
    assert.equal(row?.retried, 2);
    assert.equal(row?.failed, 0);
    // Backoff with equal jitter: at least half of 50 ms, then half of 100 ms.
    const [t0, t1, t2] = r.requests.map((q) => q.atMs) as [number, number, number];
    assert.ok(t1 - t0 >= 20, `first retry after ${t1 - t0} ms`);
    assert.ok(t2 - t1 >= 45, `second retry after ${t2 - t1} ms`);
  });

  it("does not retry a 400", async () => {
    const r = await receiver();
    r.fallback = { status: 400, body: "invalid_payload" };
    const d = dispatcher();
    const ep: EndpointConfig = { kind: "slack", target: r.url, options: { backoffMs: "10" } };
    d.send([ep], sampleNotification());
    await until("failed", () => d.rowFor(ep)?.failed === 1);
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(r.requests.length, 1);
    assert.equal(d.rowFor(ep)?.retried, 0);
    assert.equal(d.rowFor(ep)?.sent, 0);
  });

  it("retries a 429 and honours Retry-After", async () => {
    const r = await receiver();
    r.replies.push({ status: 429, headers: { "retry-after": "1" } });
    const d = dispatcher();
    const ep: EndpointConfig = { kind: "webhook", target: r.url, options: { backoffMs: "10" } };
    d.send([ep], sampleNotification());
    await r.waitForRequests(2, 5000);
    const [t0, t1] = r.requests.map((q) => q.atMs) as [number, number];
    assert.ok(t1 - t0 >= 950, `retried after ${t1 - t0} ms, Retry-After said 1 s`);
    await until("sent", () => d.rowFor(ep)?.sent === 1);
  });

  it("counts an unreachable endpoint (connection refused) as failed after its retries", async () => {
    const port = await freePort();
    const d = dispatcher();
    const ep: EndpointConfig = {
      kind: "webhook",
      target: `http://127.0.0.1:${port}/`,
      options: { backoffMs: "10", maxAttempts: "3" },
    };
    d.send([ep], sampleNotification());
    await until("failed", () => d.rowFor(ep)?.failed === 1);
    assert.equal(d.rowFor(ep)?.retried, 2);
    assert.equal(d.rowFor(ep)?.sent, 0);
  });

  it("times out a slow endpoint and retries it", async () => {
    const r = await receiver();
    r.fallback = "hang";
    const d = dispatcher();
    const ep: EndpointConfig = {
      kind: "webhook",
      target: r.url,
      options: { timeoutMs: "150", backoffMs: "10", maxAttempts: "2" },
    };
    const t0 = Date.now();
    d.send([ep], sampleNotification());
    await until("failed", () => d.rowFor(ep)?.failed === 1);
    const took = Date.now() - t0;
    assert.equal(r.requests.length, 2);
    assert.equal(d.rowFor(ep)?.retried, 1);
    assert.ok(took >= 300 && took < 3000, `two 150 ms timeouts took ${took} ms`);
  });

  it("drops the oldest queued notification when the queue is full, and counts it", async () => {
    const r = await receiver();
    r.fallback = "hang";
    const d = dispatcher();
    const ep: EndpointConfig = { kind: "webhook", target: r.url, options: { queueSize: "3", timeoutMs: "60000" } };
    const first = sampleNotification();
    d.send([ep], first);
    await r.waitForRequests(1);
    const ns = Array.from({ length: 10 }, () => sampleNotification());
    for (const n of ns) d.send([ep], n);
    // The first is in flight, the last three of the ten wait, the seven before were pushed out.
    assert.equal(JSON.parse(r.requests[0]?.body ?? "{}").alert.id, first.id);
    const row = d.rowFor(ep);
    assert.equal(row?.dropped.queue_full, 7);
    assert.equal(row?.queued, 3);
    const res = await d.stop(Date.now() + 200);
    assert.equal(res.undelivered, 3);
    const after = d.rowFor(ep);
    assert.equal(after?.dropped.stopping, 3);
    assert.equal(after?.failed, 1, "the in-flight delivery is aborted at the deadline");
  });

  it("rate limits per endpoint, counts the excess and sends a summary when tokens return", async () => {
    const r = await receiver();
    let now = Date.now();
    const d = dispatcher({ now: () => now, tickMs: 20 });
    const ep: EndpointConfig = { kind: "webhook", target: r.url, options: { ratePerMinute: "60", burst: "2" } };
    for (let i = 0; i < 5; i++) d.send([ep], sampleNotification({ severity: i === 4 ? "critical" : "warning" }));
    await r.waitForRequests(2);
    assert.equal(d.rowFor(ep)?.rateLimited, 3);
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(r.requests.length, 2, "no summary before a token is back");
    now += 1000; // one token: the periodic tick sends the summary
    await r.waitForRequests(3);
    const summary = JSON.parse(r.requests[2]?.body ?? "{}");
    assert.equal(summary.type, "suppressed");
    assert.equal(summary.suppressed.count, 3);
    assert.deepEqual(summary.suppressed.bySeverity, { info: 0, warning: 2, error: 0, critical: 1 });
    assert.deepEqual(summary.suppressed.rules, ["default/port-scan"]);
    assert.match(summary.text, /3 notification\(s\) suppressed/);
    await until("3 sent", () => d.rowFor(ep)?.sent === 3);
  });

  it("filters by minimum severity and entity kind", async () => {
    const r = await receiver();
    const d = dispatcher();
    const ep: EndpointConfig = { kind: "webhook", target: r.url, minSeverity: "error", entityKinds: ["host"] };
    d.send([ep], sampleNotification({ severity: "warning" }));
    d.send([ep], sampleNotification({ severity: "critical", entity: { kind: "flow", value: "1:abc" } }));
    const wanted = sampleNotification({ severity: "error" });
    d.send([ep], wanted);
    await r.waitForRequests(1);
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(r.requests.length, 1);
    assert.equal(JSON.parse(r.requests[0]?.body ?? "{}").alert.id, wanted.id);
    assert.equal(d.rowFor(ep)?.filtered, 2);
  });

  it("counts notifications for an invalid endpoint config as dropped, without throwing", async () => {
    const d = dispatcher();
    const bad: EndpointConfig = { kind: "webhook", target: "ftp://example.invalid/x" };
    assert.doesNotThrow(() => d.send([bad], sampleNotification()));
    assert.equal(d.rowFor(bad)?.dropped.invalid_config, 1);
  });

  it("exports flowlens_notifications_* metrics by endpoint and kind", async () => {
    const r = await receiver();
    const registry = new Registry();
    const d = dispatcher({ registry });
    const ep: EndpointConfig = { kind: "webhook", target: r.url, options: { name: "ops-hook" } };
    d.send([ep], sampleNotification());
    await until("sent", () => d.rowFor(ep)?.sent === 1);
    const text = await registry.metrics();
    assert.match(text, /flowlens_notifications_sent_total\{endpoint="ops-hook",kind="webhook"\} 1/);
    assert.match(text, /flowlens_notifications_queued\{endpoint="ops-hook",kind="webhook"\} 0/);
  });
});

describe("NotificationDispatcher never blocks the caller", () => {
  it("returns at once from send() while every kind of endpoint hangs, and stop() keeps its deadline", async () => {
    const http = await startHttpReceiver("hang");
    const tcp = await silentTcpServer();
    const d = new NotificationDispatcher({ logger });
    const slow = { timeoutMs: "60000", queueSize: "100", ratePerMinute: "60000", burst: "10000" };
    const endpoints: EndpointConfig[] = [
      { kind: "webhook", target: http.url, options: slow },
      { kind: "slack", target: `${http.url}/slack`, options: slow },
      { kind: "alertmanager", target: http.url, options: slow },
      {
        kind: "email",
        target: "ops@example.test",
        options: { ...slow, smtpHost: "127.0.0.1", smtpPort: String(tcp.port), from: "flowlens@example.test" },
      },
      { kind: "syslog", target: `tcp://127.0.0.1:${tcp.port}`, options: slow },
      { kind: "nagios", target: `nsca://127.0.0.1:${tcp.port}`, options: slow },
    ];
    try {
      const ns = Array.from({ length: 1000 }, () => sampleNotification());
      const t0 = process.hrtime.bigint();
      for (const n of ns) d.send(endpoints, n);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      // 6,000 hand-offs; nothing has been written to any socket yet.
      assert.equal(http.requests.length, 0);
      assert.ok(ms < 1000, `send() of 1000 notifications to 6 endpoints took ${ms.toFixed(1)} ms`);
      const rows = d.metricRows();
      assert.equal(rows.length, 6);
      for (const row of rows)
        assert.equal(row.queued + row.dropped.queue_full, 1000, `${row.kind}: ${JSON.stringify(row)}`);
      const s0 = Date.now();
      const res = await d.stop(Date.now() + 300);
      const stopMs = Date.now() - s0;
      assert.ok(stopMs < 2000, `stop() with a 300 ms deadline took ${stopMs} ms`);
      assert.ok(res.undelivered > 0);
      // Syslog over TCP has no acknowledgement: what the kernel accepted counts as sent.
      for (const row of d.metricRows()) if (row.kind !== "syslog") assert.equal(row.sent, 0, row.kind);
    } finally {
      await http.close();
      await tcp.close();
    }
  });
});
