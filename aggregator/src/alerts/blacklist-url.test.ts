// A blacklist at a URL, served by a real local HTTP server: loaded at start, re-fetched with a
// conditional GET, changes picked up, and every kind of failure (error status, timeout, a body
// over the bound, declared or streamed, a server gone) keeps the last good list, counted and
// reported once per streak. Also: the rule parser's checks of the URL, and the engine raising
// an alert from a fetched list.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { parseAlertRule } from "@flowlens/contracts";
import { pino } from "pino";
import { Registry } from "prom-client";
import { registerAlertMetrics } from "../metrics.js";
import { AlertEngine } from "./engine.js";
import { BlacklistCheck } from "./flow-checks.js";
import { Feeder, flowRecord, RecordingSink, rules } from "./testing.js";

type Mode = "ok" | "500" | "hang" | "big-declared" | "big-streamed";

interface ListServer {
  server: Server;
  url: string;
  mode: Mode;
  body: string;
  requests: Array<{ ifNoneMatch?: string; status: number }>;
}

async function startListServer(body: string): Promise<ListServer> {
  const s: ListServer = { server: undefined as unknown as Server, url: "", mode: "ok", body, requests: [] };
  s.server = createServer((req, res) => {
    const etag = `"${createHash("sha256").update(s.body).digest("hex").slice(0, 16)}"`;
    const log = (status: number) => {
      const inm = req.headers["if-none-match"];
      s.requests.push({ ...(inm !== undefined ? { ifNoneMatch: inm } : {}), status });
    };
    switch (s.mode) {
      case "500":
        log(500);
        res.writeHead(500).end("broken");
        return;
      case "hang":
        log(0);
        return; // never answers
      case "big-declared": {
        log(200);
        const big = "10.9.9.9\n".repeat(400);
        res.writeHead(200, { "content-length": Buffer.byteLength(big) }).end(big);
        return;
      }
      case "big-streamed":
        log(200);
        // Chunked, no length up front: only counting the body finds it too big.
        res.writeHead(200, { "content-type": "text/plain" });
        for (let i = 0; i < 40; i++) res.write("10.8.8.8\n".repeat(10));
        res.end();
        return;
      case "ok":
        if (req.headers["if-none-match"] === etag) {
          log(304);
          res.writeHead(304, { etag }).end();
          return;
        }
        log(200);
        res.writeHead(200, { "content-type": "text/plain", etag }).end(s.body);
    }
  });
  s.server.listen(0, "127.0.0.1");
  await once(s.server, "listening");
  s.url = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}/blacklist.txt`;
  return s;
}

const T = 1_700_000_000_000;
const silent = pino({ level: "silent" });

describe("blacklist from a URL", () => {
  let srv: ListServer;
  before(async () => {
    srv = await startListServer("# bad hosts\n203.0.113.7\n198.51.100.0/24\n");
  });
  after(() => {
    srv.server.closeAllConnections();
    srv.server.close();
  });

  it("loads at start, re-fetches when due (304 when unchanged), picks up a change", async () => {
    srv.mode = "ok";
    srv.body = "# bad hosts\n203.0.113.7\n198.51.100.0/24\n";
    srv.requests.length = 0;
    const loads: Array<[number, number, string | undefined]> = [];
    const check = new BlacklistCheck(srv.url, (e, b, err) => loads.push([e, b, err]), { refreshMs: 10_000 });
    await check.settled();
    assert.equal(check.entries, 2);
    assert.ok(check.has("203.0.113.7") && check.has("198.51.100.42"));
    assert.ok(!check.has("192.0.2.1"));
    assert.deepEqual(loads, [[2, 0, undefined]]);

    // The first tick schedules; nothing is fetched before refreshMs.
    check.tick(T);
    check.tick(T + 9_999);
    await check.settled();
    assert.equal(srv.requests.length, 1);
    check.tick(T + 10_000);
    await check.settled();
    assert.equal(srv.requests.length, 2);
    assert.equal(srv.requests[1]?.status, 304, "conditional GET with the ETag");
    assert.ok(srv.requests[1]?.ifNoneMatch);
    assert.equal(loads.length, 1, "an unchanged list is not parsed again");

    srv.body = "192.0.2.99\n2001:db8::/32\nnot-an-address\n";
    check.tick(T + 20_000); // schedules after the last fetch settled
    check.tick(T + 30_000);
    await check.settled();
    assert.equal(srv.requests.at(-1)?.status, 200);
    assert.equal(check.entries, 2);
    assert.equal(check.badLines, 1);
    assert.ok(check.has("192.0.2.99") && check.has("2001:db8::5"));
    assert.ok(!check.has("203.0.113.7"), "the old list is gone");
    assert.equal(check.failures, 0);
  });

  it("keeps the last good list on a 500, a timeout, an oversized body and a dead server", async () => {
    srv.mode = "ok";
    srv.body = "203.0.113.7\n";
    const loads: Array<[number, number, string | undefined]> = [];
    const check = new BlacklistCheck(srv.url, (e, b, err) => loads.push([e, b, err]), {
      refreshMs: 10_000,
      timeoutMs: 300,
      maxBytes: 1024,
    });
    await check.settled();
    assert.equal(check.entries, 1);
    let now = T;
    const refetch = async () => {
      check.tick(now); // schedules
      now += 10_000;
      check.tick(now); // fetches
      await check.settled();
    };

    const cases: Array<[Mode, RegExp]> = [
      ["500", /HTTP 500/],
      ["hang", /no complete answer within 300 ms/],
      ["big-declared", /3600 bytes, more than the 1024 allowed/],
      ["big-streamed", /body over the 1024 bytes allowed/],
    ];
    for (const [mode, why] of cases) {
      srv.mode = mode;
      const t0 = Date.now();
      await refetch();
      assert.ok(Date.now() - t0 < 5_000, `${mode}: bounded in time`);
      assert.match(check.loadError ?? "", why, mode);
      assert.equal(check.entries, 1, `${mode}: last good list kept`);
      assert.ok(check.has("203.0.113.7"), mode);
      assert.ok(!check.has("10.9.9.9") && !check.has("10.8.8.8"), `${mode}: nothing of the bad answer`);
    }
    assert.equal(check.failures, 4, "every failure counted");
    // One report for the whole streak (the first failure), after the initial load.
    assert.equal(loads.length, 2);
    assert.match(loads[1]?.[2] ?? "", /HTTP 500/);
    assert.deepEqual(loads[1]?.slice(0, 2), [1, 0]);

    // Back to health, unchanged: a 304 ends the streak and says so once.
    srv.mode = "ok";
    await refetch();
    assert.equal(srv.requests.at(-1)?.status, 304);
    assert.equal(check.loadError, undefined);
    assert.deepEqual(loads[2], [1, 0, undefined]);

    // A server gone: connection refused, same list.
    const gone = await startListServer("203.0.113.8\n");
    const goneCheck = new BlacklistCheck(gone.url, () => {}, { refreshMs: 10_000, timeoutMs: 1000 });
    await goneCheck.settled();
    assert.equal(goneCheck.entries, 1);
    gone.server.close();
    await once(gone.server, "close");
    goneCheck.tick(T);
    goneCheck.tick(T + 10_000);
    await goneCheck.settled();
    assert.match(goneCheck.loadError ?? "", /ECONNREFUSED/);
    assert.ok(goneCheck.has("203.0.113.8"));
    assert.equal(goneCheck.failures, 1);
  });

  it("retries a failed first fetch sooner than the refresh period", async () => {
    srv.mode = "500";
    const check = new BlacklistCheck(srv.url, () => {}, { refreshMs: 300_000 });
    await check.settled();
    assert.equal(check.entries, 0);
    assert.equal(check.failures, 1);
    srv.mode = "ok";
    srv.body = "203.0.113.9\n";
    check.tick(T);
    check.tick(T + 30_000);
    await check.settled();
    assert.ok(check.has("203.0.113.9"));
    assert.equal(check.loadError, undefined);
  });

  it("raises the rule's alert on a flow to an address of the fetched list", async () => {
    srv.mode = "ok";
    srv.body = "203.0.113.7\n";
    const clock = { now: T };
    const sink = new RecordingSink();
    const engine = new AlertEngine({
      logger: silent,
      sink,
      endpoints: [{ kind: "webhook", target: "http://127.0.0.1:9/hook" }],
      clock: () => clock.now,
    });
    engine.setRules(
      rules({
        name: "bl",
        severity: "error",
        check: { name: "blacklisted-host", params: { file: srv.url, refreshSeconds: 60 } },
      }),
    );
    const feeder = new Feeder(engine);
    // The first fetch runs in the background; flows before it lands see an empty list.
    const deadline = Date.now() + 5_000;
    for (let port = 40000; sink.sent.length === 0; port++) {
      assert.ok(Date.now() < deadline, "no alert within 5 s");
      feeder.feed([flowRecord({ srcAddr: "10.1.1.1", srcPort: port, dstAddr: "203.0.113.7", lastSeenMs: T })]);
      await new Promise((r) => setTimeout(r, 20));
    }
    const n = sink.sent[0]?.n;
    assert.equal(n?.event, "flow");
    assert.equal(n?.rule, "bl");
    assert.equal(n?.labels.blacklisted, "203.0.113.7");
    // A flow to an address not on the list raises nothing.
    const before = sink.sent.length;
    feeder.feed([flowRecord({ srcAddr: "10.1.1.1", srcPort: 39999, dstAddr: "192.0.2.1", lastSeenMs: T })]);
    assert.equal(sink.sent.length, before);
    await engine.stop();
  });
  it("says in Prometheus metrics when a rule's list cannot be fetched, and when it can again", async () => {
    srv.mode = "500";
    srv.body = "203.0.113.7\n198.51.100.0/24\n";
    const clock = { now: T };
    const engine = new AlertEngine({
      logger: silent,
      sink: new RecordingSink(),
      endpoints: [],
      clock: () => clock.now,
    });
    const registry = new Registry();
    registerAlertMetrics(registry, engine);
    const metric = async (name: string) => {
      const m = new RegExp(`^${name}\\{rule="bl-metrics"\\} (\\d+)$`, "m").exec(await registry.metrics());
      return m ? Number(m[1]) : undefined;
    };
    engine.setRules(
      rules({
        name: "bl-metrics",
        severity: "warning",
        check: { name: "blacklisted-host", params: { file: srv.url, refreshSeconds: 60 } },
      }),
    );
    const deadline = Date.now() + 5_000;
    while ((await metric("flowlens_alert_blacklist_load_failures_total")) !== 1) {
      assert.ok(Date.now() < deadline, await registry.metrics());
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(await metric("flowlens_alert_blacklist_failing"), 1);
    assert.equal(await metric("flowlens_alert_blacklist_entries"), 0);
    // Reachable again: the retry, 30 s after a failed first fetch (evaluations tick the lists), loads it.
    srv.mode = "ok";
    await engine.evaluate();
    clock.now = T + 31_000;
    await engine.evaluate();
    while ((await metric("flowlens_alert_blacklist_failing")) !== 0) {
      assert.ok(Date.now() < deadline + 5_000, await registry.metrics());
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(await metric("flowlens_alert_blacklist_entries"), 2);
    assert.equal(await metric("flowlens_alert_blacklist_load_failures_total"), 1);
    await engine.stop();
  });
});

describe("blacklist URL validation", () => {
  const parse = (file: string, extra: Record<string, unknown> = {}) =>
    parseAlertRule(
      { name: "bl", severity: "error", check: { name: "blacklisted-host", params: { file, ...extra } } },
      "t",
    );
  const errors = (r: ReturnType<typeof parse>) => (r.ok ? [] : r.errors);

  it("takes a path or an http(s) URL, with a refresh period in range", () => {
    for (const file of [
      "/etc/flowlens/blacklist.txt",
      "http://lists.security.svc:8080/bad.txt",
      "https://10.0.0.5/l",
    ]) {
      const r = parse(file);
      assert.ok(r.ok, `${file}: ${errors(r).join("; ")}`);
      assert.equal(r.rule.check?.params.refreshSeconds, 300, "default refresh");
    }
    const r = parse("http://lists/bad.txt", { refreshSeconds: "60" });
    assert.ok(r.ok);
    assert.equal(r.rule.check?.params.refreshSeconds, 60);
  });

  it("refuses other schemes, URLs without a host or with credentials, and refresh periods out of range", () => {
    assert.match(errors(parse("ftp://lists/bad.txt")).join(";"), /only http:\/\/ and https:\/\/ URLs/);
    assert.match(errors(parse("http://")).join(";"), /not a valid URL|without a host/);
    assert.match(errors(parse("https://user:pw@lists/bad.txt")).join(";"), /credentials/);
    assert.match(errors(parse("http://lists/x", { refreshSeconds: 5 })).join(";"), /refreshSeconds: 5 is out of range/);
    assert.match(
      errors(parse("http://lists/x", { refreshSeconds: "soon" })).join(";"),
      /refreshSeconds.*not an integer/,
    );
  });
});
