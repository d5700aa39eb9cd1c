// `flowlens aggregator` as a collector, run as users run it: a third-party exporter
// (python-ipfix) sends IPFIX over TCP; the exporter's totals show up in the REST API and in
// Prometheus metrics, and the flows the API lists carry Community IDs although the collector
// does not hash records as they arrive. A real sFlow agent's datagram, sent over UDP, shows up
// the same way, with the Community IDs `flowlens collect` gives its samples.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readUdpDatagrams } from "@flowlens/aggregator";
import {
  exportIpfixOverTcp,
  freePort,
  freeUdpPort,
  havePythonIpfix,
  type ManagedProcess,
  readyOrStop,
  repoRoot,
  startProcess,
  waitFor,
} from "@flowlens/testkit";

const bin = join(repoRoot, "cli/dist/main.js");
const SFLOW_CAPTURE = join(repoRoot, "../shared/testdata/flowexports/akvorado/sflow_data-1140.pcap");

/** An aggregator with every collector listener on a free port, and its HTTP API. */
async function startAggregator() {
  const http = await freePort();
  const tcp = await freePort();
  // UDP listeners on free ports too, so the test never meets another collector on 2055/4739.
  const [nf, ipfix, sflow] = [await freeUdpPort(), await freeUdpPort(), await freeUdpPort()];
  const proc = await readyOrStop(
    startProcess("aggregator", process.execPath, [
      bin,
      "aggregator",
      "--grpc-address=",
      `--http-address=127.0.0.1:${http}`,
      "--collector-address=127.0.0.1",
      `--netflow-port=${nf}`,
      `--ipfix-port=${ipfix}`,
      `--sflow-port=${sflow}`,
      `--ipfix-tcp-port=${tcp}`,
    ]),
    "aggregator ready",
    () =>
      fetch(`http://127.0.0.1:${http}/readyz`).then(
        (r) => r.ok,
        () => false,
      ),
  );
  const api = async (path: string) => {
    const r = await fetch(`http://127.0.0.1:${http}${path}`);
    assert.equal(r.status, 200, `${path}: ${r.status}`);
    return path === "/metrics" ? r.text() : r.json();
  };
  return { proc, api, tcp, sflow };
}

const skip = havePythonIpfix ? false : "python3-ipfix is not installed (hack/install-deps.sh installs it)";

describe("flowlens aggregator: IPFIX over TCP", { skip }, () => {
  let agg: ManagedProcess;
  let tcp = 0;
  let api: Awaited<ReturnType<typeof startAggregator>>["api"];

  before(async () => {
    const a = await startAggregator();
    agg = a.proc;
    api = a.api;
    tcp = a.tcp;
  });
  after(() => agg?.stop());

  it("counts every record the exporter sent, per exporter, in the API and metrics", async () => {
    const sent = exportIpfixOverTcp(tcp, 2000, [1]);
    await waitFor("records applied", async () => {
      const m = (await api("/metrics")) as string;
      return new RegExp(`^flowlens_aggregator_ipfix_tcp_records_total ${sent.records}$`, "m").test(m);
    });
    const exporters = (await api("/api/v1/exporters")) as {
      items: { exporter: string; bytes: number; packets: number }[];
    };
    const e = exporters.items.find((x) => x.exporter === "127.0.0.1");
    assert.ok(e, JSON.stringify(exporters));
    assert.equal(e.bytes, sent.octets);
    assert.equal(e.packets, sent.packets);
    const flows = (await api("/api/v1/flows?limit=5")) as { items: { communityId: string; exportVersion: string }[] };
    assert.equal(flows.items.length, 5);
    for (const f of flows.items) assert.match(f.communityId, /^1:[A-Za-z0-9+/]{27}=$/);
  });
});

describe("flowlens aggregator: sFlow v5 over UDP", () => {
  let agg: ManagedProcess;
  let api: Awaited<ReturnType<typeof startAggregator>>["api"];
  let port = 0;
  before(async () => {
    const a = await startAggregator();
    agg = a.proc;
    api = a.api;
    port = a.sflow;
  });
  after(() => agg?.stop());

  it("lists a real agent's samples as flows with the Community IDs flowlens collect gives them", async () => {
    type Shown = { srcAddr: string; srcPort: number; dstAddr: string; dstPort: number; communityId: string };
    const expected = execFileSync(process.execPath, [bin, "collect", "--pcap", SFLOW_CAPTURE], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    })
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Shown);
    assert.equal(expected.length, 5, "the capture's flow samples");
    const socket = createSocket("udp4");
    try {
      for (const { payload: d } of readUdpDatagrams(SFLOW_CAPTURE).datagrams)
        await new Promise<void>((resolve, reject) =>
          socket.send(d, port, "127.0.0.1", (err) => (err ? reject(err) : resolve())),
        );
    } finally {
      socket.close();
    }
    await waitFor("records applied", async () =>
      /^flowlens_aggregator_collector_records_total 5$/m.test((await api("/metrics")) as string),
    );
    const key = (f: Shown) => `${f.srcAddr} ${f.srcPort} ${f.dstAddr} ${f.dstPort}`;
    const shown = (await api("/api/v1/flows?limit=50")) as { items: Shown[] };
    assert.deepEqual(
      new Map(shown.items.map((f) => [key(f), f.communityId])),
      new Map(expected.map((f) => [key(f), f.communityId])),
    );
  });
});
