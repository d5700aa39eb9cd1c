// The REST API over a real LiveState, through Fastify's injection (no sockets): answers,
// filters, paging, and that every bad request is a 400/404 with {error:{code,message}}.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type pb, recordToFlow } from "@flowlens/contracts";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { Registry } from "prom-client";
import { LocalNetworks } from "../networks.js";
import { defaultStateConfig, LiveState } from "../state/live-state.js";
import { buildHttpServer } from "./server.js";

function flow(src: string, dst: string, bytes: number, l7 = "TLS", end: "fin" | "active" = "fin"): pb.Flow {
  return recordToFlow({
    srcAddr: src,
    srcPort: 40000,
    dstAddr: dst,
    dstPort: 443,
    proto: 6,
    ipVersion: src.includes(":") ? 6 : 4,
    vlan: 0,
    firstSeenMs: 1_700_000_000_000,
    lastSeenMs: 1_700_000_001_000,
    srcToDstPackets: 10,
    srcToDstBytes: bytes,
    dstToSrcPackets: 5,
    dstToSrcBytes: 100,
    srcTcpFlags: 27,
    dstTcpFlags: 27,
    l7,
    l7Category: "Web",
    srcRetransmits: 0,
    dstRetransmits: 0,
    srcOutOfOrder: 0,
    dstOutOfOrder: 0,
    endReason: end,
    communityId: `1:${src}-${dst}-${bytes}`,
  });
}

describe("REST API /api/v1", () => {
  let app: FastifyInstance;
  let ready = false;
  const now = Date.now();

  before(async () => {
    const state = new LiveState(defaultStateConfig(), new LocalNetworks(["10.0.0.0/8"]), () => now);
    state.applyBatch(
      [
        flow("10.0.0.1", "93.184.216.34", 5000),
        flow("10.0.0.2", "93.184.216.34", 3000, "HTTP"),
        flow("10.0.0.1", "10.0.0.2", 700, "SSH"),
        flow("2001:db8::1", "2001:db8::2", 900, "DNS"),
        flow("10.0.0.3", "1.1.1.1", 50, "TLS", "active"),
      ],
      { node: "node-a", agentId: "agent-1" },
    );
    app = await buildHttpServer({
      state,
      registry: new Registry(),
      logger: pino({ level: "silent" }),
      ready: () => ready,
      now: () => now,
    });
  });
  after(() => app.close());

  const get = async (url: string) => {
    const r = await app.inject({ method: "GET", url });
    return { status: r.statusCode, body: r.json() as Record<string, unknown> };
  };

  it("lists hosts sorted, paged and filtered", async () => {
    const all = await get("/api/v1/hosts?sort=bytes&order=desc&limit=2");
    assert.equal(all.status, 200);
    assert.equal(all.body.total, 7);
    const items = all.body.items as Array<{ ip: string; bytesSent: number; bytesRcvd: number }>;
    assert.deepEqual(
      items.map((h) => h.ip),
      ["93.184.216.34", "10.0.0.1"],
    );
    const page2 = await get("/api/v1/hosts?sort=bytes&order=desc&limit=2&offset=2");
    assert.equal((page2.body.items as unknown[]).length, 2);
    const local = await get("/api/v1/hosts?local=true&sort=ip&order=asc");
    assert.deepEqual(
      (local.body.items as Array<{ ip: string }>).map((h) => h.ip),
      ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
    );
    const net = await get("/api/v1/hosts?network=2001:db8::/32&sort=ip&order=asc");
    assert.deepEqual(
      (net.body.items as Array<{ ip: string }>).map((h) => h.ip),
      ["2001:db8::1", "2001:db8::2"],
    );
  });

  it("answers one host with its applications and peers, 404 for an unknown one", async () => {
    const h = await get("/api/v1/hosts/10.0.0.1");
    assert.equal(h.status, 200);
    assert.equal(h.body.bytesSent, 5700);
    assert.equal(h.body.bytesRcvd, 200);
    const apps = (h.body.applications as Array<{ name: string }>).map((a) => a.name).sort();
    assert.deepEqual(apps, ["SSH", "TLS"]);
    const missing = await get("/api/v1/hosts/10.9.9.9");
    assert.equal(missing.status, 404);
    assert.equal((missing.body.error as { code: string }).code, "NOT_FOUND");
  });

  it("serves flows, applications, protocols, nodes, top talkers and time series", async () => {
    const flows = await get("/api/v1/flows?host=10.0.0.1&sort=bytes&order=desc");
    assert.deepEqual(
      (flows.body.items as Array<{ srcToDstBytes: number; node: string }>).map((f) => [f.srcToDstBytes, f.node]),
      [
        [5000, "node-a"],
        [700, "node-a"],
      ],
    );
    const active = await get("/api/v1/flows?state=active");
    assert.deepEqual(
      (active.body.items as Array<{ srcAddr: string; state: string }>).map((f) => [f.srcAddr, f.state]),
      [["10.0.0.3", "active"]],
    );
    const apps = await get("/api/v1/applications");
    assert.ok((apps.body.items as Array<{ name: string }>).some((a) => a.name === "SSH"));
    const protos = await get("/api/v1/protocols");
    assert.equal((protos.body.items as Array<{ name: string }>)[0]?.name, "TCP");
    const nodes = await get("/api/v1/nodes");
    assert.deepEqual(
      (nodes.body.items as Array<{ node: string }>).map((n) => n.node),
      ["node-a"],
    );
    const top = await get("/api/v1/top/talkers?window=1m&limit=1");
    assert.equal((top.body.items as Array<{ ip: string }>)[0]?.ip, "93.184.216.34");
    const ts = await get("/api/v1/timeseries?entity=application&name=TLS&resolution=1m&since=-1h");
    assert.equal(ts.status, 200);
    const points = ts.body.points as Array<{ bytes: number }>;
    assert.equal(
      points.reduce((s, p) => s + p.bytes, 0),
      5000 + 100 + 50 + 100,
    );
  });

  it("refuses bad queries with 400 and a code, never a 500", async () => {
    for (const url of [
      "/api/v1/hosts?bogus=1",
      "/api/v1/hosts?limit=0",
      "/api/v1/hosts?limit=abc",
      "/api/v1/hosts?sort=nope",
      "/api/v1/hosts?network=10.0.0.0/33",
      "/api/v1/hosts?network=not-an-ip",
      "/api/v1/hosts?since=yesterday",
      "/api/v1/hosts?since=-1h&until=-2h",
      "/api/v1/flows?proto=300",
      "/api/v1/flows?host=1.2.3.4/8/9",
      "/api/v1/top/talkers?window=2m",
      "/api/v1/timeseries?entity=host",
      "/api/v1/timeseries?entity=application",
      "/api/v1/timeseries?resolution=5s",
      "/api/v1/hosts/10.0.0.0%2F8",
      `/api/v1/hosts?network=${"a".repeat(300)}`,
    ]) {
      const r = await get(url);
      assert.equal(r.status, 400, `${url}: ${JSON.stringify(r.body)}`);
      const e = r.body.error as { code: string; message: string };
      assert.equal(e.code, "BAD_REQUEST", url);
      assert.ok(e.message.length > 0, url);
    }
    const nf = await get("/api/v1/nope");
    assert.equal(nf.status, 404);
    assert.equal((nf.body.error as { code: string }).code, "NOT_FOUND");
  });

  it("publishes an OpenAPI document covering every route", async () => {
    const doc = await get("/api/v1/openapi.json");
    assert.equal(doc.status, 200);
    assert.equal(doc.body.openapi, "3.0.3");
    const paths = Object.keys(doc.body.paths as object).sort();
    for (const p of [
      "/api/v1/flows",
      "/api/v1/hosts",
      "/api/v1/hosts/{ip}",
      "/api/v1/top/talkers",
      "/api/v1/applications",
      "/api/v1/exporters",
      "/api/v1/exporters/{ip}/interfaces",
      "/api/v1/timeseries",
    ]) {
      assert.ok(paths.includes(p), `${p} in ${paths.join(", ")}`);
    }
  });

  it("reports readiness separately from health", async () => {
    assert.equal((await get("/healthz")).status, 200);
    assert.equal((await get("/readyz")).status, 503);
    ready = true;
    assert.equal((await get("/readyz")).status, 200);
  });
});
