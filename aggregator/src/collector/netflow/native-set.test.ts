// The addon's data set decoder against the JS one: every NetFlow v9/IPFIX datagram of the test
// data, and mutations of them, decoded by a decoder whose records decode sets in C and by one
// all in JS, must give the same records byte for byte, and the same errors.
import assert from "node:assert/strict";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { FlowRecords } from "../flow-records.js";
import { readUdpDatagrams } from "../pcap-udp.js";
import { NetflowDecoder } from "./decoder.js";
import { Kind } from "./fields.js";
import { nativePlan, nativeSets } from "./native-set.js";
import { FLOWEXPORTS, flowexportsPresent } from "./testing.js";

const noNative = nativeSets() === null ? "the native addon is not built (make native)" : false;
const noData = flowexportsPresent() ? false : "../shared/testdata/flowexports is missing";

/** Every capture under a folder, sorted (template captures after their data: buffered records). */
function captures(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...captures(p));
    else if (/\.pcap$/.test(name)) out.push(p);
  }
  return out;
}

interface Side {
  decoder: NetflowDecoder;
  records: FlowRecords;
}

function side(native: boolean): Side {
  return { decoder: new NetflowDecoder({}, () => 0), records: new FlowRecords(native) };
}

/** Decodes one datagram on both sides; returns the records, asserting they are the same. */
function both(c: Side, js: Side, d: Uint8Array, exporter: string, what: string): number {
  c.records.clear();
  js.records.clear();
  const a = c.decoder.decodeInto(d, exporter, 0, c.records);
  const aErrors = { ...a.errors };
  const b = js.decoder.decodeInto(d, exporter, 0, js.records);
  assert.deepEqual(aErrors, { ...b.errors }, `${what}: errors`);
  assert.equal(c.records.length, js.records.length, `${what}: records`);
  const x = c.records.records;
  const y = js.records.records;
  for (let i = 0; i < js.records.length; i++) {
    const f = x[i];
    const g = y[i];
    assert.ok(f && g);
    const bytes = (r: typeof f) => Buffer.from((r.buf as Uint8Array).subarray(r.start, r.end)).toString("hex");
    assert.equal(bytes(f), bytes(g), `${what}: record ${i}`);
    assert.deepEqual(
      [f.srcAddr, f.dstAddr, f.communityId, f.oneWay, f.l7, f.exporter, f.srcToDstBytes, f.firstSeenMs],
      [g.srcAddr, g.dstAddr, g.communityId, g.oneWay, g.l7, g.exporter, g.srcToDstBytes, g.firstSeenMs],
      `${what}: record ${i} as the state reads it`,
    );
  }
  return js.records.length;
}

describe("collector: data sets decoded in C", { skip: noNative || noData }, () => {
  it("reads plans of fixed-length fields it knows, and leaves the rest to JS", () => {
    const k = (...xs: number[]) => Uint8Array.from(xs);
    const l = (...xs: number[]) => Uint16Array.from(xs);
    assert.ok(nativePlan(false, k(Kind.SrcAddr4, Kind.DstAddr4, Kind.Octets), l(4, 4, 8)));
    assert.ok(nativePlan(false, k(Kind.SrcAddr6, Kind.SamplingInterval, Kind.Skip), l(16, 4, 300)));
    assert.equal(nativePlan(true, k(Kind.SrcAddr4), l(4)), null, "options");
    assert.equal(nativePlan(false, k(Kind.SrcAddr4, Kind.Skip), l(4, 0xffff)), null, "variable length");
    assert.equal(nativePlan(false, k(Kind.SrcAddr4, Kind.L7Name), l(4, 32)), null, "L7 names");
    assert.equal(nativePlan(false, k(Kind.SrcAddr4, Kind.SamplerId), l(4, 1)), null, "sampler ids");
    assert.equal(nativePlan(false, k(Kind.SrcAddr4, Kind.DataLinkFrame), l(4, 128)), null, "frames");
    assert.equal(nativePlan(false, k(Kind.SrcAddr4, Kind.Octets), l(4, 9)), null, "a 9-byte counter");
  });

  it("gives the JS decoder's records for every datagram of the test data", () => {
    let records = 0;
    let files = 0;
    for (const file of captures(FLOWEXPORTS)) {
      const c = side(true);
      const js = side(false);
      files++;
      readUdpDatagrams(file).datagrams.forEach((d, i) => {
        records += both(c, js, d.payload, d.srcAddr, `${file} #${i}`);
      });
    }
    assert.ok(files > 30 && records > 5000, `${files} captures, ${records} records`);
  });

  it("gives the JS decoder's records for mutated datagrams (values, lengths, times, directions)", () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed % n;
    };
    let records = 0;
    for (const file of captures(FLOWEXPORTS)) {
      const c = side(true);
      const js = side(false);
      const datagrams = readUdpDatagrams(file).datagrams;
      // The originals first, so that both learn the templates; then mutants of each.
      for (const d of datagrams) both(c, js, d.payload, d.srcAddr, file);
      for (let round = 0; round < 40; round++) {
        for (const [i, d] of datagrams.entries()) {
          const m = Uint8Array.from(d.payload);
          // Past the header mostly: records' values, set lengths now and then.
          for (let k = 0; k < 1 + rand(6); k++) m[rand(m.length - 4) + 4] = rand(4) === 0 ? 0xff : rand(256);
          records += both(c, js, m, d.srcAddr, `${file} #${i} round ${round}`);
        }
      }
    }
    assert.ok(records > 10000, `${records} records compared`);
  });
});
