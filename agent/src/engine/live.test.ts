// Live capture on a veth between two network namespaces, with real traffic (curl, dig, ping,
// iperf3): the flows seen live equal the flows of a tcpdump capture of the same traffic read by
// the offline engine.
import assert from "node:assert/strict";
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
  NetLab,
  ping,
  removeStaleNamespaces,
  startDnsServer,
  startHttpServer,
  startIperfServer,
  startTcpdump,
  waitFor,
} from "@flowlens/testkit";
import { readPcap } from "./pcap.js";
import type { EngineFlow } from "./records.js";

const can = canCreateNamespaces();
const missing = ["tcpdump", "iperf3", "dnsmasq", "dig", "curl"].filter((c) => !haveCommand(c));
const skip = !can.ok
  ? `network namespaces unavailable: ${can.reason}`
  : missing.length
    ? `missing ${missing.join(", ")}`
    : false;
const captureScript = join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "../testing/capture-live.js");

function key(f: EngineFlow): string {
  return `${f.proto} ${f.srcAddr}:${f.srcPort} > ${f.dstAddr}:${f.dstPort}`;
}

describe("live AF_PACKET capture", { skip }, () => {
  removeStaleNamespaces();
  const lab = new NetLab();
  const { a, b, link } = lab.pair("client", "server", 7);
  let live: ManagedProcess;
  const liveFlows: EngineFlow[] = [];
  let liveStats: { stats: { kernelDrops: number; packets: number }[] } | undefined;
  let pcapFile = "";

  before(async () => {
    const http = await startHttpServer(b, 8080, 50_000);
    const dns = await startDnsServer(b, { "api.flowlens.test": "10.231.7.2" });
    const iperf = await startIperfServer(b);
    const dump = await startTcpdump(b, link.bIf, "ip");
    live = b.spawn("capture", process.execPath, [captureScript, link.bIf, "600000"], { keepLines: 100_000 });
    await waitFor("live capture started", () => live.output().includes("capturing"), { proc: live, timeoutMs: 10_000 });
    await sleep(300);
    for (let i = 0; i < 3; i++) assert.equal(curl(a, `http://${b.addr}:8080/x${i}`).status, 200);
    assert.deepEqual(dig(a, b.addr, "api.flowlens.test"), ["10.231.7.2"]);
    assert.equal(ping(a, b.addr, 4), 4);
    iperf3(a, b.addr, { seconds: 1, bitrate: "50M" }); // a rate tcpdump keeps up with
    await sleep(1500); // final ACKs and FINs, and one block timeout, reach both captures
    await live.stop(10_000);
    await dump.proc.stop();
    await Promise.all([http.stop(), dns.stop(), iperf.stop()]);
    pcapFile = dump.file;
    for (const line of live.output().split("\n")) {
      if (line.startsWith('{"srcAddr"')) liveFlows.push(JSON.parse(line) as EngineFlow);
      else if (line.startsWith('{"stats"')) liveStats = JSON.parse(line);
    }
  });
  after(() => lab.destroy());

  it("sees every flow tcpdump saw, with the same packets and bytes per direction", async () => {
    const offline: EngineFlow[] = [];
    await readPcap({ files: [pcapFile], idleTimeoutMs: 600_000, activeTimeoutMs: 0 }, (f) => offline.push(...f));
    const ours = liveFlows.filter((f) => f.srcAddr.startsWith("10.231.7.") && f.dstAddr.startsWith("10.231.7."));
    const want = offline.filter((f) => f.srcAddr.startsWith("10.231.7."));
    assert.ok(want.length >= 7, `tcpdump saw only ${want.length} flows`);
    const show = (xs: EngineFlow[]) =>
      xs
        .map(
          (f) =>
            `${key(f)} ${f.srcToDstPackets}/${f.dstToSrcPackets} pkts ${f.srcToDstBytes}/${f.dstToSrcBytes} B ${f.l7}`,
        )
        .sort();
    assert.deepEqual(show(ours), show(want));
  });

  it("classified the traffic and measured TCP latency", () => {
    const http = liveFlows.filter((f) => f.dstPort === 8080);
    assert.equal(http.length, 3);
    for (const f of http) {
      assert.equal(f.l7, "HTTP");
      assert.equal(f.endReason, "fin");
      assert.ok(
        f.serverNwLatencyUs !== undefined && f.clientNwLatencyUs !== undefined && f.applLatencyUs !== undefined,
      );
    }
    assert.ok(liveFlows.some((f) => f.l7.startsWith("DNS") && f.info?.dnsQuery === "api.flowlens.test"));
    assert.ok(liveFlows.some((f) => f.proto === 1 && f.srcToDstPackets === 4 && f.dstToSrcPackets === 4));
  });

  it("reports kernel ring statistics without drops", () => {
    assert.ok(liveStats, "final stats printed");
    const s = liveStats.stats[0];
    assert.ok(s && s.packets > 100);
    assert.equal(s.kernelDrops, 0);
  });
});
