// Every NetFlow v5/v9/IPFIX datagram of ../shared/testdata/flowexports against tshark's cflow
// dissector: the same records, with the same addresses, ports, protocol, counters, interfaces,
// TCP flags and times. tshark decodes a data set only when it has seen its template earlier
// in the capture, so the decoder runs here with buffering off, and template/data file pairs
// are merged into one capture in that order.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { basename, join } from "node:path";
import { after, describe, it } from "node:test";
import type { pb } from "@flowlens/contracts";
import { haveCommand, makeTempDir, removeTempDir } from "@flowlens/testkit";
import { readUdpDatagrams } from "../pcap-udp.js";
import { NetflowDecoder } from "./decoder.js";
import {
  FLOWEXPORTS,
  flowexportFiles,
  flowexportsPresent,
  type TsharkMessage,
  type TsharkRecord,
  tsharkAbsTimeMs,
  tsharkDecode,
} from "./testing.js";

const skip = !flowexportsPresent()
  ? "../shared/testdata/flowexports is missing"
  : !haveCommand("tshark")
    ? "tshark is not installed"
    : !haveCommand("mergecap")
      ? "mergecap (wireshark-common) is not installed"
      : false;

const ak = (n: string) => join(FLOWEXPORTS, "akvorado", `netflow_${n}.pcap`);

/** Captures decoded in one run, in order: templates before the data that needs them. */
function cases(): string[][] {
  const pairs: string[][] = [
    [ak("template"), ak("data")],
    [ak("icmp-template"), ak("icmp-data")],
    [ak("ipfixprobe-templates"), ak("ipfixprobe-data")],
    [ak("datalink-template"), ak("datalink-data")],
    [ak("ethernet-over-mpls-with-control-word-template"), ak("ethernet-over-mpls-with-control-word-data")],
    [ak("ipfix-srv6-template"), ak("ipfix-srv6-data")],
    [ak("juniper-cpid-template"), ak("juniper-cpid-data")],
    [ak("options-template"), ak("options-data")],
    [ak("samplingrate-template"), ak("samplingrate-data")],
    [
      ak("multiplesamplingrates-options-template"),
      ak("multiplesamplingrates-options-data"),
      ak("multiplesamplingrates-template"),
      ak("multiplesamplingrates-data"),
    ],
  ];
  const singles = [
    ak("data+templates"),
    ak("mpls"),
    ak("nat"),
    ak("nfv5"),
    ak("physicalinterfaces"),
    ...flowexportFiles("ndpi", /^netflow.*\.pcap$/),
    ...flowexportFiles("pmacct-test-automation", /\.pcap$/),
    ...flowexportFiles("logstash-codec-netflow/pcap", /\.pcap$/),
    ...flowexportFiles("ipfixcol2", /\.pcap$/),
  ];
  return [...pairs, ...singles.map((f) => [f])];
}

function first(r: TsharkRecord, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = r.fields.get(n)?.[0];
    if (v !== undefined) return v;
  }
  return undefined;
}

function nth(r: TsharkRecord, name: string, i: number): string | undefined {
  return r.fields.get(name)?.[i];
}

function hasAddress(r: TsharkRecord): boolean {
  return (
    first(
      r,
      "cflow.srcaddr",
      "cflow.srcaddrv6",
      "cflow.dstaddr",
      "cflow.dstaddrv6",
      "cflow.data_link_frame_section",
    ) !== undefined || r.frameIp.src !== undefined
  );
}

interface Expected {
  rec: TsharkRecord;
  msg: TsharkMessage;
}

/**
 * Captures where tshark and this decoder part ways on purpose, each with what the decoder
 * does instead (checked against values read off the bytes by hand).
 */
const DIVERGENCES: Record<string, { why: string; check: (flows: pb.Flow[], errors: Record<string, number>) => void }> =
  {
    "02-netflow-5-invalid-01.pcap": {
      why: "v5 header count 55582 in a datagram of 30 records: tshark decodes what fits, we drop it (logstash expects 0)",
      check: (flows, errors) => {
        assert.equal(flows.length, 0);
        assert.equal(errors.bad_length, 1);
      },
    },
    "03-netflow-5-invalid-02.pcap": {
      why: "v5 header count 163 (> 30): as above",
      check: (flows, errors) => {
        assert.equal(flows.length, 0);
        assert.equal(errors.bad_length, 1);
      },
    },
    "09-netflow-9-invalid-01.pcap": {
      why:
        "v9 header count 2 while the datagram holds 2 templates, an options template (sampling interval 100), " +
        "its options record and 2 data records: tshark stops at the count, we walk every flowset",
      check: (flows) => {
        assert.deepEqual(
          flows.map((f) => [
            f.srcAddr,
            f.dstAddr,
            f.proto,
            f.srcToDstBytes,
            f.srcToDstPackets,
            f.samplingRate,
            f.rawBytes,
          ]),
          [
            ["2001:44b8:1118:7200::10", "2001:44b8:4030:cd91:8075:bae:d39d:2621", 17, 9600n, 100n, 100n, 96n],
            ["192.168.0.1", "192.168.0.105", 17, 9800n, 100n, 100n, 98n],
          ],
        );
      },
    },
  };

/** Compares one of our flows with tshark's record; returns how many values were compared. */
function compare(f: pb.Flow, { rec, msg }: Expected, where: string): number {
  let n = 0;
  const eq = (ours: unknown, theirs: unknown, what: string) => {
    assert.equal(ours, theirs, `${where}: ${what}`);
    n++;
  };
  if (first(rec, "cflow.data_link_frame_section") !== undefined && rec.frameIp.src === undefined) {
    // tshark could not dissect the sampled frame (an MPLS pseudowire it does not recognise):
    // nothing to compare the keys with.
    return n;
  }
  const v6 = f.ipVersion === 6;
  const src = first(rec, v6 ? "cflow.srcaddrv6" : "cflow.srcaddr") ?? rec.frameIp.src;
  const dst = first(rec, v6 ? "cflow.dstaddrv6" : "cflow.dstaddr") ?? rec.frameIp.dst;
  if (src !== undefined) eq(f.srcAddr, src, "srcAddr");
  if (dst !== undefined) eq(f.dstAddr, dst, "dstAddr");
  const proto = first(rec, "cflow.protocol");
  if (proto !== undefined) eq(f.proto, Number(proto), "proto");
  const sport = first(rec, "cflow.srcport");
  const dport = first(rec, "cflow.dstport");
  if (f.proto === 1 || f.proto === 58) {
    const type = first(rec, "cflow.icmp_ipv4_type", "cflow.icmp_ipv6_type");
    const code = first(rec, "cflow.icmp_ipv4_code", "cflow.icmp_ipv6_code");
    if (type !== undefined) eq(f.dstPort, Number(type) * 256 + Number(code ?? 0), "ICMP type/code");
    else if (dport !== undefined && Number(dport) !== 0) eq(f.dstPort, Number(dport), "ICMP type*256+code");
    eq(f.srcPort, 0, "ICMP srcPort");
  } else {
    if (sport !== undefined) eq(f.srcPort, Number(sport), "srcPort");
    if (dport !== undefined) eq(f.dstPort, Number(dport), "dstPort");
  }
  const rate = Number(f.samplingRate);
  const raw = (v: bigint) => Number(v) / rate;
  const bytes = first(rec, "cflow.octets", "cflow.initiator_octets", "cflow.post_octets", "cflow.permanent_octets");
  const pkts = first(rec, "cflow.packets", "cflow.initiator_packets", "cflow.post_packets", "cflow.permanent_packets");
  if (bytes !== undefined) eq(raw(f.srcToDstBytes), Number(bytes), "srcToDst bytes (raw)");
  if (pkts !== undefined) eq(raw(f.srcToDstPackets), Number(pkts), "srcToDst packets (raw)");
  const revBytes =
    nth(rec, "cflow.octets", 1) ?? first(rec, "cflow.responder_octets") ?? nth(rec, "cflow.permanent_octets", 1);
  const revPkts =
    nth(rec, "cflow.packets", 1) ?? first(rec, "cflow.responder_packets") ?? nth(rec, "cflow.permanent_packets", 1);
  if (revBytes !== undefined) eq(raw(f.dstToSrcBytes), Number(revBytes), "dstToSrc bytes (raw)");
  if (revPkts !== undefined) eq(raw(f.dstToSrcPackets), Number(revPkts), "dstToSrc packets (raw)");
  if (bytes !== undefined || revBytes !== undefined) {
    eq(Number(f.rawBytes), Number(bytes ?? 0) + Number(revBytes ?? 0), "rawBytes");
  }
  const inIf = first(rec, "cflow.inputint");
  const outIf = first(rec, "cflow.outputint");
  if (inIf !== undefined) eq(f.inIf, Number(inIf), "inIf");
  if (outIf !== undefined) eq(f.outIf, Number(outIf), "outIf");
  const flags = first(rec, "cflow.tcpflags");
  if (flags !== undefined) eq(f.srcTcpFlags, Number(flags) & 0xff, "srcTcpFlags");
  // tshark prints the epoch itself when a template has the end time before the start time
  // (softflowd does that): not a time to compare with.
  const abs = (name: string) => {
    const t = first(rec, name);
    return t === undefined || tsharkAbsTimeMs(t) === 0 ? undefined : tsharkAbsTimeMs(t);
  };
  const absStart = abs("cflow.abstimestart");
  const absEnd = abs("cflow.abstimeend");
  if (absStart !== undefined) eq(Number(f.firstSeenMs), absStart, "firstSeenMs");
  if (absEnd !== undefined) eq(Number(f.lastSeenMs), absEnd, "lastSeenMs");
  if (msg.version !== 10) {
    // v5/v9 switched times are sysUptime ms, anchored on the header's export time; the
    // difference is taken modulo 2^32 (softflowd's "first" of -1 ms just before the export).
    const exportMs = msg.exportSecs * 1000 + Math.floor(msg.exportNsecs / 1e6);
    const rel = (s: string) => {
      let d = (msg.sysUptimeMs - Math.round(Number(s) * 1000)) % 2 ** 32;
      if (d < -(2 ** 31)) d += 2 ** 32;
      else if (d >= 2 ** 31) d -= 2 ** 32;
      return exportMs - d;
    };
    const start = first(rec, "cflow.timestart");
    const end = first(rec, "cflow.timeend");
    if (start !== undefined && absStart === undefined) eq(Number(f.firstSeenMs), rel(start), "firstSeenMs (uptime)");
    if (end !== undefined && absEnd === undefined) eq(Number(f.lastSeenMs), rel(end), "lastSeenMs (uptime)");
  }
  return n;
}

describe("NetFlow/IPFIX decoder against tshark", { skip, concurrency: 2 }, () => {
  const tmp = skip ? "" : makeTempDir("netflow-tshark");
  const total = { flows: 0, values: 0, captures: 0 };
  after(() => {
    if (tmp) removeTempDir(tmp);
    if (skip || total.captures < cases().length) return; // a capture failed: that is the report
    // A regression that silently skipped records would still "match": count what was compared.
    assert.ok(total.flows >= 5000, `only ${total.flows} flows compared`);
    assert.ok(total.values >= 60000, `only ${total.values} values compared`);
  });

  for (const files of skip ? [] : cases()) {
    const name = files.map((f) => basename(f)).join(" + ");
    it(name, async () => {
      const pcap = files.length === 1 ? (files[0] as string) : join(tmp, `${basename(files[0] as string)}.merged.pcap`);
      if (files.length > 1) execFileSync("mergecap", ["-a", "-F", "pcap", "-w", pcap, ...files]);
      const { datagrams } = readUdpDatagrams(pcap);
      assert.ok(datagrams.length > 0, "no UDP datagrams");
      const ports = [...new Set(datagrams.map((d) => d.dstPort))];
      const frames = new Map((await tsharkDecode(pcap, ports)).map((f) => [f.frame, f]));
      const decoder = new NetflowDecoder({ pendingSetsMax: 0 }, () => 0);
      const divergence = DIVERGENCES[basename(pcap)];
      if (divergence) {
        const r = datagrams.map((d) => decoder.decode(d.payload, d.srcAddr, d.timestampMs));
        divergence.check(
          r.flatMap((x) => x.flows),
          Object.assign({}, ...r.map((x) => x.errors)),
        );
        total.captures++;
        return;
      }
      const optionsTemplates = new Set<string>();
      let flows = 0;
      for (const d of datagrams) {
        const r = decoder.decode(d.payload, d.srcAddr, d.timestampMs);
        const tf = frames.get(d.frame);
        const expected: Expected[] = [];
        let expectedOptions = 0;
        for (const msg of tf?.messages ?? []) {
          for (const t of msg.templates) if (t.options) optionsTemplates.add(`${d.frame}:${t.id}`);
          for (const rec of msg.v5Records) expected.push({ rec, msg });
          for (const s of msg.sets) {
            if (s.setId < 256 || s.templateFrame === undefined) continue;
            if (optionsTemplates.has(`${s.templateFrame}:${s.setId}`)) {
              expectedOptions += s.records.length;
              continue;
            }
            for (const rec of s.records) if (hasAddress(rec)) expected.push({ rec, msg });
          }
        }
        const where = `${name} frame ${d.frame}`;
        if (tf?.messages.some((m) => m.malformed)) {
          // tshark hit an exception part-way (e.g. an IPv4 field of length 2 from H3C): its
          // records up to there must match ours, the rest it never saw.
          assert.ok(r.flows.length >= expected.length, `${where}: fewer flows than tshark's partial decode`);
        } else {
          assert.equal(r.flows.length, expected.length, `${where}: flows (errors ${JSON.stringify(r.errors)})`);
          assert.equal(r.options.length, expectedOptions, `${where}: options records`);
        }
        r.flows.length = Math.min(r.flows.length, expected.length);
        r.flows.forEach((f, i) => {
          total.values += compare(f, expected[i] as Expected, `${where} record ${i + 1}`);
        });
        flows += r.flows.length;
      }
      assert.equal(decoder.internalErrorCount, 0, String(decoder.lastInternalError));
      total.flows += flows;
      total.captures++;
    });
  }
});
