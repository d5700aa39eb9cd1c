// The Grafana dashboard queries only metrics that a running `flowlens aggregator` and
// `flowlens agent` really expose (their /metrics, scraped here), and the chart ships it as the
// ConfigMap Grafana's sidecar picks up. The operator's metrics are checked against the running
// operator in chart.test.ts.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  freePorts,
  type ManagedProcess,
  makeTempDir,
  removeTempDir,
  repoRoot,
  startProcess,
  waitFor,
} from "@flowlens/testkit";
import {
  allPanels,
  dashboardFiles,
  dashboardsDir,
  exposedSeriesNames,
  loadDashboard,
  promqlMetricNames,
} from "./dashboard.js";
import { Helm } from "./helm.js";
import { parseManifests } from "./manifests.js";

const bin = join(repoRoot, "cli/dist/main.js");
const OPERATOR_PREFIX = "flowlens_operator_";
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template
const DATASOURCE_VARIABLE = "${datasource}";
// Capturing on lo opens an AF_PACKET socket.
const captureSkip = process.getuid?.() === 0 ? false : "the agent captures on lo, which needs root (CAP_NET_RAW)";

function dashboardMetrics(): Map<string, string[]> {
  const used = new Map<string, string[]>();
  for (const file of dashboardFiles()) {
    for (const p of allPanels(loadDashboard(file))) {
      for (const t of p.targets ?? []) {
        const names = promqlMetricNames(t.expr);
        assert.ok(names.length > 0, `${file} panel '${p.title}': '${t.expr}' reads no flowlens_ metric`);
        for (const n of names) used.set(n, [...(used.get(n) ?? []), `${file}: ${p.title}`]);
      }
    }
  }
  return used;
}

async function scrape(url: string): Promise<string> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.text();
}

describe("Grafana dashboard", () => {
  it("is well formed: unique ids, the datasource variable everywhere, panels on the 24-column grid", () => {
    const files = dashboardFiles();
    assert.ok(files.length > 0, `no dashboards in ${dashboardsDir}`);
    const uids = new Set<string>();
    for (const file of files) {
      const d = loadDashboard(file);
      assert.ok(d.uid && !uids.has(d.uid), `${file}: uid '${d.uid}' missing or reused`);
      uids.add(d.uid);
      assert.ok(d.templating.list.some((v) => v.name === "datasource" && v.type === "datasource"));
      const ids = new Set<number>();
      for (const p of allPanels(d)) {
        assert.ok(!ids.has(p.id), `${file}: panel id ${p.id} reused`);
        ids.add(p.id);
        assert.ok(p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24, `${file}: '${p.title}' off the grid`);
        if (p.type === "row") continue;
        assert.equal(p.datasource?.uid, DATASOURCE_VARIABLE, `${file}: '${p.title}' does not use $datasource`);
        assert.ok((p.targets ?? []).length > 0, `${file}: '${p.title}' has no query`);
      }
    }
  });

  describe("metric names against running daemons", () => {
    let dir: string;
    let aggregator: ManagedProcess | undefined;
    let agent: ManagedProcess | undefined;
    let ports: number[];
    before(async () => {
      dir = makeTempDir("dashboard");
      ports = await freePorts(4);
      const [grpc, http, netflow] = ports as [number, number, number, number];
      // As the operator configures it: gRPC ingest and a NetFlow/IPFIX listener.
      aggregator = startProcess("aggregator", process.execPath, [
        bin,
        "aggregator",
        "--grpc-address",
        `127.0.0.1:${grpc}`,
        "--http-address",
        `127.0.0.1:${http}`,
        "--netflow-port",
        String(netflow),
        "--ipfix-port",
        "0",
        "--sflow-port",
        "0",
        "--collector-address",
        "127.0.0.1",
      ]);
      const proc = aggregator;
      await waitFor("aggregator /readyz", async () => (await fetch(`http://127.0.0.1:${http}/readyz`)).ok, {
        proc,
        timeoutMs: 20_000,
      });
    });
    after(async () => {
      await agent?.stop();
      await aggregator?.stop();
      removeTempDir(dir);
    });

    it("every aggregator and agent metric the dashboard reads is on their /metrics", {
      skip: captureSkip,
    }, async () => {
      const [grpc, http, , agentMetrics] = ports as [number, number, number, number];
      agent = startProcess("agent", process.execPath, [
        bin,
        "agent",
        "--interface",
        "lo",
        "--grpc-target",
        `127.0.0.1:${grpc}`,
        "--metrics-address",
        `127.0.0.1:${agentMetrics}`,
      ]);
      const proc = agent;
      await waitFor("agent /healthz", async () => (await fetch(`http://127.0.0.1:${agentMetrics}/healthz`)).ok, {
        proc,
        timeoutMs: 20_000,
      });
      const exposed = new Set([
        ...exposedSeriesNames(await scrape(`http://127.0.0.1:${http}/metrics`)),
        ...exposedSeriesNames(await scrape(`http://127.0.0.1:${agentMetrics}/metrics`)),
      ]);
      assert.ok(exposed.has("flowlens_flows_total") && exposed.has("flowlens_agent_packets_total"));
      const used = dashboardMetrics();
      const missing = [...used]
        .filter(([name]) => !name.startsWith(OPERATOR_PREFIX) && !exposed.has(name))
        .map(([name, where]) => `${name} (${where.join("; ")})`);
      assert.deepEqual(missing, [], "the dashboard reads metrics no daemon exposes");
      // The dashboard covers each daemon: a panel for the traffic, the agents and the aggregators.
      for (const prefix of ["flowlens_agent_", "flowlens_aggregator_", "flowlens_bytes_total"]) {
        assert.ok(
          [...used.keys()].some((n) => n.startsWith(prefix)),
          `no panel reads ${prefix}*`,
        );
      }
    });
  });

  it("ships in a ConfigMap with Grafana's sidecar label, the JSON unchanged", () => {
    const dir = makeTempDir("dashboard-cm");
    try {
      const helm = new Helm(dir);
      const all = parseManifests(helm.render({ dashboards: { namespace: "monitoring" } }));
      const maps = all.filter((m) => m.kind === "ConfigMap" && m.metadata.labels?.grafana_dashboard === "1");
      assert.equal(maps.length, dashboardFiles().length);
      for (const file of dashboardFiles()) {
        const cm = maps.find((m) => (m.data as Record<string, string>)[file] !== undefined);
        assert.ok(cm, `no ConfigMap holds ${file}`);
        assert.equal(cm.metadata.namespace, "monitoring");
        assert.equal(
          (cm.data as Record<string, string>)[file],
          readFileSync(join(dashboardsDir, file), "utf8").replace(/\n$/, ""),
        );
      }
      const off = parseManifests(helm.render({ dashboards: { enabled: false } }));
      assert.equal(
        off.some((m) => m.metadata.labels?.grafana_dashboard !== undefined),
        false,
      );
    } finally {
      removeTempDir(dir);
    }
  });
});
