// Test helpers: tshark's NetFlow/IPFIX dissector (cflow) as the reference decoder, the flow
// export test data in ../shared/testdata/flowexports, and a NetFlow/IPFIX datagram builder
// for unit tests. Used by the *.test.ts files beside it; nothing here runs in production.
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "@flowlens/testkit";

const run = promisify(execFile);

export const FLOWEXPORTS = join(repoRoot, "../shared/testdata/flowexports");

export function flowexportsPresent(): boolean {
  return existsSync(FLOWEXPORTS);
}

/** Files of a flowexports folder matching a pattern, sorted. */
export function flowexportFiles(folder: string, re: RegExp): string[] {
  const dir = join(FLOWEXPORTS, folder);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => re.test(f))
    .sort()
    .map((f) => join(dir, f));
}

type Json = string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

/** One flow record (data or options) as tshark dissected it: its cflow.* fields, in order. */
export interface TsharkRecord {
  fields: Map<string, string[]>;
  /** IP addresses tshark found in a dissected dataLinkFrameSection (ip.src, ipv6.src, ...). */
  frameIp: { src?: string; dst?: string };
}

export interface TsharkSet {
  setId: number;
  /** Frame and template id of the template tshark used, if it had one. */
  templateFrame?: number;
  records: TsharkRecord[];
}

export interface TsharkMessage {
  version: number;
  /** tshark gave up on part of the message (an exception in its dissector). */
  malformed: boolean;
  /** v9 source id / IPFIX observation domain. */
  domain: number;
  exportSecs: number;
  /** v5 header unix_nsecs (0 otherwise). */
  exportNsecs: number;
  /** v5/v9 header sysUptime in ms (-1 for IPFIX). */
  sysUptimeMs: number;
  sets: TsharkSet[];
  /** Template ids defined in this message, with whether they are options templates. */
  templates: { id: number; options: boolean }[];
  /** v5 records (v5 has no sets). */
  v5Records: TsharkRecord[];
}

export interface TsharkFrame {
  frame: number;
  messages: TsharkMessage[];
}

function asArray(j: Json | undefined): Json[] {
  if (j === undefined) return [];
  return Array.isArray(j) ? j : [j];
}

function collectFields(o: JsonObject, into: Map<string, string[]>, frameIp: TsharkRecord["frameIp"]): void {
  for (const [k, v] of Object.entries(o)) {
    for (const item of asArray(v)) {
      if (typeof item === "string") {
        if (k.startsWith("cflow.")) {
          const l = into.get(k);
          if (l) l.push(item);
          else into.set(k, [item]);
        } else if ((k === "ip.src" || k === "ipv6.src") && frameIp.src === undefined) frameIp.src = item;
        else if ((k === "ip.dst" || k === "ipv6.dst") && frameIp.dst === undefined) frameIp.dst = item;
      } else if (!Array.isArray(item)) {
        collectFields(item, into, frameIp);
      }
    }
  }
}

function record(o: JsonObject): TsharkRecord {
  const fields = new Map<string, string[]>();
  const frameIp: TsharkRecord["frameIp"] = {};
  collectFields(o, fields, frameIp);
  return { fields, frameIp };
}

function num(s: Json | undefined): number {
  const v = asArray(s)[0];
  return typeof v === "string" ? Number(v) : Number.NaN;
}

function parseMessage(c: JsonObject): TsharkMessage {
  const version = num(c["cflow.version"]);
  const msg: TsharkMessage = {
    version,
    malformed: JSON.stringify(c).includes("_ws.malformed"),
    domain: version === 10 ? num(c["cflow.od_id"]) : version === 9 ? num(c["cflow.source_id"]) : 0,
    exportSecs: 0,
    exportNsecs: 0,
    sysUptimeMs: version === 10 ? -1 : Math.round(num(c["cflow.sysuptime"]) * 1000),
    sets: [],
    templates: [],
    v5Records: [],
  };
  const ts = c["cflow.timestamp_tree"];
  if (ts && typeof ts === "object" && !Array.isArray(ts)) {
    msg.exportSecs = num(ts["cflow.unix_secs"] ?? ts["cflow.exporttime"]);
    if (ts["cflow.unix_nsecs"] !== undefined) msg.exportNsecs = num(ts["cflow.unix_nsecs"]);
  }
  for (const [k, v] of Object.entries(c)) {
    for (const item of asArray(v)) {
      if (typeof item !== "object" || Array.isArray(item)) continue;
      if (/^pdu \d+\/\d+$/.test(k)) {
        msg.v5Records.push(record(item));
      } else if (/^(Flow)?Set \d+ \[id=\d+\]/.test(k)) {
        const setId = num(item["cflow.flowset_id"]);
        const set: TsharkSet = { setId, records: [] };
        const tf = item["cflow.template_frame"];
        if (tf !== undefined) set.templateFrame = num(tf);
        for (const [sk, sv] of Object.entries(item)) {
          for (const si of asArray(sv)) {
            if (typeof si !== "object" || Array.isArray(si)) continue;
            if (/^Flow \d+( |$)/.test(sk)) set.records.push(record(si));
            const t = /^(Options )?Template \(Id = (\d+)/.exec(sk);
            if (t) msg.templates.push({ id: Number(t[2]), options: t[1] !== undefined });
          }
        }
        msg.sets.push(set);
      }
    }
  }
  return msg;
}

/**
 * tshark's decode of every NetFlow/IPFIX datagram in a capture, with the given UDP ports
 * dissected as cflow. Templates are tracked by tshark itself, in frame order.
 */
export async function tsharkDecode(pcap: string, ports: number[]): Promise<TsharkFrame[]> {
  const args = [
    "-n",
    "-r",
    pcap,
    "-T",
    "json",
    "--no-duplicate-keys",
    "-J",
    "frame cflow",
    "-o",
    "ip.defragment:FALSE",
  ];
  for (const p of ports) args.push("-d", `udp.port==${p},cflow`);
  const { stdout } = await run("tshark", args, { maxBuffer: 1 << 30 });
  const packets = JSON.parse(stdout) as JsonObject[];
  const frames: TsharkFrame[] = [];
  for (const p of packets) {
    const source = p._source as JsonObject;
    const layers = source.layers as JsonObject;
    const frame = layers.frame as JsonObject | undefined;
    const n = num(frame?.["frame.number"]);
    const messages = asArray(layers.cflow)
      .filter((c): c is JsonObject => typeof c === "object" && !Array.isArray(c))
      .map(parseMessage);
    frames.push({ frame: n, messages });
  }
  return frames;
}

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

/** tshark's absolute time text ("Oct  5, 2009 06:06:07.492059999 UTC") in epoch ms, truncated. */
export function tsharkAbsTimeMs(s: string): number {
  const m = /^(\w{3}) +(\d+), (\d+) (\d+):(\d+):(\d+)(?:\.(\d+))? UTC$/.exec(s.trim());
  if (!m) return Number.NaN;
  const [, mon, day, year, hh, mm, ss, frac = "0"] = m;
  const base = Date.UTC(Number(year), MONTHS[mon as string] ?? 0, Number(day), Number(hh), Number(mm), Number(ss));
  return base + Math.floor(Number(`0.${frac}`) * 1000 + 1e-6);
}

// ---- Datagram builder for unit tests -------------------------------------------------------

/** A field specifier: [id, length] or [id, length, pen]. */
export type Spec = [number, number] | [number, number, number];

export class Bytes {
  private readonly parts: number[] = [];
  u8(v: number): this {
    this.parts.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.u8(v >>> 8).u8(v);
  }
  u32(v: number): this {
    return this.u16(v >>> 16).u16(v);
  }
  u64(v: number): this {
    return this.u32(Math.floor(v / 4294967296)).u32(v >>> 0);
  }
  ip4(s: string): this {
    for (const p of s.split(".")) this.u8(Number(p));
    return this;
  }
  raw(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.u8(b[i] as number);
    return this;
  }
  get length(): number {
    return this.parts.length;
  }
  build(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

function set(id: number, body: Uint8Array, pad = 0): Uint8Array {
  return new Bytes()
    .u16(id)
    .u16(4 + body.length + pad)
    .raw(body)
    .raw(new Array<number>(pad).fill(0))
    .build();
}

/** An IPFIX template record; fields with a pen get the enterprise bit. */
export function ipfixTemplate(id: number, fields: Spec[], scopeCount?: number): Uint8Array {
  const b = new Bytes().u16(id).u16(fields.length);
  if (scopeCount !== undefined) b.u16(scopeCount);
  for (const [fid, len, pen] of fields) {
    if (pen)
      b.u16(fid | 0x8000)
        .u16(len)
        .u32(pen);
    else b.u16(fid).u16(len);
  }
  return b.build();
}

export function ipfixTemplateSet(templates: Uint8Array[], options = false): Uint8Array {
  return set(options ? 3 : 2, concat(templates));
}

export function dataSet(templateId: number, records: Uint8Array[], pad = 0): Uint8Array {
  return set(templateId, concat(records), pad);
}

export function ipfixMessage(
  sets: Uint8Array[],
  opts: { exportSecs?: number; domain?: number; seq?: number } = {},
): Uint8Array {
  const body = concat(sets);
  return concat([
    new Bytes()
      .u16(10)
      .u16(16 + body.length)
      .u32(opts.exportSecs ?? 1_700_000_000)
      .u32(opts.seq ?? 0)
      .u32(opts.domain ?? 0)
      .build(),
    body,
  ]);
}

export function v9Template(id: number, fields: Spec[]): Uint8Array {
  const b = new Bytes().u16(id).u16(fields.length);
  for (const [fid, len] of fields) b.u16(fid).u16(len);
  return b.build();
}

export function v9OptionsTemplate(id: number, scope: Spec[], fields: Spec[]): Uint8Array {
  const b = new Bytes()
    .u16(id)
    .u16(scope.length * 4)
    .u16(fields.length * 4);
  for (const [fid, len] of [...scope, ...fields]) b.u16(fid).u16(len);
  return b.build();
}

export function v9TemplateSet(templates: Uint8Array[], options = false): Uint8Array {
  return set(options ? 1 : 0, concat(templates));
}

export function v9Message(
  sets: Uint8Array[],
  opts: { exportSecs?: number; sysUptimeMs?: number; sourceId?: number; count?: number } = {},
): Uint8Array {
  return concat([
    new Bytes()
      .u16(9)
      .u16(opts.count ?? sets.length)
      .u32(opts.sysUptimeMs ?? 1_000_000)
      .u32(opts.exportSecs ?? 1_700_000_000)
      .u32(0)
      .u32(opts.sourceId ?? 0)
      .build(),
    ...sets,
  ]);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
