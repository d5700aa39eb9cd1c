import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { listSystemInterfaces, selectInterfaces } from "./interfaces.js";

const ifs = [
  { name: "lo", up: true, loopback: true },
  { name: "eth0", up: true, loopback: false },
  { name: "eth1", up: false, loopback: false },
  { name: "veth1a", up: true, loopback: false },
  { name: "veth2b", up: true, loopback: false },
  { name: "docker0", up: true, loopback: false },
];

describe("interface selection", () => {
  it("defaults to every up, non-loopback interface minus exclusions", () => {
    assert.deepEqual(selectInterfaces(ifs, [], []), ["eth0", "veth1a", "veth2b", "docker0"]);
    assert.deepEqual(selectInterfaces(ifs, [], ["veth*", "docker0"]), ["eth0"]);
  });
  it("expands globs against what exists and keeps explicit names as given", () => {
    assert.deepEqual(selectInterfaces(ifs, ["veth*"], ["veth2?"]), ["veth1a"]);
    assert.deepEqual(selectInterfaces(ifs, ["eth1", "ens9"], []), ["eth1", "ens9"]);
    assert.deepEqual(selectInterfaces(ifs, ["eth.*"], []), [], "a dot in a glob is literal");
  });
  it("reads up/loopback from sysfs flags", () => {
    const dir = mkdtempSync(join(tmpdir(), "sysnet-"));
    const dev = (name: string, flags: string, operstate: string, type = "1") => {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, "flags"), `${flags}\n`);
      writeFileSync(join(dir, name, "operstate"), `${operstate}\n`);
      writeFileSync(join(dir, name, "type"), `${type}\n`);
    };
    dev("lo", "0x9", "unknown", "772");
    dev("eth0", "0x1003", "up");
    dev("eth1", "0x1002", "down");
    dev("tun0", "0x1091", "unknown", "65534");
    const got = Object.fromEntries(listSystemInterfaces(dir).map((i) => [i.name, i]));
    assert.deepEqual(got.lo, { name: "lo", up: true, loopback: true });
    assert.deepEqual(got.eth0, { name: "eth0", up: true, loopback: false });
    assert.deepEqual(got.eth1, { name: "eth1", up: false, loopback: false });
    assert.deepEqual(got.tun0, { name: "tun0", up: true, loopback: false });
  });
});
