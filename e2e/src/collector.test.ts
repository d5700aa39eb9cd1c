// `flowlens aggregator` as a collector, run as users run it: a third-party exporter
// (python-ipfix) sends IPFIX over TCP; the exporter's totals show up in the REST API and in
// Prometheus metrics, and the flows the API lists carry Community IDs although the collector
// does not hash records as they arrive.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
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
const skip = havePythonIpfix ? false : "python3-ipfix is not installed (hack/install-deps.sh installs it)";

describe("flowlens aggregator: IPFIX over TCP", { skip }, () => {
  let agg: ManagedProcess;
  let http = 0;
  let tcp = 0;
  const api = async (path: string) => {
    const r = await fetch(`http://127.0.0.1:${http}${path}`);
    assert.equal(r.status, 200, `${path}: ${r.status}`);
    return path === "/metrics" ? r.text() : r.json();
  };

  before(async () => {
    [http, tcp] = [await freePort(), await freePort()];
    // UDP listeners on free ports too, so the test never meets another collector on 2055/4739.
    const [nf, ipfix, sflow] = [await freeUdpPort(), await freeUdpPort(), await freeUdpPort()];
    agg = await readyOrStop(
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
