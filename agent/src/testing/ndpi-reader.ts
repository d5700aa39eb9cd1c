// Test utility: run nDPI's reference tool `ndpiReader` (Debian libndpi-bin 4.2) on a capture, parse
// its flow listing, and compare that flow set with the flow records of our engine.
//
// ndpiReader facts this module relies on (checked against 4.2.0 on the nDPI test captures):
// - `-v 2` prints every flow, one line each: first the detected flows, then (after a line
//   "Undetected flows:") the undetected ones, each list numbered from 1. `-q` only hides the banner
//   and the statistics; the flow lines are the same, so we do not pass it (we want the statistics).
// - The flow line names the endpoints in the order of the flow's first packet: a = initiator.
//   IPv6 addresses are bracketed (`[2a00::1]:443`); portless protocols print port 0. The L4
//   protocol is printed as TCP, UDP, ICMP, ICMPV6, IGMP or VRRP, any other as its number ("47").
// - The arrow is `->` when b never answered (0 pkts/0 bytes), `<->` otherwise.
// - Per-direction bytes are FRAME bytes (pcap header len), not IP bytes.
// - `[cat: ...]` is omitted for category 0 ("Unspecified"), i.e. for Unknown flows.
// - The exit status is 0 even when the capture cannot be opened ("ERROR: could not open ...") or
//   has an unsupported link type ("Unsupported datalink 192. Skip pcap"); when no packet was
//   processed, no statistics are printed at all.
// - It writes /tmp/ses_result.csv and /tmp/des_result.csv (fixed paths) and nothing in its cwd.
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { FlowRecord } from "@flowlens/contracts";

/** Where Debian's libndpi-bin installs ndpiReader. */
export const NDPI_READER_PATH = "/usr/bin/ndpiReader";

export interface NdpiEndpoint {
  addr: string;
  port: number;
}

export interface NdpiCounters {
  packets: number;
  /** Frame bytes (pcap header len). */
  bytes: number;
}

export interface NdpiFlow {
  /** The number ndpiReader printed in front of the line (restarts at 1 in the undetected list). */
  index: number;
  section: "detected" | "undetected";
  /** IANA protocol number. */
  proto: number;
  /** The protocol as printed ("TCP", "ICMPV6", "47"). */
  protoName: string;
  /** The initiator (first packet's source) as ndpiReader saw it. */
  a: NdpiEndpoint;
  b: NdpiEndpoint;
  vlan: number;
  /** Tunnel the flow was found in, when ndpiReader decapsulated it (e.g. "GTP" with `-t`). */
  tunnel?: string;
  /** The numeric form, e.g. "91.26" (master.app) or "7". */
  appId: string;
  /** The application as ndpi_protocol2name prints it, e.g. "TLS.ntop", "HTTP", "Unknown". */
  app: string;
  /** The master protocol name, e.g. "TLS" for "TLS.ntop"; equal to app when there is no master. */
  masterApp: string;
  category: string;
  categoryId: number;
  encrypted?: boolean;
  confidence?: string;
  aToB: NdpiCounters;
  bToA: NdpiCounters;
  hostname?: string;
  ja3c?: string;
  ja3s?: string;
  risks?: string[];
  raw: string;
}

export interface NdpiProtocolStat {
  name: string;
  packets: number;
  bytes: number;
  flows: number;
}

export interface NdpiStats {
  ethernetBytes?: number;
  discardedBytes?: number;
  ipPackets?: number;
  totalPackets?: number;
  ipBytes?: number;
  uniqueFlows?: number;
  tcpPackets?: number;
  udpPackets?: number;
  vlanPackets?: number;
  mplsPackets?: number;
  pppoePackets?: number;
  fragmentedPackets?: number;
  maxPacketSize?: number;
  guessedFlowProtos?: number;
  dpiPackets: { tcp?: number; udp?: number; other?: number };
  /** "Confidence: <name> N (flows)" lines, e.g. { DPI: 175, "Match by port": 5 }. */
  confidence: Record<string, number>;
  /** Every "key: value" line of the "Traffic statistics" section, value as printed (trimmed). */
  raw: Record<string, string>;
}

export interface NdpiParsed {
  /** e.g. "4.2.0", from "Using nDPI (4.2.0)". */
  version?: string;
  flows: NdpiFlow[];
  /** Lines that look like flow lines but could not be parsed. */
  unparsed: string[];
  /** undefined when the output has no "Traffic statistics" section (nothing was processed). */
  stats?: NdpiStats;
  detectedProtocols: NdpiProtocolStat[];
  /** Errors/warnings ndpiReader printed, and consistency problems found while parsing. */
  diagnostics: string[];
  /** Statistics present, nothing unparsed, and "Unique flows" equals the number of flows parsed. */
  complete: boolean;
}

export interface NdpiResult extends NdpiParsed {
  pcapPath: string;
  args: string[];
  stdout: string;
  stderr: string;
}

export interface RunNdpiReaderOptions {
  /** Default NDPI_READER_PATH. */
  binary?: string;
  /** `-t`: decapsulate GTP/TZSP/CAPWAP (4.2 never decapsulates GRE or VXLAN). Default false. */
  decodeTunnels?: boolean;
  /** `-I`: ignore the VLAN id when building flows. Default false. */
  ignoreVlan?: boolean;
  extraArgs?: readonly string[];
  /** Default 120 s. */
  timeoutMs?: number;
}

/** Whether the ndpiReader binary exists and is executable. */
export function ndpiReaderAvailable(binary: string = NDPI_READER_PATH): boolean {
  try {
    accessSync(binary, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const protoNumbers: ReadonlyMap<string, number> = new Map([
  ["ICMP", 1],
  ["IGMP", 2],
  ["TCP", 6],
  ["UDP", 17],
  ["GRE", 47],
  ["ESP", 50],
  ["AH", 51],
  ["ICMPV6", 58],
  ["OSPF", 89],
  ["PIM", 103],
  ["VRRP", 112],
  ["SCTP", 132],
]);
const protoNames: ReadonlyMap<number, string> = new Map([...protoNumbers].map(([k, v]) => [v, k]));

/** IANA number for a protocol as ndpiReader prints it, undefined if unknown. */
export function ndpiProtoNumber(name: string): number | undefined {
  if (/^\d{1,3}$/.test(name)) {
    const n = Number(name);
    return n <= 255 ? n : undefined;
  }
  return protoNumbers.get(name.toUpperCase());
}

const endpointRe = /^(?:\[([0-9A-Fa-f:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/;

function parseEndpoint(s: string): NdpiEndpoint | undefined {
  const m = endpointRe.exec(s);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  const addr = m[1] ?? m[2];
  return addr === undefined ? undefined : { addr, port };
}

const flowHeadRe = /^\t(\d+)\t(\S+) (\S+) (<->|->) (\S+) (\[.*)$/;
const countersRe = /^(\d+) pkts\/(\d+) bytes (<->|->) (\d+) pkts\/(\d+) bytes$/;
const protoFieldRe = /^proto: (?:([A-Za-z][A-Za-z0-9_-]*):)?(\d+(?:\.\d+)?)\/(.+)$/;

/**
 * Parses one flow line of `ndpiReader -v 2` (4.2; the richer 4.11 lines parse too). Returns
 * undefined when the line is not a well-formed flow line.
 */
export function parseFlowLine(line: string, section: NdpiFlow["section"] = "detected"): NdpiFlow | undefined {
  const text = line.replace(/\r$/, "");
  const m = flowHeadRe.exec(text);
  if (!m) return undefined;
  const [, index, protoName, aText, arrow, bText, rest] = m;
  if (index === undefined || protoName === undefined || aText === undefined || bText === undefined) return undefined;
  if (rest === undefined || arrow === undefined) return undefined;
  const proto = ndpiProtoNumber(protoName);
  const a = parseEndpoint(aText);
  const b = parseEndpoint(bText);
  if (proto === undefined || !a || !b) return undefined;

  // The head fields up to and including the counters never contain brackets; walk them one by one.
  const fieldRe = /\[([^[\]]*)\]/y;
  let vlan = 0;
  let app: { tunnel?: string; id: string; name: string } | undefined;
  let category: { name: string; id: number } | undefined;
  let encrypted: boolean | undefined;
  let confidence: string | undefined;
  let counters: RegExpExecArray | null = null;
  let pos = 0;
  while (!counters) {
    fieldRe.lastIndex = pos;
    const f = fieldRe.exec(rest);
    if (!f || f[1] === undefined) return undefined;
    pos = fieldRe.lastIndex;
    const body = f[1];
    const vlanField = /^VLAN: (\d+)$/.exec(body);
    const protoField = protoFieldRe.exec(body);
    const catField = /^cat: (.+)\/(\d+)$/.exec(body);
    const confField = /^Confidence: (.+)$/.exec(body);
    if (vlanField) {
      vlan = Number(vlanField[1]);
    } else if (protoField) {
      if (app) return undefined;
      app = { id: protoField[2] ?? "", name: protoField[3] ?? "" };
      if (protoField[1]) app.tunnel = protoField[1];
    } else if (catField) {
      category = { name: catField[1] ?? "", id: Number(catField[2]) };
    } else if (body === "Encrypted" || body === "ClearText") {
      encrypted = body === "Encrypted";
    } else if (confField) {
      confidence = confField[1];
    } else {
      counters = countersRe.exec(body);
    }
  }
  if (!app) return undefined;
  const [, aPkts, aBytes, arrow2, bPkts, bBytes] = counters;
  if (arrow2 !== arrow) return undefined;

  const flow: NdpiFlow = {
    index: Number(index),
    section,
    proto,
    protoName,
    a,
    b,
    vlan,
    appId: app.id,
    app: app.name,
    masterApp: app.id.includes(".") ? (app.name.split(".")[0] ?? app.name) : app.name,
    category: category?.name ?? "Unspecified",
    categoryId: category?.id ?? 0,
    aToB: { packets: Number(aPkts), bytes: Number(aBytes) },
    bToA: { packets: Number(bPkts), bytes: Number(bBytes) },
    raw: text,
  };
  if (app.tunnel) flow.tunnel = app.tunnel;
  if (encrypted !== undefined) flow.encrypted = encrypted;
  if (confidence !== undefined) flow.confidence = confidence;

  // Free-form fields after the counters: values may contain brackets, take the first match only.
  const tail = rest.slice(pos);
  const host = /\[Hostname\/SNI: ([^\]]*)\]/.exec(tail);
  if (host?.[1]) flow.hostname = host[1];
  const ja3c = /\[JA3C: ([0-9a-fA-F]+)/.exec(tail);
  if (ja3c?.[1]) flow.ja3c = ja3c[1];
  const ja3s = /\[JA3S: ([0-9a-fA-F]+)/.exec(tail);
  if (ja3s?.[1]) flow.ja3s = ja3s[1];
  const risk = /\[Risk: ((?:\*\* [^*\]]+ \*\*)+)\]/.exec(tail);
  if (risk?.[1]) flow.risks = [...risk[1].matchAll(/\*\* ([^*\]]+) \*\*/g)].map((r) => r[1] ?? "");
  return flow;
}

const statKeys: Record<string, keyof Omit<NdpiStats, "dpiPackets" | "confidence" | "raw">> = {
  "Ethernet bytes": "ethernetBytes",
  "Discarded bytes": "discardedBytes",
  "IP bytes": "ipBytes",
  "Unique flows": "uniqueFlows",
  "TCP Packets": "tcpPackets",
  "UDP Packets": "udpPackets",
  "VLAN Packets": "vlanPackets",
  "MPLS Packets": "mplsPackets",
  "PPPoE Packets": "pppoePackets",
  "Fragmented Packets": "fragmentedPackets",
  "Max Packet size": "maxPacketSize",
  "Guessed flow protos": "guessedFlowProtos",
};

function parseStatLine(stats: NdpiStats, line: string): void {
  const conf = /^\tConfidence: (.+?)\s+(\d+)\s+\(flows\)\s*$/.exec(line);
  if (conf?.[1] !== undefined) {
    stats.confidence[conf[1]] = Number(conf[2]);
    return;
  }
  const kv = /^\t([^:\t]+):\s+(.*?)\s*$/.exec(line);
  if (!kv || kv[1] === undefined || kv[2] === undefined) return;
  const [key, value] = [kv[1], kv[2]];
  stats.raw[key] = value;
  const first = /^(\d+)/.exec(value);
  if (!first) return;
  const n = Number(first[1]);
  const field = statKeys[key];
  if (field) {
    stats[field] = n;
  } else if (key === "IP packets") {
    stats.ipPackets = n;
    const total = /of (\d+) packets total/.exec(value);
    if (total) stats.totalPackets = Number(total[1]);
  } else {
    const dpi = /^DPI Packets \((TCP|UDP|other)\)$/.exec(key);
    if (dpi?.[1]) stats.dpiPackets[dpi[1].toLowerCase() as "tcp" | "udp" | "other"] = n;
  }
}

/** Parses the whole stdout of `ndpiReader -v 2` (with or without `-q`). */
export function parseNdpiReaderOutput(stdout: string): NdpiParsed {
  const out: NdpiParsed = { flows: [], unparsed: [], detectedProtocols: [], diagnostics: [], complete: false };
  let block = "";
  let flowSection: NdpiFlow["section"] = "detected";
  for (const rawLine of stdout.split("\n")) {
    const line = rawLine.replace(/\r$/, "");
    if (line.trim() === "") continue;
    const flowLike = /^\t\d+\t\S/.test(line) || /\d+ pkts\/\d+ bytes/.test(line);
    if (flowLike) {
      const flow = parseFlowLine(line, flowSection);
      if (flow) out.flows.push(flow);
      else out.unparsed.push(line);
      continue;
    }
    if (!line.startsWith("\t")) {
      // A section header, the banner, or a message.
      const version = /^Using nDPI \(([^)]+)\)/.exec(line);
      if (version) out.version = version[1];
      if (/^Undetected flows:/.test(line)) flowSection = "undetected";
      if (/^(ERROR|Error|WARNING|Warning|INTERNAL ERROR|Unsupported|Cannot|Could not)\b|Skip pcap/.test(line)) {
        out.diagnostics.push(line);
      }
      block = line.endsWith(":") || line.endsWith(": ") ? line.trim() : block;
      if (block === "Traffic statistics:" && !out.stats) {
        out.stats = { dpiPackets: {}, confidence: {}, raw: {} };
      }
      continue;
    }
    if (block === "Traffic statistics:" && out.stats) {
      parseStatLine(out.stats, line);
    } else if (block === "Detected protocols:") {
      const p = /^\t(.+?)\s+packets: (\d+)\s+bytes: (\d+)\s+flows: (\d+)\s*$/.exec(line);
      if (p?.[1] !== undefined) {
        out.detectedProtocols.push({ name: p[1], packets: Number(p[2]), bytes: Number(p[3]), flows: Number(p[4]) });
      }
    }
  }
  const unique = out.stats?.uniqueFlows;
  if (!out.stats) {
    out.diagnostics.push("no 'Traffic statistics' section: ndpiReader processed no packet (or stopped early)");
  } else if (unique !== undefined && unique !== out.flows.length + out.unparsed.length) {
    out.diagnostics.push(
      `ndpiReader reports ${unique} unique flows but printed ${out.flows.length + out.unparsed.length} flow lines`,
    );
  }
  out.complete =
    out.stats !== undefined &&
    out.unparsed.length === 0 &&
    (unique === undefined || unique === out.flows.length) &&
    out.diagnostics.length === 0;
  return out;
}

/**
 * Runs `ndpiReader -i <pcap> -v 2` and parses its output. Throws when ndpiReader cannot be run,
 * fails, times out or cannot open the capture; other problems end up in `diagnostics`/`unparsed`
 * (check `complete`).
 */
export async function runNdpiReader(pcapPath: string, options: RunNdpiReaderOptions = {}): Promise<NdpiResult> {
  const binary = options.binary ?? NDPI_READER_PATH;
  const file = resolve(pcapPath);
  // -i takes a comma-separated list of captures/devices.
  if (file.includes(",")) throw new Error(`ndpiReader cannot read ${file}: -i treats ',' as a list separator`);
  await access(file, constants.R_OK);
  const args = ["-i", file, "-v", "2"];
  if (options.decodeTunnels) args.push("-t");
  if (options.ignoreVlan) args.push("-I");
  if (options.extraArgs) args.push(...options.extraArgs);
  const timeoutMs = options.timeoutMs ?? 120_000;

  const cwd = await mkdtemp(join(tmpdir(), "ndpireader-"));
  try {
    const { code, signal, stdout, stderr, timedOut } = await new Promise<{
      code: number | null;
      signal: NodeJS.Signals | null;
      stdout: string;
      stderr: string;
      timedOut: boolean;
    }>((resolvePromise, reject) => {
      const child = spawn(binary, args, {
        cwd,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, LC_ALL: "C" },
      });
      const outChunks: Buffer[] = [];
      const errChunks: Buffer[] = [];
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, timeoutMs);
      child.stdout.on("data", (c: Buffer) => outChunks.push(c));
      child.stderr.on("data", (c: Buffer) => errChunks.push(c));
      child.on("error", (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot run ${binary}: ${err.message}`, { cause: err }));
      });
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        resolvePromise({
          code,
          signal,
          stdout: Buffer.concat(outChunks).toString("utf8"),
          stderr: Buffer.concat(errChunks).toString("utf8"),
          timedOut,
        });
      });
    });
    const cmd = `${binary} ${args.join(" ")}`;
    if (timedOut) throw new Error(`${cmd} timed out after ${timeoutMs} ms`);
    if (code !== 0) {
      throw new Error(`${cmd} failed (${signal ? `signal ${signal}` : `exit ${code}`}): ${stderr.trim().slice(-2000)}`);
    }
    const openError = /^ERROR: could not open.*$/m.exec(stdout);
    if (openError) throw new Error(`${cmd}: ${openError[0]}`);
    const parsed = parseNdpiReaderOutput(stdout);
    for (const l of stderr.split("\n")) if (l.trim() !== "") parsed.diagnostics.push(`stderr: ${l}`);
    if (parsed.diagnostics.length > 0) parsed.complete = false;
    return { ...parsed, pcapPath: file, args, stdout, stderr };
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Comparison with our flow records.

export type OurFlow = FlowRecord & { wireBytes?: { srcToDst: number; dstToSrc: number } };

export type Direction = "srcToDst" | "dstToSrc";

export interface MatchedFlow {
  ndpi: NdpiFlow;
  ours: OurFlow;
  /** true when our src is ndpiReader's b (our src->dst is its b->a). */
  reversed: boolean;
  /** The 5-tuple in our orientation, for messages. */
  tuple: string;
}

export interface CountMismatch {
  tuple: string;
  /** In our orientation. */
  direction: Direction;
  ours: number;
  ndpi: number;
  match: MatchedFlow;
}

export interface LabelMismatch {
  tuple: string;
  ours: string;
  ndpi: string;
  match: MatchedFlow;
}

export interface FlowComparison {
  matched: MatchedFlow[];
  /** Flows ndpiReader has and we lack. */
  onlyNdpi: NdpiFlow[];
  /** Flows we have and ndpiReader lacks. */
  onlyOurs: OurFlow[];
  packetMismatches: CountMismatch[];
  /** Our wireBytes vs ndpiReader's (frame) bytes; only for flows that carry wireBytes. */
  byteMismatches: CountMismatch[];
  /** Matched flows whose bytes could be compared (ours had wireBytes). */
  bytesCompared: number;
  /** ours.l7 vs ndpiReader's app name. */
  appMismatches: LabelMismatch[];
  /** ours.l7Category vs ndpiReader's category. */
  categoryMismatches: LabelMismatch[];
  /** Fraction of matched flows with equal app names (1 when nothing matched). */
  appAgreement: number;
  /** No unmatched flow, no packet or byte mismatch (app/category labels not considered). */
  sameFlows: boolean;
  /** Human-readable report: a summary line, then every difference on its own line. */
  format(): string;
}

export interface CompareOptions {
  /**
   * Whether ports take part in matching for this protocol. Default: only TCP, UDP, DCCP, SCTP and
   * UDP-Lite; ndpiReader prints port 0 for the others (ICMP flows are keyed by addresses only).
   */
  usesPorts?: (proto: number) => boolean;
}

const portedProtocols = new Set([6, 17, 33, 132, 136]);

function parseIpv6(addr: string): number[] | undefined {
  let s = addr;
  const groups: number[] = [];
  const v4 = /^(.*:)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(s);
  let tail: number[] = [];
  if (v4?.[1] !== undefined && v4[2] !== undefined) {
    const o = v4[2].split(".").map(Number);
    if (o.some((x) => x > 255)) return undefined;
    tail = [((o[0] ?? 0) << 8) | (o[1] ?? 0), ((o[2] ?? 0) << 8) | (o[3] ?? 0)];
    s = v4[1].endsWith("::") ? v4[1] : v4[1].slice(0, -1);
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const parse = (h: string | undefined): number[] | undefined => {
    if (!h) return [];
    const out: number[] = [];
    for (const g of h.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  if (!head || !rest) return undefined;
  const fill = 8 - head.length - rest.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined;
  groups.push(...head, ...new Array<number>(fill).fill(0), ...rest, ...tail);
  return groups;
}

/** Address in a canonical form for matching (IPv6 fully expanded, lower case). */
export function canonicalAddr(addr: string): string {
  const a = addr
    .trim()
    .replace(/^\[|\]$/g, "")
    .replace(/%.*$/, "")
    .toLowerCase();
  if (!a.includes(":")) return a;
  const g = parseIpv6(a);
  return g ? g.map((x) => x.toString(16).padStart(4, "0")).join(":") : a;
}

function protoLabel(proto: number): string {
  return protoNames.get(proto) ?? String(proto);
}

function endpointText(addr: string, port: number): string {
  return addr.includes(":") ? `[${addr}]:${port}` : `${addr}:${port}`;
}

function tupleText(proto: number, src: NdpiEndpoint, dst: NdpiEndpoint, vlan: number): string {
  const v = vlan ? ` vlan ${vlan}` : "";
  return `${protoLabel(proto)} ${endpointText(src.addr, src.port)} -> ${endpointText(dst.addr, dst.port)}${v}`;
}

function endpointKey(e: NdpiEndpoint, ported: boolean): string {
  return `${canonicalAddr(e.addr)}#${ported ? e.port : 0}`;
}

function flowKey(proto: number, vlan: number, x: NdpiEndpoint, y: NdpiEndpoint, ported: boolean): string {
  const [p, q] = [endpointKey(x, ported), endpointKey(y, ported)].sort();
  return `${proto}|${vlan}|${p}|${q}`;
}

function ourSrc(f: OurFlow): NdpiEndpoint {
  return { addr: f.srcAddr, port: f.srcPort };
}

function ourDst(f: OurFlow): NdpiEndpoint {
  return { addr: f.dstAddr, port: f.dstPort };
}

/** Whether our src->dst is ndpiReader's b->a. */
function isReversed(n: NdpiFlow, o: OurFlow, ported: boolean): boolean {
  const src = endpointKey(ourSrc(o), ported);
  const dst = endpointKey(ourDst(o), ported);
  return src !== dst && src === endpointKey(n.b, ported) && dst === endpointKey(n.a, ported);
}

/** ndpiReader counters in our orientation. */
function aligned(n: NdpiFlow, reversed: boolean): { srcToDst: NdpiCounters; dstToSrc: NdpiCounters } {
  return reversed ? { srcToDst: n.bToA, dstToSrc: n.aToB } : { srcToDst: n.aToB, dstToSrc: n.bToA };
}

function packetsAgree(n: NdpiFlow, o: OurFlow, ported: boolean): boolean {
  const c = aligned(n, isReversed(n, o, ported));
  return c.srcToDst.packets === o.srcToDstPackets && c.dstToSrc.packets === o.dstToSrcPackets;
}

function ndpiCountersText(n: NdpiFlow): string {
  return `${n.aToB.packets} pkts/${n.aToB.bytes} bytes ${n.bToA.packets ? "<->" : "->"} ${n.bToA.packets} pkts/${n.bToA.bytes} bytes`;
}

function ourCountersText(o: OurFlow): string {
  const bytes = (d: Direction) =>
    o.wireBytes ? `${o.wireBytes[d]} wire bytes` : `${d === "srcToDst" ? o.srcToDstBytes : o.dstToSrcBytes} IP bytes`;
  return `${o.srcToDstPackets} pkts/${bytes("srcToDst")} <-> ${o.dstToSrcPackets} pkts/${bytes("dstToSrc")}`;
}

/**
 * Matches ndpiReader's flows with ours by protocol + unordered endpoint pair + VLAN and reports
 * every difference. Flows sharing a key (a 5-tuple that ended and restarted) are not collapsed:
 * within a key, pairs whose per-direction packet counts agree exactly are matched first, the rest
 * in order of appearance (ndpiReader's output order; our array order).
 */
export function compareFlows(
  ndpi: readonly NdpiFlow[],
  ours: readonly OurFlow[],
  options: CompareOptions = {},
): FlowComparison {
  const usesPorts = options.usesPorts ?? ((p: number) => portedProtocols.has(p));
  const ndpiGroups = new Map<string, NdpiFlow[]>();
  for (const n of ndpi) {
    const k = flowKey(n.proto, n.vlan, n.a, n.b, usesPorts(n.proto));
    const g = ndpiGroups.get(k);
    if (g) g.push(n);
    else ndpiGroups.set(k, [n]);
  }
  const ourGroups = new Map<string, OurFlow[]>();
  for (const o of ours) {
    const k = flowKey(o.proto, o.vlan, ourSrc(o), ourDst(o), usesPorts(o.proto));
    const g = ourGroups.get(k);
    if (g) g.push(o);
    else ourGroups.set(k, [o]);
  }

  const matched: MatchedFlow[] = [];
  const matchedNdpi = new Set<NdpiFlow>();
  const matchedOurs = new Set<OurFlow>();
  for (const [k, os] of ourGroups) {
    const ns = ndpiGroups.get(k);
    if (!ns) continue;
    const pairs: [OurFlow, NdpiFlow][] = [];
    const freeN = [...ns];
    const freeO: OurFlow[] = [];
    for (const o of os) {
      const i = freeN.findIndex((n) => packetsAgree(n, o, usesPorts(o.proto)));
      const n = i >= 0 ? freeN.splice(i, 1)[0] : undefined;
      if (n) pairs.push([o, n]);
      else freeO.push(o);
    }
    for (const o of freeO) {
      const n = freeN.shift();
      if (n) pairs.push([o, n]);
    }
    pairs.sort((x, y) => os.indexOf(x[0]) - os.indexOf(y[0]));
    for (const [o, n] of pairs) {
      const reversed = isReversed(n, o, usesPorts(o.proto));
      matched.push({ ndpi: n, ours: o, reversed, tuple: tupleText(o.proto, ourSrc(o), ourDst(o), o.vlan) });
      matchedNdpi.add(n);
      matchedOurs.add(o);
    }
  }
  // Report in ndpiReader's order.
  const order = new Map(ndpi.map((n, i) => [n, i]));
  matched.sort((x, y) => (order.get(x.ndpi) ?? 0) - (order.get(y.ndpi) ?? 0));

  const packetMismatches: CountMismatch[] = [];
  const byteMismatches: CountMismatch[] = [];
  const appMismatches: LabelMismatch[] = [];
  const categoryMismatches: LabelMismatch[] = [];
  let bytesCompared = 0;
  let appEqual = 0;
  for (const m of matched) {
    const c = aligned(m.ndpi, m.reversed);
    const o = m.ours;
    const ourPackets = { srcToDst: o.srcToDstPackets, dstToSrc: o.dstToSrcPackets };
    for (const d of ["srcToDst", "dstToSrc"] as const) {
      if (ourPackets[d] !== c[d].packets) {
        packetMismatches.push({ tuple: m.tuple, direction: d, ours: ourPackets[d], ndpi: c[d].packets, match: m });
      }
    }
    if (o.wireBytes) {
      bytesCompared++;
      for (const d of ["srcToDst", "dstToSrc"] as const) {
        if (o.wireBytes[d] !== c[d].bytes) {
          byteMismatches.push({ tuple: m.tuple, direction: d, ours: o.wireBytes[d], ndpi: c[d].bytes, match: m });
        }
      }
    }
    if (o.l7 === m.ndpi.app) appEqual++;
    else appMismatches.push({ tuple: m.tuple, ours: o.l7, ndpi: m.ndpi.app, match: m });
    if (o.l7Category !== m.ndpi.category) {
      categoryMismatches.push({ tuple: m.tuple, ours: o.l7Category, ndpi: m.ndpi.category, match: m });
    }
  }

  const onlyNdpi = ndpi.filter((n) => !matchedNdpi.has(n));
  const onlyOurs = ours.filter((o) => !matchedOurs.has(o));
  const appAgreement = matched.length === 0 ? 1 : appEqual / matched.length;
  const result: FlowComparison = {
    matched,
    onlyNdpi,
    onlyOurs,
    packetMismatches,
    byteMismatches,
    bytesCompared,
    appMismatches,
    categoryMismatches,
    appAgreement,
    sameFlows:
      onlyNdpi.length === 0 && onlyOurs.length === 0 && packetMismatches.length === 0 && byteMismatches.length === 0,
    format: () => formatComparison(result, ndpi.length, ours.length),
  };
  return result;
}

const dirText: Record<Direction, string> = { srcToDst: "src->dst", dstToSrc: "dst->src" };

function formatComparison(c: FlowComparison, ndpiCount: number, ourCount: number): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const appEqual = c.matched.length - c.appMismatches.length;
  const lines = [
    `ndpiReader ${ndpiCount} flows, ours ${ourCount}: ${c.matched.length} matched, ${c.onlyNdpi.length} only in ndpiReader, ` +
      `${c.onlyOurs.length} only ours, ${c.packetMismatches.length} packet / ${c.byteMismatches.length} byte ` +
      `(${c.bytesCompared} flows compared) / ${c.appMismatches.length} app / ${c.categoryMismatches.length} category ` +
      `mismatches; app agreement ${pct(c.appAgreement)} (${appEqual}/${c.matched.length})`,
  ];
  for (const n of c.onlyNdpi) {
    lines.push(
      `only ndpiReader: ${tupleText(n.proto, n.a, n.b, n.vlan)} [${n.tunnel ? `${n.tunnel}:` : ""}${n.app}] ${ndpiCountersText(n)}`,
    );
  }
  for (const o of c.onlyOurs) {
    lines.push(`only ours: ${tupleText(o.proto, ourSrc(o), ourDst(o), o.vlan)} [${o.l7}] ${ourCountersText(o)}`);
  }
  for (const m of c.packetMismatches) {
    lines.push(`packets: ${m.tuple}: ${dirText[m.direction]} ours ${m.ours}, ndpiReader ${m.ndpi}`);
  }
  for (const m of c.byteMismatches) {
    lines.push(`wire bytes: ${m.tuple}: ${dirText[m.direction]} ours ${m.ours}, ndpiReader ${m.ndpi}`);
  }
  for (const m of c.appMismatches) lines.push(`app: ${m.tuple}: ours "${m.ours}", ndpiReader "${m.ndpi}"`);
  for (const m of c.categoryMismatches) lines.push(`category: ${m.tuple}: ours "${m.ours}", ndpiReader "${m.ndpi}"`);
  return lines.join("\n");
}
