// Every sFlow v5 datagram of ../shared/testdata/flowexports against tshark: the datagram header
// (agent, sub-agent, sequence) and every flow sample's sampling rate and interfaces from tshark's
// sFlow dissector; the sampled packet (addresses, ports, protocol, VLAN, TCP flags, IP length)
// from tshark's decode of the sampled header itself, written to a capture of its own (the sFlow
// dissector does not follow VXLAN inside a header; decoding it as a frame does, with 4789 as
// VXLAN); the interface counters of every counter sample.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { after, describe, it } from "node:test";
import type { pb } from "@flowlens/contracts";
import { haveCommand, makeTempDir, removeTempDir } from "@flowlens/testkit";
import { flowexportFiles, flowexportsPresent } from "../netflow/testing.js";
import { readUdpDatagrams } from "../pcap-udp.js";
import { SflowDecoder } from "./decoder.js";
import { headerDecoderError } from "./headers.js";

const skip = !flowexportsPresent()
  ? "../shared/testdata/flowexports is missing"
  : !haveCommand("tshark")
    ? "tshark is not installed"
    : headerDecoderError() || false;

type Json = { [k: string]: Json } | Json[] | string;

function obj(j: Json | undefined): Record<string, Json> {
  return j && typeof j === "object" && !Array.isArray(j) ? (j as Record<string, Json>) : {};
}

function str(j: Json | undefined): string {
  if (Array.isArray(j)) return str(j[0]);
  return typeof j === "string" ? j : "";
}

function num(j: Json | undefined): number {
  const s = str(j);
  return s === "" ? Number.NaN : Number(s);
}

function tsharkJson(file: string, extra: string[] = []): Array<Record<string, Json>> {
  const out = execFileSync("tshark", ["-r", file, ...extra, "-T", "json", "--no-duplicate-keys"], {
    encoding: "utf8",
    maxBuffer: 64 << 20,
    stdio: ["ignore", "pipe", "ignore"],
  });
  return (JSON.parse(out) as Array<{ _source: { layers: Record<string, Json> } }>).map((p) => p._source.layers);
}

/** An sFlow interface as a flow's ifIndex: the index for one interface, else 0 (discard, multiple, local). */
function ifIndex(format: number, value: number): number {
  return format === 0 && value !== 0x3fffffff ? value : 0;
}

function compactIf(sample: Record<string, Json>, name: "input" | "output"): number {
  const raw = str(sample[`sflow.flow_sample.${name}_interface`]);
  const v = Number(raw); // decimal or 0x...
  return ifIndex(v >>> 30, v & 0x3fffffff);
}

interface ExpectedPacket {
  srcAddr: string;
  dstAddr: string;
  srcPort: number;
  dstPort: number;
  proto: number;
  vlan: number;
  tcpFlags: number;
  ipLen: number;
}

interface ExpectedSample {
  where: string;
  samplingRate: number;
  inIf: number;
  outIf: number;
  /** Index into the header capture, or the packet from an IPv4/IPv6 data record. */
  header: { index: number; link: number } | null;
  data: ExpectedPacket | null;
  switchVlan: number;
}

/** A classic pcap of raw headers, one link type per file. */
function writePcap(path: string, link: number, frames: Buffer[]): void {
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0);
  hdr.writeUInt16LE(2, 4);
  hdr.writeUInt16LE(4, 6);
  hdr.writeUInt32LE(65535, 16);
  hdr.writeUInt32LE(link, 20);
  const parts: Buffer[] = [hdr];
  for (const f of frames) {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(f.length, 8);
    r.writeUInt32LE(f.length, 12);
    parts.push(r, f);
  }
  writeFileSync(path, Buffer.concat(parts));
}

/** The innermost IP packet of a frame as tshark decodes it. */
function packetOf(layers: Record<string, Json>, keys: string[]): ExpectedPacket | null {
  let ip: Record<string, Json> | null = null;
  let v6 = false;
  let l4: { name: string; layer: Record<string, Json> } | null = null;
  for (const k of keys) {
    const vals = Array.isArray(layers[k]) ? (layers[k] as Json[]) : [layers[k] as Json];
    const last = obj(vals[vals.length - 1]);
    if (k === "ip" || k === "ipv6") {
      ip = last;
      v6 = k === "ipv6";
      l4 = null;
    } else if (k === "tcp" || k === "udp" || k === "icmp" || k === "icmpv6") {
      l4 = { name: k, layer: last };
    }
  }
  if (ip === null) return null;
  const vlanLayer = layers.vlan;
  const firstVlan = obj(Array.isArray(vlanLayer) ? vlanLayer[0] : vlanLayer);
  let srcPort = 0;
  let dstPort = 0;
  let tcpFlags = 0;
  if (l4?.name === "tcp" || l4?.name === "udp") {
    srcPort = num(l4.layer[`${l4.name}.srcport`]);
    dstPort = num(l4.layer[`${l4.name}.dstport`]);
    if (l4.name === "tcp") tcpFlags = Number(str(l4.layer["tcp.flags"])) & 0xff;
  } else if (l4) {
    dstPort = num(l4.layer[`${l4.name}.type`]) * 256 + num(l4.layer[`${l4.name}.code`]);
  }
  return {
    srcAddr: str(v6 ? ip["ipv6.src"] : ip["ip.src"]),
    dstAddr: str(v6 ? ip["ipv6.dst"] : ip["ip.dst"]),
    srcPort,
    dstPort,
    proto: v6 ? lastNext(ip, l4?.name) : num(ip["ip.proto"]),
    vlan: firstVlan["vlan.id"] !== undefined ? num(firstVlan["vlan.id"]) : 0,
    tcpFlags,
    ipLen: v6 ? num(ip["ipv6.plen"]) + 40 : num(ip["ip.len"]),
  };
}

function lastNext(ip6: Record<string, Json>, l4: string | undefined): number {
  if (l4 === "tcp") return 6;
  if (l4 === "udp") return 17;
  if (l4 === "icmpv6") return 58;
  return num(ip6["ipv6.nxt"]);
}

describe("sFlow v5 decoder against tshark", { skip }, () => {
  const dir = skip ? "" : makeTempDir("flowlens-sflow-tshark-");
  after(() => {
    if (dir) removeTempDir(dir);
  });
  const files = skip
    ? []
    : [...flowexportFiles("ndpi", /^sflow\.pcap$/), ...flowexportFiles("akvorado", /^sflow_.*\.pcap$/)];

  for (const file of files) {
    it(`decodes ${basename(file)} as tshark does`, () => {
      const packets = tsharkJson(file);
      const { datagrams } = readUdpDatagrams(file);
      assert.equal(datagrams.length, packets.length);
      const decoder = new SflowDecoder();
      const expected: ExpectedSample[] = [];
      const headers: Record<number, Buffer[]> = { 1: [], 228: [], 229: [] };
      const got: pb.Flow[] = [];
      let counterRecords = 0;
      for (let i = 0; i < packets.length; i++) {
        const sf = obj((packets[i] as Record<string, Json>).sflow);
        const d = datagrams[i];
        assert.ok(d);
        const r = decoder.decode(d.payload, d.srcAddr, d.timestampMs);
        const where = `${basename(file)} frame ${d.frame}`;
        assert.deepEqual(r.errors.truncated ?? 0, 0, where);
        assert.equal(r.agent, str(sf["sflow_245.agent"]) || str(sf["sflow_245.agent.v6"]), where);
        assert.equal(r.subAgent, num(sf["sflow_245.sub_agent_id"]), where);
        assert.equal(r.sequence, num(sf["sflow_245.sequence_number"]), where);
        got.push(...r.flows);
        let counterIdx = 0;
        for (const [key, value] of Object.entries(sf)) {
          const sample = obj(value);
          if (/flow sample/i.test(key)) {
            const expanded = key.startsWith("Expanded");
            const e: ExpectedSample = {
              where: `${where} ${key}`,
              samplingRate: num(sample["sflow.flow_sample.sampling_rate"]),
              inIf: expanded
                ? ifIndex(
                    num(sample["sflow.flow_sample.input_interface_format"]),
                    num(sample["sflow.flow_sample.input_interface_value"]),
                  )
                : compactIf(sample, "input"),
              outIf: expanded
                ? ifIndex(
                    num(sample["sflow.flow_sample.output_interface.format"]),
                    num(sample["sflow.flow_sample.output_interface_value"]),
                  )
                : compactIf(sample, "output"),
              header: null,
              data: null,
              switchVlan: 0,
            };
            const raw = obj(sample["Raw packet header"]);
            if (raw["sflow_245.header"] !== undefined) {
              const proto = num(raw["sflow_245.header_protocol"]);
              const link = proto === 1 ? 1 : proto === 11 ? 228 : 229;
              const bytes = Buffer.from(str(raw["sflow_245.header"]).replace(/:/g, ""), "hex");
              const list = headers[link] as Buffer[];
              e.header = { index: list.length, link };
              list.push(bytes);
            }
            const sw = obj(sample["Extended switch data"]);
            const inVlan = num(sw["sflow_245.vlan.in"]);
            if (inVlan > 0 && inVlan < 4095) e.switchVlan = inVlan;
            const v4 = obj(sample["IPv4 data"]);
            if (v4["sflow_245.ip.length"] !== undefined) {
              e.data = {
                srcAddr: str(v4["sflow_245.ipv4_src"]),
                dstAddr: str(v4["sflow_245.ipv4_dst"]),
                srcPort: num(v4["sflow_245.ip.source_port"]),
                dstPort: num(v4["sflow.ip.destination_port"]),
                proto: num(v4["sflow.ip_protocol"]),
                vlan: e.switchVlan,
                tcpFlags: -1,
                ipLen: num(v4["sflow_245.ip.length"]),
              };
            }
            expected.push(e);
          } else if (/counters sample/i.test(key)) {
            const g = obj(sample["Generic interface counters"]);
            if (g["sflow_245.ifindex"] === undefined) continue;
            const c = r.counters[counterIdx++];
            counterRecords++;
            assert.ok(c, `${where} ${key}: no counters decoded`);
            assert.equal(c.exporter, r.agent);
            assert.equal(c.ifIndex, num(g["sflow_245.ifindex"]));
            assert.deepEqual(
              {
                inOctets: c.counters.inOctets,
                outOctets: c.counters.outOctets,
                inPackets: c.counters.inPackets,
                outPackets: c.counters.outPackets,
                inErrors: c.counters.inErrors,
                outErrors: c.counters.outErrors,
                inDiscards: c.counters.inDiscards,
                outDiscards: c.counters.outDiscards,
                speedBps: c.counters.speedBps,
                operUp: c.counters.operUp,
                adminUp: c.counters.adminUp,
                ifType: c.counters.ifType,
              },
              {
                inOctets: num(g["sflow_245.ifinoct"]),
                outOctets: num(g["sflow_245.ifoutoct"]),
                inPackets: num(g["sflow_245.ifinpkt"]) + num(g["sflow_245.ifinmcast"]) + num(g["sflow_245.ifinbcast"]),
                outPackets:
                  num(g["sflow_245.ifoutpkt"]) + num(g["sflow_245.ifoutmcast"]) + num(g["sflow_245.ifoutbcast"]),
                inErrors: num(g["sflow_245.ifinerr"]),
                outErrors: num(g["sflow_245.ifouterr"]),
                inDiscards: num(g["sflow_245.ifindisc"]),
                outDiscards: num(g["sflow_245.ifoutdisc"]),
                speedBps: num(g["sflow_245.ifspeed"]),
                operUp: num(g["sflow_245.ifoper_status"]) === 1,
                adminUp: num(g["sflow_245.ifadmin_status"]) === 1,
                ifType: num(g["sflow_245.iftype"]),
              },
              `${where} ${key}`,
            );
          }
        }
        assert.equal(counterIdx, r.counters.length, `${where}: counter records`);
      }
      // The sampled headers, decoded by tshark as frames of their own.
      const decoded: Record<number, ExpectedPacket[]> = {};
      for (const [link, list] of Object.entries(headers)) {
        if (list.length === 0) continue;
        const path = join(dir, `${basename(file)}.${link}.pcap`);
        writePcap(path, Number(link), list);
        decoded[Number(link)] = tsharkJson(path, ["-d", "udp.port==4789,vxlan"]).map((layers) => {
          const p = packetOf(layers, Object.keys(layers));
          assert.ok(p, `${path}: tshark found no IP packet`);
          return p;
        });
      }
      const want = expected.flatMap((e) => {
        const fromHeader = e.header ? decoded[e.header.link]?.[e.header.index] : undefined;
        const p = fromHeader ?? e.data;
        if (!p) return [];
        return [
          {
            where: e.where,
            srcAddr: p.srcAddr,
            dstAddr: p.dstAddr,
            srcPort: p.srcPort,
            dstPort: p.dstPort,
            proto: p.proto,
            vlan: p.vlan !== 0 ? p.vlan : e.switchVlan,
            tcpFlags: p.tcpFlags,
            rawBytes: p.ipLen,
            samplingRate: e.samplingRate,
            bytes: p.ipLen * e.samplingRate,
            inIf: e.inIf,
            outIf: e.outIf,
          },
        ];
      });
      assert.equal(got.length, want.length, `${basename(file)}: flows`);
      assert.ok(want.length + counterRecords > 0, `${basename(file)}: nothing compared`);
      want.forEach((w, i) => {
        const f = got[i] as pb.Flow;
        assert.deepEqual(
          {
            where: w.where,
            srcAddr: f.srcAddr,
            dstAddr: f.dstAddr,
            srcPort: f.srcPort,
            dstPort: f.dstPort,
            proto: f.proto,
            vlan: f.vlan,
            tcpFlags: w.tcpFlags < 0 ? -1 : f.srcTcpFlags,
            rawBytes: Number(f.rawBytes),
            samplingRate: Number(f.samplingRate),
            bytes: Number(f.srcToDstBytes),
            inIf: f.inIf,
            outIf: f.outIf,
          },
          w,
        );
        assert.equal(f.rawPackets, 1n);
        assert.equal(Number(f.srcToDstPackets), w.samplingRate);
        assert.equal(f.exportVersion, 100);
      });
      assert.equal(decoder.internalErrorCount, 0, String(decoder.lastInternalError));
    });
  }
});
