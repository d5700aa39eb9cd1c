// Real traffic from real programs, run inside NetLab hosts.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Host } from "./netns.js";
import { type ManagedProcess, makeTempDir, readyOrStop } from "./process.js";

const HTTP_SERVER = `
const http = require("node:http");
const [port, size] = process.argv.slice(1).map(Number);
const body = Buffer.alloc(size, 120);
http.createServer((req, res) => { res.setHeader("content-type", "text/plain"); res.end(body); })
  .listen(port, "0.0.0.0", () => console.log("listening"));
`;

/** A Node.js HTTP server inside `host` answering every request with `size` bytes. */
export async function startHttpServer(host: Host, port = 8080, size = 1024): Promise<ManagedProcess> {
  const p = host.spawn("http", process.execPath, ["-e", HTTP_SERVER, String(port), String(size)]);
  return readyOrStop(p, `HTTP server on ${host.name}:${port}`, () => p.output().includes("listening"));
}

/** curl from `host`; returns the HTTP status code and bytes downloaded. */
export function curl(host: Host, url: string): { status: number; bytes: number } {
  const out = host.exec("curl", [
    "-sS",
    "--max-time",
    "10",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code} %{size_download}",
    url,
  ]);
  const [status, bytes] = out.trim().split(" ").map(Number);
  return { status: status ?? 0, bytes: bytes ?? 0 };
}

/** dnsmasq inside `host` (on each of its addresses) answering `records` (name -> IPv4), nothing else. */
export async function startDnsServer(host: Host, records: Record<string, string>): Promise<ManagedProcess> {
  const args = [
    "--keep-in-foreground",
    "--no-resolv",
    "--no-hosts",
    "--no-daemon",
    "--port=53",
    "--bind-interfaces",
    "--log-queries",
    "--pid-file=",
  ];
  for (const a of host.addresses.length > 0 ? host.addresses : [host.addr]) args.push(`--listen-address=${a}`);
  for (const [name, addr] of Object.entries(records)) args.push(`--address=/${name}/${addr}`);
  const p = host.spawn("dnsmasq", "dnsmasq", args);
  return readyOrStop(p, `dnsmasq on ${host.name}`, () => p.output().includes("started"));
}

/** dig from `host`: the answers (dig +short), empty for NXDOMAIN. */
export function dig(host: Host, server: string, name: string, type = "A"): string[] {
  return host
    .exec("dig", ["+short", "+time=2", "+tries=1", `@${server}`, name, type])
    .split("\n")
    .filter(Boolean);
}

/** ping from `host`; returns packets received. */
export function ping(host: Host, addr: string, count = 3): number {
  const out = host.exec("ping", ["-c", String(count), "-i", "0.2", "-W", "2", addr]);
  const m = /(\d+) received/.exec(out);
  return m ? Number(m[1]) : 0;
}

/** An iperf3 server inside `host` (one test, then it exits). */
export async function startIperfServer(host: Host, port = 5201): Promise<ManagedProcess> {
  // --forceflush: iperf3 block-buffers its banner when stdout is a pipe.
  const p = host.spawn("iperf3-server", "iperf3", ["-s", "-1", "--forceflush", "-p", String(port), "-B", host.addr]);
  return readyOrStop(p, `iperf3 server on ${host.name}`, () => p.output().includes("Server listening"));
}

/** An iperf3 client run; returns bytes the receiver counted. */
export function iperf3(
  host: Host,
  server: string,
  opts: { seconds?: number; udp?: boolean; bitrate?: string; port?: number } = {},
): { bytes: number } {
  const args = ["-c", server, "-p", String(opts.port ?? 5201), "-t", String(opts.seconds ?? 1), "-J"];
  if (opts.udp) args.push("-u");
  if (opts.bitrate) args.push("-b", opts.bitrate);
  const res = JSON.parse(host.exec("iperf3", args, { timeoutMs: ((opts.seconds ?? 1) + 15) * 1000 })) as {
    end: { sum_received?: { bytes: number }; sum?: { bytes: number } };
  };
  return { bytes: res.end.sum_received?.bytes ?? res.end.sum?.bytes ?? 0 };
}

/** Replays a capture onto an interface of `host` with tcpreplay; returns packets sent. */
export function tcpreplay(
  host: Host,
  iface: string,
  pcap: string,
  opts: { topspeed?: boolean; pps?: number; loop?: number } = {},
): number {
  const args = [`--intf1=${iface}`];
  if (opts.topspeed) args.push("--topspeed");
  if (opts.pps) args.push(`--pps=${opts.pps}`);
  if (opts.loop) args.push(`--loop=${opts.loop}`);
  args.push(pcap);
  const out = host.exec("tcpreplay", args, { timeoutMs: 300_000 });
  const m = /Actual: (\d+) packets/.exec(out);
  return m ? Number(m[1]) : 0;
}

/** tcpdump on an interface of `host` writing a pcap; stop() the process to finish the file. */
export async function startTcpdump(
  host: Host,
  iface: string,
  filter = "",
): Promise<{ proc: ManagedProcess; file: string }> {
  const dir = makeTempDir("tcpdump");
  const file = join(dir, "capture.pcap");
  writeFileSync(file, "");
  const args = ["-i", iface, "-U", "-n", "-B", "65536", "-w", file, "--immediate-mode"];
  if (filter) args.push(filter);
  const proc = host.spawn("tcpdump", "tcpdump", args);
  await readyOrStop(proc, `tcpdump on ${host.name}:${iface}`, () => proc.output().includes("listening on"));
  return { proc, file };
}
