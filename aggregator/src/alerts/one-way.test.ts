// Checks that judge whether a flow was answered (syn-flood, port-scan's unanswered-only mode)
// on exporters' records, through the real collector: a NetFlow v9 or uniflow IPFIX record has
// one direction of its flow, the reply (if any) being a record of its own, so a busy server's
// clients must not look like a SYN flood, nor a client's connections like a scan. IPFIX biflows
// (RFC 5103 reverse elements) carry the reply, and are judged as agents' flows are.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import { CollectorListener } from "../collector/listener.js";
import { NetflowDecoder } from "../collector/netflow/decoder.js";
import { dataSet, ipfixMessage, ipfixTemplate, ipfixTemplateSet, type Spec } from "../collector/netflow/testing.js";
import { SequenceDeduper } from "../ingest/dedupe.js";
import { IngestPipeline } from "../ingest/pipeline.js";
import { LocalNetworks } from "../networks.js";
import { defaultStateConfig, LiveState } from "../state/live-state.js";
import { AlertEngine } from "./engine.js";
import { rules } from "./testing.js";

const EXPORT_SECS = 1_700_000_000;
const T = EXPORT_SECS * 1000;
const RFC5103 = 29305;
const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;

interface Rec {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  flags: number;
  packets: number;
  ms: number;
  /** Biflow only: the reply's packets and flags. */
  revPackets?: number;
  revFlags?: number;
}

const UNIFLOW: Spec[] = [
  [8, 4], // sourceIPv4Address
  [12, 4], // destinationIPv4Address
  [7, 2], // sourceTransportPort
  [11, 2], // destinationTransportPort
  [4, 1], // protocolIdentifier
  [6, 2], // tcpControlBits
  [2, 4], // packetDeltaCount
  [1, 4], // octetDeltaCount
  [152, 8], // flowStartMilliseconds
  [153, 8], // flowEndMilliseconds
];
const BIFLOW: Spec[] = [...UNIFLOW, [6, 2, RFC5103], [2, 4, RFC5103], [1, 4, RFC5103]];

function ip4(s: string): number[] {
  return s.split(".").map(Number);
}

function record(r: Rec, biflow: boolean): Uint8Array {
  const b: number[] = [...ip4(r.src), ...ip4(r.dst)];
  const u16 = (v: number) => b.push((v >> 8) & 255, v & 255);
  const u32 = (v: number) => b.push((v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
  const u64 = (v: number) => {
    u32(Math.floor(v / 2 ** 32));
    u32(v >>> 0);
  };
  u16(r.sport);
  u16(r.dport);
  b.push(6);
  u16(r.flags);
  u32(r.packets);
  u32(r.packets * 60);
  u64(r.ms);
  u64(r.ms + 5);
  if (biflow) {
    u16(r.revFlags ?? 0);
    u32(r.revPackets ?? 0);
    u32((r.revPackets ?? 0) * 60);
  }
  return Uint8Array.from(b);
}

/** The records as IPFIX datagrams of one exporter (template first), 50 records per datagram. */
function datagrams(records: Rec[], biflow: boolean): Buffer[] {
  const id = biflow ? 257 : 256;
  const out = [Buffer.from(ipfixMessage([ipfixTemplateSet([ipfixTemplate(id, biflow ? BIFLOW : UNIFLOW)])]))];
  for (let i = 0; i < records.length; i += 50) {
    const set = dataSet(
      id,
      records.slice(i, i + 50).map((r) => record(r, biflow)),
    );
    out.push(Buffer.from(ipfixMessage([set], { exportSecs: EXPORT_SECS, seq: i })));
  }
  return out;
}

/** Engaged alerts (rule and entity) after the records went through collector, state and engine. */
async function engagedAfter(records: Rec[], biflow: boolean, ruleInputs: Array<Record<string, unknown>>) {
  const engine = new AlertEngine({ logger: pino({ level: "silent" }), clock: () => T + 1000 });
  engine.setRules(rules(...ruleInputs));
  const pipeline = new IngestPipeline(
    new LiveState(defaultStateConfig(), new LocalNetworks([])),
    new SequenceDeduper(),
  );
  pipeline.observer = engine;
  const listener = new CollectorListener(
    { host: "127.0.0.1", ports: [], recvBufferBytes: 0 },
    new NetflowDecoder({ communityId: false }),
    pipeline.collected,
  );
  for (const d of datagrams(records, biflow)) listener.receive(d, "192.0.2.99");
  assert.equal(listener.stats().records, records.length, JSON.stringify(listener.stats().decodeErrors));
  await engine.evaluate();
  return engine
    .engagedAlerts()
    .map((a) => `${a.rule} ${a.entity.value}`)
    .sort();
}

const SYN_FLOOD = { name: "syn-flood", severity: "error", check: { name: "syn-flood" } };
const PORT_SCAN = { name: "port-scan", severity: "warning", check: { name: "port-scan" } };
const PORT_SCAN_ALL = {
  name: "port-scan",
  severity: "warning",
  check: { name: "port-scan", params: { unansweredOnly: false } },
};

/** 60 clients opening 10 connections each to a web server within a second, and its replies. */
function busyServer(): Rec[] {
  const out: Rec[] = [];
  for (let c = 0; c < 60; c++) {
    for (let k = 0; k < 10; k++) {
      const client = `10.1.0.${c + 1}`;
      const sport = 40000 + k;
      const ms = T - 900 + c * 10 + k;
      out.push({ src: client, dst: "10.2.0.1", sport, dport: 443, flags: SYN | ACK | 0x18 | 0x01, packets: 5, ms });
      out.push({
        src: "10.2.0.1",
        dst: client,
        sport: 443,
        dport: sport,
        flags: SYN | ACK | 0x18 | 0x01,
        packets: 4,
        ms,
      });
    }
  }
  return out;
}

/** The same server under a SYN flood: 600 SYNs from 60 sources, none answered. */
function flooded(answer: boolean): Rec[] {
  return busyServer()
    .filter((r) => r.dst === "10.2.0.1")
    .map((r) => ({
      ...r,
      flags: answer ? SYN | ACK : SYN,
      packets: 1,
      revPackets: answer ? 1 : 0,
      revFlags: answer ? SYN | ACK : 0,
    }));
}

/** One source trying 300 ports of one host: SYNs, each refused (RST) in a biflow. */
function scan(): Rec[] {
  return Array.from({ length: 300 }, (_, p) => ({
    src: "10.3.0.1",
    dst: "10.2.0.9",
    sport: 50000,
    dport: p + 1,
    flags: SYN,
    packets: 1,
    ms: T - 900 + p,
    revPackets: 1,
    revFlags: RST | ACK,
  }));
}

describe("alerts on one-way exported records", () => {
  it("a busy server's clients in uniflow records are no SYN flood (the replies are records of their own)", async () => {
    assert.deepEqual(await engagedAfter(busyServer(), false, [SYN_FLOOD]), []);
  });

  it("unanswered SYNs in biflow records are one, answered ones are not", async () => {
    assert.deepEqual(await engagedAfter(flooded(false), true, [SYN_FLOOD]), ["syn-flood 10.2.0.1"]);
    assert.deepEqual(await engagedAfter(flooded(true), true, [SYN_FLOOD]), []);
  });

  it("a scan needs the replies to count as unanswered; counting every attempt finds it in uniflow records", async () => {
    assert.deepEqual(await engagedAfter(scan(), true, [PORT_SCAN]), ["port-scan 10.3.0.1"]);
    assert.deepEqual(await engagedAfter(scan(), false, [PORT_SCAN]), []);
    assert.deepEqual(await engagedAfter(scan(), false, [PORT_SCAN_ALL]), ["port-scan 10.3.0.1"]);
  });
});
