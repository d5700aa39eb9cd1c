// Network namespaces as test "nodes" and "hosts", joined by veth pairs. Every namespace is named
// flowlens-<pid>-<lab>-<host>, deleted by destroy(), at process exit, and, if a run was killed,
// by the next run's removeStaleNamespaces(). Only addresses inside these namespaces are used.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { type ManagedProcess, pidAlive, run, type StartOptions, startProcess } from "./process.js";

const PREFIX = "flowlens-";
const liveLabs = new Set<NetLab>();
let hookInstalled = false;

function ip(args: string[]): string {
  return run("ip", args);
}

export function listNamespaces(): string[] {
  const out = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "";
  return out
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter(Boolean);
}

/** Deletes flowlens-* namespaces left by test processes that are no longer running. */
export function removeStaleNamespaces(): string[] {
  const removed: string[] = [];
  for (const ns of listNamespaces()) {
    const m = /^flowlens-(\d+)-/.exec(ns);
    if (m && !pidAlive(Number(m[1]))) {
      spawnSync("ip", ["netns", "del", ns]);
      removed.push(ns);
    }
  }
  return removed;
}

/** Whether this process may create namespaces (root, or CAP_SYS_ADMIN and CAP_NET_ADMIN). */
export function canCreateNamespaces(): { ok: boolean; reason?: string } {
  const probe = `${PREFIX}${process.pid}-probe${randomBytes(2).toString("hex")}`;
  const r = spawnSync("ip", ["netns", "add", probe], { encoding: "utf8" });
  if (r.error) return { ok: false, reason: `iproute2 'ip' not runnable: ${r.error.message}` };
  if (r.status !== 0) return { ok: false, reason: `ip netns add failed: ${r.stderr.trim()}` };
  spawnSync("ip", ["netns", "del", probe]);
  return { ok: true };
}

export class Host {
  readonly addresses: string[] = [];
  constructor(
    readonly name: string,
    readonly ns: string,
  ) {}

  /** Runs a command inside the namespace to completion and returns its stdout. */
  exec(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): string {
    return run("ip", ["netns", "exec", this.ns, cmd, ...args], opts);
  }

  /** Starts a long-running command inside the namespace. */
  spawn(name: string, cmd: string, args: string[], opts: StartOptions = {}): ManagedProcess {
    return startProcess(`${this.name}:${name}`, "ip", ["netns", "exec", this.ns, cmd, ...args], opts);
  }

  /** The first IPv4 address given to this host, without prefix length. */
  get addr(): string {
    const a = this.addresses[0];
    if (!a) throw new Error(`host ${this.name} has no address`);
    return a;
  }
}

export interface LinkOptions {
  /** Address with prefix length for each end, e.g. 10.231.1.1/24. */
  aAddr?: string;
  bAddr?: string;
  mtu?: number;
}

export interface Link {
  aIf: string;
  bIf: string;
}

export class NetLab {
  readonly id = randomBytes(2).toString("hex");
  readonly hosts: Host[] = [];
  private links = 0;
  private destroyed = false;

  constructor() {
    if (!hookInstalled) {
      hookInstalled = true;
      process.on("exit", () => {
        for (const lab of liveLabs) lab.destroy();
      });
    }
    liveLabs.add(this);
  }

  addHost(name: string): Host {
    if (!/^[a-z0-9]{1,12}$/.test(name)) throw new Error(`host name '${name}' must be 1-12 of [a-z0-9]`);
    const ns = `${PREFIX}${process.pid}-${this.id}-${name}`;
    ip(["netns", "add", ns]);
    const h = new Host(name, ns);
    this.hosts.push(h);
    ip(["-n", ns, "link", "set", "lo", "up"]);
    return h;
  }

  /** Joins two hosts with a veth pair; interface names fit IFNAMSIZ. */
  link(a: Host, b: Host, opts: LinkOptions = {}): Link {
    const n = this.links++;
    const aIf = `fl${this.id}${n}a`;
    const bIf = `fl${this.id}${n}b`;
    ip(["link", "add", aIf, "netns", a.ns, "type", "veth", "peer", "name", bIf, "netns", b.ns]);
    for (const [h, ifname, addr] of [
      [a, aIf, opts.aAddr],
      [b, bIf, opts.bAddr],
    ] as const) {
      if (opts.mtu) ip(["-n", h.ns, "link", "set", ifname, "mtu", String(opts.mtu)]);
      if (addr) {
        ip(["-n", h.ns, "addr", "add", addr, "dev", ifname]);
        h.addresses.push(addr.split("/")[0] ?? addr);
      }
      // Offloads would hand the capture 64 KiB super-packets that never crossed the wire.
      spawnSync("ip", ["netns", "exec", h.ns, "ethtool", "-K", ifname, "gro", "off", "tso", "off", "gso", "off"], {
        stdio: "ignore",
      });
      ip(["-n", h.ns, "link", "set", ifname, "up"]);
    }
    return { aIf, bIf };
  }

  /** Two hosts on one /24, the common case. */
  pair(aName = "a", bName = "b", subnet = 1): { a: Host; b: Host; link: Link } {
    const a = this.addHost(aName);
    const b = this.addHost(bName);
    const link = this.link(a, b, { aAddr: `10.231.${subnet}.1/24`, bAddr: `10.231.${subnet}.2/24` });
    return { a, b, link };
  }

  /** Deletes every namespace of this lab (their veths go with them). Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const h of this.hosts) spawnSync("ip", ["netns", "del", h.ns], { stdio: "ignore" });
    liveLabs.delete(this);
  }
}
