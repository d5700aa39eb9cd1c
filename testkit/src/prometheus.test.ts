import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { describe, it } from "node:test";
import { haveCommand, pidAlive, waitFor } from "./process.js";
import { promQuery, startAlertmanager, startPrometheus } from "./prometheus.js";

const skipProm = haveCommand(process.env.PROMETHEUS ?? "prometheus")
  ? false
  : "prometheus not installed (Debian package prometheus)";
const skipAm = haveCommand(process.env.ALERTMANAGER ?? "prometheus-alertmanager")
  ? false
  : "alertmanager not installed (Debian package prometheus-alertmanager)";

function metricsServer(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer((_req, res) => {
      res.setHeader("content-type", "text/plain; version=0.0.4");
      res.end('# TYPE flowlens_test_flows_total counter\nflowlens_test_flows_total{node="n1"} 42\n');
    });
    server.listen(0, "127.0.0.1", () => {
      const a = server.address();
      resolve({ server, port: typeof a === "object" && a ? a.port : 0 });
    });
  });
}

describe("startPrometheus", { skip: skipProm }, () => {
  it("scrapes a target and answers a PromQL query, then cleans up", async () => {
    const { server, port } = await metricsServer();
    const prom = await startPrometheus(
      `
global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [rules.yml]
scrape_configs:
  - job_name: flowlens
    static_configs: [{ targets: ["127.0.0.1:${port}"] }]
`,
      {
        "rules.yml": `
groups:
  - name: test
    rules:
      - record: flowlens:test_flows:sum
        expr: sum(flowlens_test_flows_total)
`,
      },
    );
    try {
      const v = await waitFor(
        "scraped sample",
        async () => {
          const r = await promQuery(prom, 'flowlens_test_flows_total{node="n1"}');
          return r[0]?.value[1];
        },
        { timeoutMs: 20_000, intervalMs: 500 },
      );
      assert.equal(v, "42");
      const rec = await waitFor(
        "recording rule",
        async () => (await promQuery(prom, "flowlens:test_flows:sum"))[0]?.value[1],
        { timeoutMs: 20_000, intervalMs: 500 },
      );
      assert.equal(rec, "42");
    } finally {
      await prom.stop();
      server.close();
    }
    assert.equal(pidAlive(prom.proc.pid), false);
    assert.equal(existsSync(prom.dir), false);
  });
});

describe("startAlertmanager", { skip: skipAm }, () => {
  it("accepts an alert on the v2 API and lists it back", async () => {
    const am = await startAlertmanager(`
route: { receiver: "null", group_wait: 1s }
receivers: [{ name: "null" }]
`);
    try {
      const res = await fetch(`${am.url}/api/v2/alerts`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify([
          { labels: { alertname: "FlowlensTest", severity: "warning" }, annotations: { summary: "test" } },
        ]),
      });
      assert.equal(res.status, 200);
      const alerts = (await (await fetch(`${am.url}/api/v2/alerts`)).json()) as { labels: Record<string, string> }[];
      assert.ok(alerts.some((a) => a.labels.alertname === "FlowlensTest"));
    } finally {
      await am.stop();
    }
    assert.equal(pidAlive(am.proc.pid), false);
  });
});
