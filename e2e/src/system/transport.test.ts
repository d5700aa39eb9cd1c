// The running system end to end: two nodes with `flowlens agent` capturing real traffic, an
// aggregator in its own namespace, flows carried over gRPC (mTLS + token) and over NATS
// JetStream. After the traffic, the aggregator's per-host byte and packet totals must equal,
// exactly, those the offline engine computes from tcpdumps of the same links, even though the
// aggregator (gRPC) or nats-server (NATS) was away for a few seconds in the middle.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  canCreateNamespaces,
  curl,
  dig,
  haveCommand,
  iperf3,
  type ManagedProcess,
  makeTempDir,
  makeTestPki,
  ping,
  promQuery,
  removeStaleNamespaces,
  startDnsServer,
  startHttpServer,
  startIperfServer,
  startNats,
  startPrometheus,
  type TestPki,
  waitFor,
} from "@flowlens/testkit";
import {
  buildTopology,
  type Dumps,
  getJson,
  getText,
  type HostTotals,
  metricValue,
  startAgent,
  startAggregator,
  startDumps,
  type Topology,
  totalsFromCaptures,
} from "./lab.js";

const can = canCreateNamespaces();
const missing = ["tcpdump", "iperf3", "dnsmasq", "dig", "curl", "nats-server", "prometheus", "openssl"].filter(
  (c) => !haveCommand(c),
);
const skip = !can.ok
  ? `network namespaces unavailable: ${can.reason}`
  : missing.length
    ? `missing ${missing.join(", ")}`
    : false;

interface HostRow extends HostTotals {
  ip: string;
}

async function traffic(t: Topology, during?: () => Promise<void>): Promise<void> {
  const ext = t.ext.addresses; // data2 side, data3 side
  const extFromNode2 = ext[0] as string;
  const extFromNode1 = ext[1] as string;
  const node2FromNode1 = t.node2.addresses[0] as string;
  const node1FromNode2 = t.node1.addresses[0] as string;
  const work = async () => {
    for (let i = 0; i < 3; i++) {
      assert.equal(curl(t.node1, `http://${node2FromNode1}:8080/a${i}`).status, 200);
      assert.equal(curl(t.node1, `http://${extFromNode1}:8080/b${i}`).status, 200);
      assert.equal(curl(t.node2, `http://${extFromNode2}:8080/c${i}`).status, 200);
      await sleep(300);
    }
    assert.deepEqual(dig(t.node1, extFromNode1, "svc.flowlens.test"), ["10.9.9.9"]);
    assert.deepEqual(dig(t.node2, extFromNode2, "svc.flowlens.test"), ["10.9.9.9"]);
    assert.equal(ping(t.node2, node1FromNode2, 3), 3);
    iperf3(t.node1, extFromNode1, { seconds: 1, bitrate: "20M" });
    for (let i = 0; i < 3; i++) {
      assert.equal(curl(t.node2, `http://${node1FromNode2}:8080/d${i}`).status, 200);
      await sleep(300);
    }
  };
  await Promise.all([work(), during?.()]);
}

async function expectExactTotals(t: Topology, dumps: Dumps): Promise<void> {
  await dumps.stop();
  const expected = await totalsFromCaptures(dumps.files);
  assert.ok(expected.size >= 6, `the captures hold the test hosts (${[...expected.keys()].join(", ")})`);
  const page = getJson<{ total: number; items: HostRow[] }>(
    t.ctl,
    "http://127.0.0.1:3000/api/v1/hosts?limit=1000&sort=ip&order=asc",
  );
  const got = new Map(page.items.map((h) => [h.ip, h]));
  const diffs: string[] = [];
  for (const [ip, e] of expected) {
    const g = got.get(ip);
    if (!g) {
      diffs.push(`${ip}: missing at the aggregator (expected ${JSON.stringify(e)})`);
      continue;
    }
    for (const k of ["bytesSent", "bytesRcvd", "packetsSent", "packetsRcvd"] as const) {
      if (g[k] !== e[k]) diffs.push(`${ip} ${k}: aggregator ${g[k]}, tcpdump ${e[k]}`);
    }
  }
  for (const ip of got.keys()) if (!expected.has(ip)) diffs.push(`${ip}: at the aggregator only`);
  assert.deepEqual(diffs, [], "per-host totals differ");
}

async function stopAgents(agents: ManagedProcess[]): Promise<void> {
  // SIGTERM: each agent flushes its flow table and delivers its queue before it exits.
  await Promise.all(agents.map((a) => a.stop(15_000)));
  for (const a of agents) assert.match(a.output(), /"agent stopped"/, `${a.name} stopped cleanly`);
}

describe("agents to aggregator, end to end", { skip, timeout: 240_000 }, () => {
  let t: Topology;
  let pki: TestPki;
  let tokenFile = "";
  const servers: ManagedProcess[] = [];

  before(async () => {
    removeStaleNamespaces();
    t = buildTopology(233);
    const dir = makeTempDir("e2e-system");
    pki = makeTestPki(dir);
    tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "s3cret-agent-token\n");
    servers.push(await startHttpServer(t.ext, 8080, 20_000));
    servers.push(await startHttpServer(t.node2, 8080, 5_000));
    servers.push(await startHttpServer(t.node1, 8080, 7_000));
    servers.push(await startDnsServer(t.ext, { "svc.flowlens.test": "10.9.9.9" }));
    servers.push(await startIperfServer(t.ext));
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    t?.lab.destroy();
  });

  it("over gRPC with mTLS and a token: exact per-host totals although the aggregator froze for 3 s", async () => {
    const aggregator = await startAggregator(t.ctl, [
      "--grpc-address",
      "0.0.0.0:9090",
      "--grpc-tls-cert",
      pki.serverCert,
      "--grpc-tls-key",
      pki.serverKey,
      "--grpc-client-ca",
      pki.caCert,
      "--grpc-token-file",
      tokenFile,
    ]);
    const grpcArgs = (ctl: string) => [
      "--grpc-target",
      `${ctl}:9090`,
      "--grpc-ca",
      pki.caCert,
      "--grpc-cert",
      pki.clientCert,
      "--grpc-key",
      pki.clientKey,
      "--grpc-server-name",
      "localhost",
      "--grpc-token-file",
      tokenFile,
    ];
    try {
      const dumps = await startDumps(t);
      const agents = [
        await startAgent(t.node1, "node1", t.mgmt1.bIf, grpcArgs(t.ctlFromNode1)),
        await startAgent(t.node2, "node2", t.mgmt2.bIf, grpcArgs(t.ctlFromNode2)),
      ];
      await traffic(t, async () => {
        await sleep(1000);
        aggregator.child.kill("SIGSTOP");
        await sleep(3000);
        aggregator.child.kill("SIGCONT");
      });
      await stopAgents(agents);
      await expectExactTotals(t, dumps);

      const metrics = getText(t.ctl, "http://127.0.0.1:3000/metrics");
      assert.ok(metricValue(metrics, "flowlens_aggregator_batches_total", { transport: "grpc" }) > 0);
      // The agents' batches are read in C, every one (the JS reader is for what they never send).
      assert.ok(metricValue(metrics, "flowlens_aggregator_decoded_batches_total", { reader: "native" }) > 0);
      assert.equal(metricValue(metrics, "flowlens_aggregator_decoded_batches_total", { reader: "js" }), 0);
      const nodes = getJson<{ items: Array<{ node: string; flows: number }> }>(
        t.ctl,
        "http://127.0.0.1:3000/api/v1/nodes",
      );
      assert.deepEqual(nodes.items.map((n) => n.node).sort(), ["node1", "node2"]);

      // A client with the right certificate but a wrong token is refused, and counted.
      writeFileSync(`${tokenFile}.bad`, "not-the-token\n");
      const before = metricValue(metrics, "flowlens_aggregator_grpc_refused_total");
      const intruder = await startAgent(t.node1, "intruder", t.mgmt1.bIf, [
        ...grpcArgs(t.ctlFromNode1).slice(0, -1),
        `${tokenFile}.bad`,
      ]);
      await waitFor(
        "refusal counted",
        () =>
          metricValue(getText(t.ctl, "http://127.0.0.1:3000/metrics"), "flowlens_aggregator_grpc_refused_total") >
          before,
        { proc: intruder, timeoutMs: 15_000, intervalMs: 300 },
      );
      await intruder.stop(1000);
    } finally {
      await aggregator.stop();
    }
  });

  it("counts what a small export queue drops while the aggregator is frozen, and nothing else goes missing", async () => {
    const aggregator = await startAggregator(t.ctl, ["--grpc-address", "0.0.0.0:9090"]);
    try {
      const agent = await startAgent(t.node1, "node1", t.mgmt1.bIf, [
        "--grpc-target",
        `${t.ctlFromNode1}:9090`,
        "--idle-timeout",
        "1",
        "--queue-max-flows",
        "4",
        "--batch-max-flows",
        "2",
      ]);
      const agentMetrics = () => getText(t.node1, "http://127.0.0.1:9101/metrics");
      aggregator.child.kill("SIGSTOP");
      const server = t.node2.addresses[0] as string;
      for (let i = 0; i < 30; i++) assert.equal(curl(t.node1, `http://${server}:8080/q${i}`).status, 200);
      // Let the flows end (FIN linger, idle timeout) and reach the queue while nobody acks.
      await waitFor(
        "flows exported into the queue",
        () => metricValue(agentMetrics(), "flowlens_agent_flows_exported_total") >= 30,
        {
          timeoutMs: 20_000,
          intervalMs: 300,
        },
      );
      aggregator.child.kill("SIGCONT");
      await waitFor("the queue drained", () => metricValue(agentMetrics(), "flowlens_agent_export_queue_flows") === 0, {
        proc: agent,
        timeoutMs: 40_000,
        intervalMs: 300,
      });
      const m = agentMetrics();
      const exported = metricValue(m, "flowlens_agent_flows_exported_total");
      const dropped = metricValue(m, "flowlens_agent_export_dropped_flows_total", { exporter: "grpc" });
      const acked = metricValue(m, "flowlens_agent_export_flows_acked_total", { exporter: "grpc" });
      assert.ok(
        dropped > 0,
        `the small queue overflowed (${m
          .split("\n")
          .filter((l) => l.includes("export"))
          .join("; ")})`,
      );
      assert.equal(acked + dropped, exported, "every exported flow is either acknowledged or counted as dropped");
      const node = getJson<{ items: Array<{ node: string; records: number }> }>(
        t.ctl,
        "http://127.0.0.1:3000/api/v1/nodes",
      ).items[0];
      // A batch dropped from the queue may already have been on the wire; it then arrives (once).
      assert.ok(
        node && node.records >= acked && node.records <= exported,
        `aggregator has ${node?.records} of ${exported}`,
      );
      await agent.stop();
    } finally {
      aggregator.child.kill("SIGCONT");
      await aggregator.stop();
    }
  });

  it("over NATS JetStream: exact per-host totals although nats-server was down for 3 s; Prometheus agrees", async () => {
    const nats = await startNats({ host: t.ctl });
    const aggregator = await startAggregator(t.ctl, [
      "--grpc-address",
      "",
      "--nats-url",
      `nats://127.0.0.1:${nats.port}`,
    ]);
    let prom: Awaited<ReturnType<typeof startPrometheus>> | undefined;
    try {
      const dumps = await startDumps(t);
      const agents = [
        await startAgent(t.node1, "node1", t.mgmt1.bIf, ["--nats-url", `nats://${t.ctlFromNode1}:${nats.port}`]),
        await startAgent(t.node2, "node2", t.mgmt2.bIf, ["--nats-url", `nats://${t.ctlFromNode2}:${nats.port}`]),
      ];
      prom = await startPrometheus(
        [
          "global: {scrape_interval: 1s}",
          "scrape_configs:",
          "  - job_name: aggregator",
          "    static_configs: [{targets: ['127.0.0.1:3000']}]",
          "  - job_name: agents",
          `    static_configs: [{targets: ['${t.node1.addresses.at(-1)}:9101', '${t.node2.addresses.at(-1)}:9101']}]`,
          "",
        ].join("\n"),
        {},
        t.ctl,
      );
      await traffic(t, async () => {
        await sleep(1000);
        await nats.halt();
        await sleep(3000);
        await nats.restart();
      });
      // Prometheus sees the agents' packet counters while they still run.
      const agentPackets = (host: typeof t.node1) =>
        metricValue(getText(host, "http://127.0.0.1:9101/metrics"), "flowlens_agent_packets_total");
      const direct = agentPackets(t.node1) + agentPackets(t.node2);
      await waitFor(
        "Prometheus scraped the agents' final packet counts",
        async () => {
          const r = await promQuery(prom as NonNullable<typeof prom>, "sum(flowlens_agent_packets_total)");
          return r.length === 1 && Number(r[0]?.value[1]) === direct;
        },
        { timeoutMs: 20_000, intervalMs: 500 },
      );
      await stopAgents(agents);
      await expectExactTotals(t, dumps);

      const expectedBytes = [...(await totalsFromCaptures(dumps.files)).values()].reduce((s, h) => s + h.bytesSent, 0);
      await waitFor(
        "Prometheus scraped the aggregator's byte total",
        async () => {
          const r = await promQuery(prom as NonNullable<typeof prom>, "flowlens_bytes_total");
          return r.length === 1 && Number(r[0]?.value[1]) === expectedBytes;
        },
        { timeoutMs: 20_000, intervalMs: 500 },
      );
      const metrics = getText(t.ctl, "http://127.0.0.1:3000/metrics");
      assert.ok(metricValue(metrics, "flowlens_aggregator_batches_total", { transport: "nats" }) > 0);
    } finally {
      await prom?.stop();
      await aggregator.stop();
      await nats.stop();
    }
  });
});
