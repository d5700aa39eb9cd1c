import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, describe, it } from "node:test";
import { canCreateNamespaces, listNamespaces, NetLab, removeStaleNamespaces } from "./netns.js";
import { pidAlive } from "./process.js";
import { curl, dig, iperf3, ping, startDnsServer, startHttpServer, startIperfServer } from "./traffic.js";

const can = canCreateNamespaces();
const skip = can.ok ? false : `network namespaces unavailable: ${can.reason}`;

describe("NetLab (network namespaces joined by veth)", { skip }, () => {
  removeStaleNamespaces();
  const lab = new NetLab();
  const { a, b } = lab.pair("client", "server", 1);
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
