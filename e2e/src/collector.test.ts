// `flowlens aggregator` as a collector, run as users run it: a third-party exporter
// (python-ipfix) sends IPFIX over TCP; the exporter's totals show up in the REST API and in
// Prometheus metrics, and the flows the API lists carry Community IDs although the collector
// does not hash records as they arrive. A real sFlow agent's datagram, sent over UDP, shows up
// the same way, with the Community IDs `flowlens collect` gives its samples. And `flowlens
// collect --listen`, the collector on its own, writes what it receives as `collect --pcap`
// decodes the same datagrams.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { delimitedRanges, readUdpDatagrams } from "@flowlens/aggregator";
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
const IPFIX_CAPTURE = join(repoRoot, "../shared/testdata/flowexports/ipfixcol2/example_flows.ipfix.pcap");

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

/** The NDJSON flows of a capture as `flowlens collect --pcap` prints them. */
function collectPcap(file: string): Array<Record<string, unknown>> {
  return execFileSync(process.execPath, [bin, "collect", "--pcap", file], {
    encoding: "utf8",
    maxBuffer: 64 << 20,
    stdio: ["ignore", "pipe", "ignore"],
  })
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("flowlens collect --listen", () => {
  const dir = mkdtempSync(join(tmpdir(), "flowlens-collect-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("writes what exporters send, as collect --pcap decodes the same datagrams, and reads it back", async () => {
    const ipfix = collectPcap(IPFIX_CAPTURE);
    const sflow = collectPcap(SFLOW_CAPTURE);
    assert.equal(ipfix.length, 3979, "the IPFIX capture's records");
    const out = join(dir, "flows.pb");
    const port = await freeUdpPort();
    const proc = startProcess("collect", process.execPath, [
      bin,
      "collect",
      "--listen",
      `127.0.0.1:${port}`,
      "--format",
      "protobuf",
      "--output",
      out,
    ]);
    await readyOrStop(proc, "collect listening", () => proc.output().includes(`listening on udp 127.0.0.1:${port}`));
    const socket = createSocket("udp4");
    try {
      // Both formats to the one port: the collector tells them apart by their headers.
      for (const file of [IPFIX_CAPTURE, SFLOW_CAPTURE])
        for (const { payload: d } of readUdpDatagrams(file).datagrams)
          await new Promise<void>((resolve, reject) =>
            socket.send(d, port, "127.0.0.1", (err) => (err ? reject(err) : resolve())),
          );
    } finally {
      socket.close();
    }
    // Written within a second of arriving, although far less than a chunk.
    const expected = ipfix.length + sflow.length;
    await waitFor(
      "records written",
      () => existsSync(out) && [...delimitedRanges(readFileSync(out))].length === expected,
      {
        proc,
      },
    );
    await proc.stop();
    assert.match(proc.output(), /socket drops 0/);
    assert.match(proc.output(), new RegExp(`records ${expected}, options records 0, templates 8`));
    const read = execFileSync(process.execPath, [bin, "collect", "--read", out], {
      encoding: "utf8",
      maxBuffer: 64 << 20,
      stdio: ["ignore", "pipe", "ignore"],
    })
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(read.length, expected);
    // The exporter of a NetFlow/IPFIX record is the datagram's source (here loopback, in the
    // capture the device); an sFlow record's times are when its datagram arrived.
    const withoutExporter = ({ exporter: _, ...f }: Record<string, unknown>) => f;
    const withoutTimes = ({ firstSeenMs: _a, lastSeenMs: _b, ...f }: Record<string, unknown>) => f;
    assert.ok(read.slice(0, ipfix.length).every((f) => f.exporter === "127.0.0.1"));
    assert.deepEqual(read.slice(0, ipfix.length).map(withoutExporter), ipfix.map(withoutExporter));
    assert.deepEqual(read.slice(ipfix.length).map(withoutTimes), sflow.map(withoutTimes));
  });

  it("refuses what it cannot listen on, and bad endpoints, with one line", async () => {
    const port = await freeUdpPort();
    const holder = createSocket("udp4");
    await new Promise<void>((resolve) => holder.bind(port, "127.0.0.1", resolve));
    try {
      const taken = spawnSync(process.execPath, [bin, "collect", "--listen", `127.0.0.1:${port}`], {
        encoding: "utf8",
      });
      assert.equal(taken.status, 1, taken.stderr);
      assert.match(
        taken.stderr,
        new RegExp(`^flowlens: collect: cannot listen on udp 127.0.0.1:${port}: .*EADDRINUSE`, "m"),
      );
    } finally {
      holder.close();
    }
    for (const bad of ["host:2055", "70000", "[::1:2055", "1.2.3.4:"]) {
      const r = spawnSync(process.execPath, [bin, "collect", "--listen", bad], { encoding: "utf8" });
      assert.equal(r.status, 2, `${bad}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  });
});
