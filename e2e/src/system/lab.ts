// A small data centre in network namespaces for the end-to-end tests of the running system:
// two "nodes" each running `flowlens agent`, an external host, and a control namespace with
// the aggregator, nats-server and Prometheus. Data links carry the test traffic; management
// links carry flows from the agents to the aggregator and are left out of the capture.
//
//   node1 ──data1── node2          node1, node2: agent on every data link (mgmt excluded)
//     │ data3          │ data2     ext: HTTP, DNS, iperf3 servers
//     └────── ext ─────┘           ctl: aggregator, nats-server, Prometheus
//   node1 ──mgmt1── ctl ──mgmt2── node2
import { join } from "node:path";
import { readPcap } from "@flowlens/agent";
import { type Host, type Link, type ManagedProcess, NetLab, repoRoot, startTcpdump, waitFor } from "@flowlens/testkit";

export const cliBin = join(repoRoot, "cli/dist/main.js");

export interface Topology {
  lab: NetLab;
  node1: Host;
  node2: Host;
  ext: Host;
  ctl: Host;
  data1: Link;
  data2: Link;
  data3: Link;
  mgmt1: Link;
  mgmt2: Link;
  /** The address of ctl on each management link, as the nodes reach it. */
  ctlFromNode1: string;
  ctlFromNode2: string;
}

export function buildTopology(subnetBase: number): Topology {
  const lab = new NetLab();
  const node1 = lab.addHost("node1");
  const node2 = lab.addHost("node2");
  const ext = lab.addHost("ext");
  const ctl = lab.addHost("ctl");
  const net = (i: number) => `10.${subnetBase}.${i}`;
  const data1 = lab.link(node1, node2, { aAddr: `${net(1)}.1/24`, bAddr: `${net(1)}.2/24` });
  const data2 = lab.link(node2, ext, { aAddr: `${net(2)}.1/24`, bAddr: `${net(2)}.2/24` });
  const data3 = lab.link(node1, ext, { aAddr: `${net(3)}.1/24`, bAddr: `${net(3)}.2/24` });
  const mgmt1 = lab.link(ctl, node1, { aAddr: `${net(101)}.1/24`, bAddr: `${net(101)}.2/24` });
  const mgmt2 = lab.link(ctl, node2, { aAddr: `${net(102)}.1/24`, bAddr: `${net(102)}.2/24` });
  return {
    lab,
    node1,
    node2,
    ext,
    ctl,
    data1,
    data2,
    data3,
    mgmt1,
    mgmt2,
    ctlFromNode1: `${net(101)}.1`,
    ctlFromNode2: `${net(102)}.1`,
  };
}

export interface HostTotals {
  bytesSent: number;
  bytesRcvd: number;
  packetsSent: number;
  packetsRcvd: number;
}

/** Per-host totals computed by the offline engine (`flowlens pcap`'s) from tcpdump files. */
export async function totalsFromCaptures(files: string[]): Promise<Map<string, HostTotals>> {
  const totals = new Map<string, HostTotals>();
  const get = (ip: string) => {
    let t = totals.get(ip);
    if (!t) {
      t = { bytesSent: 0, bytesRcvd: 0, packetsSent: 0, packetsRcvd: 0 };
      totals.set(ip, t);
    }
    return t;
  };
  for (const file of files) {
    // Each capture on its own: a flow seen on two links is two flows, as two agents report it.
    const { error } = await readPcap({ files: [file], dpi: false }, (flows) => {
      for (const f of flows) {
        const s = get(f.srcAddr);
        const d = get(f.dstAddr);
        s.bytesSent += f.srcToDstBytes;
        s.packetsSent += f.srcToDstPackets;
        s.bytesRcvd += f.dstToSrcBytes;
        s.packetsRcvd += f.dstToSrcPackets;
        d.bytesSent += f.dstToSrcBytes;
        d.packetsSent += f.dstToSrcPackets;
        d.bytesRcvd += f.srcToDstBytes;
        d.packetsRcvd += f.srcToDstPackets;
      }
    });
    if (error) throw new Error(`reading ${file}: ${error}`);
  }
  return totals;
}

/** GET a JSON document from a server inside a namespace (the test runs outside it). */
export function getJson<T>(host: Host, url: string): T {
  const out = host.exec("curl", ["-sS", "--fail-with-body", "--max-time", "10", url], { timeoutMs: 15_000 });
  return JSON.parse(out) as T;
}

export function getText(host: Host, url: string): string {
  return host.exec("curl", ["-sS", "--fail-with-body", "--max-time", "10", url], { timeoutMs: 15_000 });
}

/** A Prometheus text exposition value: the sum of every series of `name` matching `labels`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

export interface Dumps {
  files: string[];
  stop(): Promise<void>;
}

/** tcpdump on every captured data interface: the reference the agents are held to. */
export async function startDumps(t: Topology): Promise<Dumps> {
  const dumps = await Promise.all([
    startTcpdump(t.node1, t.data1.aIf, "ip"),
    startTcpdump(t.node1, t.data3.aIf, "ip"),
    startTcpdump(t.node2, t.data1.bIf, "ip"),
    startTcpdump(t.node2, t.data2.aIf, "ip"),
  ]);
  return {
    files: dumps.map((d) => d.file),
    async stop() {
      await Promise.all(dumps.map((d) => d.proc.stop()));
    },
  };
}

/**
 * `flowlens agent` inside a node namespace; resolves once it is capturing. Without nDPI unless
 * `dpi` (applications and flow risks cost CPU most tests do not need).
 */
export async function startAgent(
  node: Host,
  name: string,
  mgmtIf: string,
  exportArgs: string[],
  opts: { dpi?: boolean } = {},
): Promise<ManagedProcess> {
  const proc = node.spawn(
    `agent-${name}`,
    process.execPath,
    [
      cliBin,
      "agent",
      "--node",
      name,
      "--exclude-interface",
      mgmtIf,
      "--bpf",
      "ip",
      ...(opts.dpi ? [] : ["--no-dpi"]),
      "--idle-timeout",
      "60",
      "--batch-max-delay",
      "200",
      "--metrics-address",
      "0.0.0.0:9101",
      ...exportArgs,
    ],
    { keepLines: 400 },
  );
  await waitFor(`agent ${name} capturing`, () => proc.output().includes('"agent started"'), {
    proc,
    timeoutMs: 20_000,
  });
  return proc;
}

/** `flowlens aggregator` in the control namespace; resolves once /readyz says ready. */
export async function startAggregator(ctl: Host, args: string[]): Promise<ManagedProcess> {
  const proc = ctl.spawn(
    "aggregator",
    process.execPath,
    [cliBin, "aggregator", "--http-address", "0.0.0.0:3000", ...args],
    {
      keepLines: 400,
    },
  );
  await waitFor(
    "aggregator ready",
    () => {
      try {
        return getJson<{ status: string }>(ctl, "http://127.0.0.1:3000/readyz").status === "ready";
      } catch {
        return false;
      }
    },
    { proc, timeoutMs: 20_000, intervalMs: 200 },
  );
  return proc;
}
