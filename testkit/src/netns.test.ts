import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, describe, it } from "node:test";
import { canCreateNamespaces, listNamespaces, NetLab, removeStaleNamespaces } from "./netns.js";
import { pidAlive, run } from "./process.js";
import {
  curl,
  dig,
  iperf3,
  ping,
  startDnsServer,
  startHttpServer,
  startIperfServer,
  startTcpdump,
  tcpreplay,
} from "./traffic.js";

const can = canCreateNamespaces();
const skip = can.ok ? false : `network namespaces unavailable: ${can.reason}`;

describe("NetLab (network namespaces joined by veth)", { skip }, () => {
  removeStaleNamespaces();
  const lab = new NetLab();
  const { a, b, link } = lab.pair("client", "server", 1);
  after(() => lab.destroy());

  it("carries a curl between two namespaces", async () => {
    const http = await startHttpServer(b, 8080, 4096);
    try {
      const res = curl(a, `http://${b.addr}:8080/`);
      assert.deepEqual(res, { status: 200, bytes: 4096 });
    } finally {
      await http.stop();
    }
    assert.equal(pidAlive(http.pid), false);
  });

  it("answers dig from a dnsmasq in the other namespace", async () => {
    const dns = await startDnsServer(b, { "web.flowlens.test": "10.231.1.2" });
    try {
      assert.deepEqual(dig(a, b.addr, "web.flowlens.test"), ["10.231.1.2"]);
    } finally {
      await dns.stop();
    }
  });

  it("pings and runs iperf3 across the veth", async () => {
    assert.equal(ping(a, b.addr, 3), 3);
    const srv = await startIperfServer(b);
    try {
      const { bytes } = iperf3(a, b.addr, { seconds: 1 });
      assert.ok(bytes > 1_000_000, `iperf3 moved only ${bytes} bytes`);
    } finally {
      await srv.stop();
    }
  });

  it("captures a curl with tcpdump and replays it onto the veth with tcpreplay", async () => {
    const http = await startHttpServer(b, 8081, 20_000);
    const cap = await startTcpdump(a, link.aIf, "tcp port 8081");
    try {
      assert.equal(curl(a, `http://${b.addr}:8081/`).status, 200);
    } finally {
      await cap.proc.stop();
      await http.stop();
    }
    const captured = run("tcpdump", ["-r", cap.file, "-n"]).split("\n").filter(Boolean).length;
    assert.ok(captured >= 6, `captured only ${captured} packets of a curl`);

    const seen = await startTcpdump(b, link.bIf, "tcp port 8081");
    const sent = tcpreplay(a, link.aIf, cap.file, { topspeed: true });
    await new Promise((r) => setTimeout(r, 300));
    await seen.proc.stop();
    const replayed = run("tcpdump", ["-r", seen.file, "-n"]).split("\n").filter(Boolean).length;
    assert.equal(sent, captured);
    assert.equal(replayed, captured, "every replayed packet must arrive on the other end");
  });

  it("keeps the lab's interfaces out of the root namespace", () => {
    const links = spawnSync("ip", ["-o", "link", "show"], { encoding: "utf8" }).stdout;
    assert.ok(!links.includes(`fl${lab.id}`), "veth ends must live only inside the lab's namespaces");
    assert.match(a.exec("ip", ["-o", "link", "show"]), new RegExp(`fl${lab.id}0a`));
  });

  it("deletes every namespace on destroy", () => {
    const extra = new NetLab();
    const { a: x, b: y } = extra.pair("x", "y", 2);
    assert.ok(listNamespaces().includes(x.ns));
    extra.destroy();
    const left = listNamespaces();
    assert.ok(!left.includes(x.ns) && !left.includes(y.ns), `left behind: ${left.join(", ")}`);
  });
});
