import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CidrError, LocalNetworks } from "./networks.js";

describe("LocalNetworks", () => {
  const nets = new LocalNetworks(["10.0.0.0/8", "192.168.1.0/24", "fd00::/8", "2001:db8:1::/48", "203.0.113.7"]);

  it("matches IPv4 addresses by prefix and names the network", () => {
    assert.equal(nets.match("10.200.3.4"), "10.0.0.0/8");
    assert.equal(nets.match("192.168.1.255"), "192.168.1.0/24");
    assert.equal(nets.match("192.168.2.1"), undefined);
    assert.equal(nets.match("203.0.113.7"), "203.0.113.7");
    assert.equal(nets.match("203.0.113.8"), undefined);
  });

  it("matches IPv6 addresses, compressed or with an IPv4 tail", () => {
    assert.equal(nets.match("fd12:3456::1"), "fd00::/8");
    assert.equal(nets.match("2001:db8:1:ffff::1"), "2001:db8:1::/48");
    assert.equal(nets.match("2001:db8:2::1"), undefined);
    assert.equal(new LocalNetworks(["::ffff:0:0/96"]).match("::ffff:10.1.2.3"), "::ffff:0:0/96");
  });

  it("treats /0 as everything and garbage as not local", () => {
    const all = new LocalNetworks(["0.0.0.0/0"]);
    assert.ok(all.isLocal("8.8.8.8"));
    for (const bad of ["", "10.0.0", "10.0.0.256", "1.2.3.4.5", "x", "::g", "1:2:3:4:5:6:7:8:9"]) {
      assert.equal(nets.isLocal(bad), false, bad);
    }
  });

  it("rejects bad CIDRs with the offending entry in the message", () => {
    for (const bad of [
      "10.0.0.0/33",
      "10.0.0/8",
      "fd00::/129",
      "banana",
      "10.0.0.0/",
      "10.0.0.0/8.5",
      "1.2.3.4/8/9",
      "10.0.0.0/ 8",
      "10.0.0.0/-1",
    ]) {
      assert.throws(
        () => new LocalNetworks([bad]),
        (e: Error) => e instanceof CidrError && e.message.includes(bad),
        bad,
      );
    }
  });
});
