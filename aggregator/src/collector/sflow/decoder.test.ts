// The sFlow decoder on datagrams built here field by field: what each sample becomes, how
// interfaces, sampling and VLANs map onto the flow record, sequence gaps, and every kind of bad
// input counted by its reason (no exception, nothing decoded from garbage).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { flowToRecord } from "@flowlens/contracts";
import { LocalNetworks } from "../../networks.js";
import { defaultStateConfig, LiveState } from "../../state/live-state.js";
import { SflowDecoder } from "./decoder.js";
import { headerDecoderError } from "./headers.js";
import { SequenceTracker } from "./sequence.js";
import {
  datagram,
  expandedCounterSample,
  flowSample,
  genericCounters,
  ipv4,
  rawHeaderRecord,
  tcpFrame,
  Xdr,
} from "./testing.js";

const native = headerDecoderError() || false;

function oneFlow(rate: number, input: number, output: number, records: Uint8Array[], seq = 1): Uint8Array {
  return datagram("192.0.2.1", 7, seq, [flowSample({ rate, input, output }, records)]);
}

describe("sFlow decoder", () => {
  it("turns a raw-header flow sample into a scaled flow (probe decoder)", { skip: native }, () => {
    const d = new SflowDecoder();
    const frame = tcpFrame("10.0.0.1", "10.0.0.2", 40000, 443, 1500, 42);
    const r = d.decode(oneFlow(512, 3, 4, [rawHeaderRecord(frame, 1518)]), "198.51.100.9", 1_700_000_000_123);
    assert.deepEqual(r.errors, {});
    assert.equal(r.flows.length, 1);
    const f = flowToRecord(r.flows[0] as never);
    assert.equal(f.srcAddr, "10.0.0.1");
    assert.equal(f.dstAddr, "10.0.0.2");
    assert.equal(f.srcPort, 40000);
    assert.equal(f.dstPort, 443);
    assert.equal(f.proto, 6);
    assert.equal(f.vlan, 42);
    assert.equal(f.srcTcpFlags, 0x12);
    // IP bytes: the IP header's total length, scaled; the frame length (1518) is not IP bytes.
    assert.equal(f.rawBytes, 1500);
    assert.equal(f.rawPackets, 1);
    assert.equal(f.srcToDstBytes, 1500 * 512);
    assert.equal(f.srcToDstPackets, 512);
    assert.equal(f.samplingRate, 512);
    assert.equal(f.exporter, "192.0.2.1", "the agent address, not the UDP source");
    assert.equal(f.observationDomain, 7);
    assert.equal(f.exportVersion, "sflow5");
    assert.equal(f.inIf, 3);
    assert.equal(f.outIf, 4);
    assert.equal(f.firstSeenMs, 1_700_000_000_123);
    assert.ok(f.communityId?.startsWith("1:"));
  });

  it("maps discard, multiple and local interfaces to 0 and counts discards", { skip: native }, () => {
    const d = new SflowDecoder();
    const frame = tcpFrame("10.0.0.1", "10.0.0.2", 1, 2, 60);
    const rec = [rawHeaderRecord(frame, 64)];
    const discard = d.decode(oneFlow(1, 5, (1 << 30) | 3, rec, 1), "x", 0).flows[0];
    const multiple = d.decode(oneFlow(1, 5, (2 << 30) | 7, rec, 2), "x", 0).flows[0];
    const local = d.decode(oneFlow(1, 0x3fffffff, 9, rec, 3), "x", 0).flows[0];
    assert.equal(discard?.outIf, 0);
    assert.equal(multiple?.outIf, 0);
    assert.equal(local?.inIf, 0);
    assert.equal(local?.outIf, 9);
    assert.equal(d.stats().discardedSamples, 1);
  });

  it("uses sampled IPv4 data and the extended switch VLAN when there is no header", () => {
    const d = new SflowDecoder();
    const v4 = new Xdr().u32(1000, 17).bytes(ipv4("192.0.2.10")).bytes(ipv4("192.0.2.20")).u32(5353, 53, 0, 0).done();
    const sw = new Xdr().u32(12, 0, 13, 0).done();
    const records = [new Xdr().framed(3, v4).done(), new Xdr().framed(1001, sw).done()];
    const r = d.decode(oneFlow(10, 1, 2, records), "x", 0);
    assert.deepEqual(r.errors, {});
    const f = r.flows[0];
    assert.ok(f);
    assert.equal(f.srcAddr, "192.0.2.10");
    assert.equal(f.dstPort, 53);
    assert.equal(f.proto, 17);
    assert.equal(f.vlan, 12);
    assert.equal(f.srcToDstBytes, 10_000n);
  });

  it("counts a non-IP header by the probe decoder's reason and makes no flow", { skip: native }, () => {
    const d = new SflowDecoder();
    const arp = Uint8Array.from([...new Array(12).fill(1), 0x08, 0x06, ...new Array(28).fill(0)]);
    const r = d.decode(oneFlow(1, 1, 2, [rawHeaderRecord(arp, 64)]), "x", 0);
    assert.equal(r.flows.length, 0);
    assert.deepEqual(r.errors, { header_not_ip: 1 });
  });

  it("reads generic interface counters with Ethernet counters of an expanded counter sample", () => {
    const d = new SflowDecoder();
    const eth = new Xdr().framed(2, new Xdr().u32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13).done()).done();
    const gen = genericCounters({
      ifIndex: 17,
      speed: 10e9,
      inOctets: 2 ** 40,
      outOctets: 5,
      inUcast: 100,
      outUcast: 200,
      inErrors: 3,
      outDiscards: 4,
    });
    const r = d.decode(datagram("192.0.2.1", 0, 1, [expandedCounterSample(17, [gen, eth])]), "x", 42);
    assert.deepEqual(r.errors, {});
    assert.equal(r.counters.length, 1);
    const c = r.counters[0];
    assert.equal(c?.exporter, "192.0.2.1");
    assert.equal(c?.ifIndex, 17);
    assert.equal(c?.counters.inOctets, 2 ** 40);
    assert.equal(c?.counters.inPackets, 115);
    assert.equal(c?.counters.outPackets, 203);
    assert.equal(c?.counters.inErrors, 3);
    assert.equal(c?.counters.outDiscards, 4);
    assert.equal(c?.counters.speedBps, 10e9);
    assert.equal(c?.counters.operUp, true);
    assert.equal(c?.counters.direction, "full-duplex");
    assert.equal(c?.counters.ethernet?.fcsErrors, 2);
    assert.equal(c?.counters.ethernet?.symbolErrors, 13);
    assert.equal(c?.counters.atMs, 42);
  });

  it("feeds the live state: latest counters, deltas across 32-bit wraps and resets, lost datagrams", () => {
    const state = new LiveState(defaultStateConfig(), new LocalNetworks([]));
    const d = new SflowDecoder();
    const sample = (seq: number, inOctets: number, inUcast: number) =>
      datagram("192.0.2.1", 0, seq, [
        expandedCounterSample(1, [
          genericCounters({ ifIndex: 1, speed: 1e9, inOctets, outOctets: 0, inUcast, outUcast: 0 }),
        ]),
      ]);
    for (const [seq, octets, pkts] of [
      [1, 1000, 4294967000],
      [2, 3000, 100], // packets wrapped at 2^32: +396 (minus the 15 mcast/bcast that stay)
      [5, 2000, 200], // octets went back (64-bit): a reset; sequence 3 and 4 lost
    ] as const) {
      const r = d.decode(sample(seq, octets, pkts), "x", seq * 1000);
      for (const c of r.counters) state.applyInterfaceCounters(c.exporter, c.ifIndex, c.counters);
      if (r.lost !== 0) state.applyExporterLoss(r.agent, r.lost);
    }
    const i = state.interfaces("192.0.2.1")?.[0];
    assert.ok(i?.counterDeltas);
    assert.equal(i.counters?.inOctets, 2000);
    assert.equal(i.counterDeltas.samples, 3);
    assert.equal(i.counterDeltas.resets, 1);
    assert.equal(i.counterDeltas.totals.inOctets, 2000 + 2000);
    assert.equal(i.counterDeltas.totals.inPackets, 396 + 100);
    assert.equal(i.counterDeltas.last.inOctets, 2000);
    assert.equal(i.counterDeltas.lastSpanMs, 3000);
    assert.equal(state.exporters().find((e) => e.exporter === "192.0.2.1")?.datagramsLost, 2);
    assert.equal(d.stats().datagramsLost, 2);
  });

  it("skips unknown samples and records by their length and decodes what follows", { skip: native }, () => {
    const d = new SflowDecoder();
    const unknownSample = new Xdr().framed(99, new Uint8Array(12)).done();
    const enterpriseSample = new Xdr().framed((4413 << 12) | 1, new Uint8Array(20)).done();
    const unknownRecord = new Xdr().framed(2000, new Uint8Array(7)).done();
    const frame = tcpFrame("10.0.0.1", "10.0.0.2", 1, 2, 60);
    const r = d.decode(
      datagram("192.0.2.1", 0, 1, [
        unknownSample,
        enterpriseSample,
        flowSample({ rate: 1, input: 1, output: 2 }, [unknownRecord, rawHeaderRecord(frame, 64)]),
      ]),
      "x",
      0,
    );
    assert.deepEqual(r.errors, { unknown_sample: 2, unknown_flow_record: 1 });
    assert.equal(r.flows.length, 1);
  });

  it("counts bad input by reason and never throws", () => {
    const d = new SflowDecoder();
    const good = oneFlow(1, 1, 2, [rawHeaderRecord(tcpFrame("10.0.0.1", "10.0.0.2", 1, 2, 60), 64)]);
    assert.deepEqual(d.decode(new Uint8Array(3), "x", 0).errors, { truncated: 1 });
    assert.deepEqual(d.decode(new Xdr().u32(4, 1, 0, 0, 0, 0, 0).done(), "x", 0).errors, { bad_version: 1 });
    assert.deepEqual(d.decode(new Xdr().u32(5, 3, 0, 0, 0, 0, 0).done(), "x", 0).errors, { bad_address_type: 1 });
    // An absurd sample count: flagged, nothing invented.
    const absurd = new Xdr().u32(5, 1).bytes([1, 2, 3, 4]).u32(0, 1, 0, 0xffffffff).done();
    const ra = d.decode(absurd, "x", 0);
    assert.deepEqual(ra.errors, { bad_count: 1 });
    assert.equal(ra.flows.length, 0);
    // A sample length past the end.
    const long = new Uint8Array(good);
    new DataView(long.buffer).setUint32(32, 0xfffffff0);
    assert.deepEqual(d.decode(long, "x", 0).errors, { truncated: 1 });
    // Sampling rate 0: counted, taken as 1.
    const zero = oneFlow(0, 1, 2, [new Xdr().framed(3, new Uint8Array(32)).done()]);
    const rz = d.decode(zero, "x", 0);
    assert.equal(rz.errors.bad_sampling_rate, 1);
    assert.equal(rz.flows[0]?.samplingRate, 1n);
    // A raw header record whose header length runs past the record.
    const badHdr = new Xdr().framed(1, new Xdr().u32(1, 64, 0, 500).bytes(new Uint8Array(8)).done()).done();
    assert.equal(d.decode(oneFlow(1, 1, 2, [badHdr]), "x", 0).errors.bad_length, 1);
    // Every prefix of a good datagram.
    for (let n = 0; n < good.length; n++) {
      const r = d.decode(good.subarray(0, n), "x", 0);
      assert.ok(r.flows.length === 0 || n >= good.length - 3, `prefix ${n}`);
      assert.ok(Object.keys(r.errors).length > 0 || n === 0, `prefix ${n}: ${JSON.stringify(r.errors)}`);
    }
    assert.equal(d.internalErrorCount, 0, String(d.lastInternalError));
  });

  it("decodes more samples than one native batch holds", { skip: native }, () => {
    const d = new SflowDecoder({ headerBatch: 4 });
    const samples = Array.from({ length: 11 }, (_, i) =>
      flowSample({ rate: 2, input: 1, output: 2 }, [
        rawHeaderRecord(tcpFrame("10.0.0.1", "10.0.0.2", 1000 + i, 80, 60), 64),
      ]),
    );
    const r = d.decode(datagram("192.0.2.1", 0, 1, samples), "x", 0);
    assert.deepEqual(r.errors, {});
    assert.deepEqual(
      r.flows.map((f) => f.srcPort),
      Array.from({ length: 11 }, (_, i) => 1000 + i),
    );
  });
});

describe("native decodeHeaders()", { skip: native }, () => {
  it("refuses jobs outside the data and output too small for the count", async () => {
    const { nativeEngine } = await import("@flowlens/agent/engine");
    const e = nativeEngine();
    const data = tcpFrame("10.0.0.1", "10.0.0.2", 1, 2, 60);
    const out = new Uint8Array(e.headerLayout.size * 2);
    assert.equal(e.decodeHeaders(data, Uint32Array.of(0, data.length, 1), 1, out), 1);
    assert.equal(out[e.headerLayout.offsets.proto], 6);
    assert.throws(() => e.decodeHeaders(data, Uint32Array.of(4, data.length, 1), 1, out), /outside data/);
    assert.throws(() => e.decodeHeaders(data, Uint32Array.of(0, 1, 1, 0, 1, 1, 0, 1, 1), 3, out), /too small/);
    assert.throws(() => e.decodeHeaders(data, new Uint32Array(3), 1, new Uint16Array(64) as never), /decodeHeaders\(/);
  });
});

describe("sequence tracker", () => {
  it("counts gaps, takes back late arrivals, and restarts on a jump back", () => {
    const t = new SequenceTracker(2);
    assert.equal(t.observe("a", 1000), 0);
    assert.equal(t.observe("a", 1001), 0);
    assert.equal(t.observe("a", 1005), 3);
    assert.equal(t.observe("a", 1003), -1, "1003 arrived late");
    assert.equal(t.observe("a", 1003), 0, "a duplicate");
    assert.equal(t.observe("a", 1001), 0, "a duplicate of one in order");
    assert.equal(t.observe("a", 1), 0, "restart");
    assert.equal(t.observe("a", 2), 0);
    assert.equal(t.lost, 2, "1002 and 1004");
    assert.equal(t.stats()[0]?.restarts, 1);
    assert.equal(t.observe("w", 0xfffffffe), 0);
    assert.equal(t.observe("w", 1), 2, "wraps through 0: 0xffffffff and 0 lost");
    assert.equal(t.lost, 4);
    t.observe("c", 1);
    assert.equal(t.size, 2);
    assert.equal(t.evictions, 1);
    assert.deepEqual(
      t.stats().map((x) => x.source),
      ["w", "c"],
    );
  });
});
