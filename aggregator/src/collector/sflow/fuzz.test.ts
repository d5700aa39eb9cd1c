// Mutation fuzzing of the sFlow decoder for a bounded time (FLOWLENS_FUZZ_SECONDS, default 20),
// as the NetFlow decoder is fuzzed: the real sFlow datagrams of ../shared/testdata/flowexports
// plus built ones (counter samples, sampled IPv4 data), bit-flipped, truncated, spliced, and
// with their counts and length fields (samples, records, raw header lengths) rewritten. The raw
// headers go through the native packet decoder, so its bounds are fuzzed from here too. Every
// datagram must decode without an exception, every flow must be a valid flow record, sequence
// state must stay within its limit, and clean input must still decode at the end. The seed is
// printed; FLOWLENS_FUZZ_SEED replays a run.
import assert from "node:assert/strict";
import { test } from "node:test";
import { flowToRecord } from "@flowlens/contracts";
import { corpusSum, fuzzSeed, type MutationFormat, mutateDatagram, rng } from "../fuzz-testing.js";
import { flowexportFiles, flowexportsPresent } from "../netflow/testing.js";
import { readUdpDatagrams } from "../pcap-udp.js";
import { SflowDecoder } from "./decoder.js";
import { datagram, expandedCounterSample, flowSample, genericCounters, ipv4, Xdr } from "./testing.js";

const SECONDS = Number(process.env.FLOWLENS_FUZZ_SECONDS ?? 20);

function corpus(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const f of [...flowexportFiles("ndpi", /^sflow\.pcap$/), ...flowexportFiles("akvorado", /^sflow_.*\.pcap$/)]) {
    for (const d of readUdpDatagrams(f).datagrams) out.push(new Uint8Array(d.payload));
  }
  const v4 = new Xdr().u32(900, 6).bytes(ipv4("192.0.2.10")).bytes(ipv4("192.0.2.20")).u32(1, 2, 0x12, 0).done();
  out.push(
    datagram("192.0.2.50", 1, 9, [
      flowSample({ rate: 100, input: 1, output: 2 }, [new Xdr().framed(3, v4).done()]),
      expandedCounterSample(3, [
        genericCounters({ ifIndex: 3, speed: 1e9, inOctets: 1e6, outOctets: 2e6, inUcast: 10, outUcast: 20 }),
      ]),
    ]),
  );
  return out;
}

/** Offsets of the 32-bit counts and lengths: sample count, sample lengths, record counts and lengths, header lengths. */
function lengthFields(d: Uint8Array): number[] {
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const out: number[] = [];
  if (d.length < 8) return out;
  const addr = v.getUint32(4) === 2 ? 16 : 4;
  let p = 8 + addr + 12;
  if (p + 4 > d.length) return out;
  out.push(p);
  p += 4;
  while (p + 8 <= d.length && out.length < 200) {
    const format = v.getUint32(p);
    const len = v.getUint32(p + 4);
    out.push(p + 4);
    const body = p + 8;
    const type = format & 0xfff;
    const fixed = type === 1 ? 32 : type === 3 ? 44 : type === 2 ? 12 : type === 4 ? 16 : -1;
    if (fixed > 0 && body + fixed <= d.length) {
      out.push(body + fixed - 4);
      let r = body + fixed;
      const end = Math.min(d.length, body + len);
      while (r + 8 <= end && out.length < 200) {
        out.push(r + 4);
        if ((v.getUint32(r) & 0xfff) === 1 && r + 24 <= end) out.push(r + 20);
        const rl = v.getUint32(r + 4);
        if (rl > end - r) break;
        r += 8 + ((rl + 3) & ~3);
      }
    }
    if (len > d.length) break;
    p = body + ((len + 3) & ~3);
  }
  return out;
}

const INTERESTING32 = [0, 1, 2, 3, 4, 7, 8, 16, 88, 128, 255, 256, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

const FORMAT: MutationFormat = {
  lengthFields,
  width: 4,
  interesting: INTERESTING32,
  own(d, _v, r) {
    // Header bytes of the sampled packet: flip inside the second half, where headers sit.
    if (d.length < 8) return;
    d[(d.length >> 1) + r.int(d.length >> 1)] = r.int(256);
  },
};

test(`fuzz: mutated sFlow datagrams for ${SECONDS} s`, {
  skip: flowexportsPresent() ? false : "../shared/testdata/flowexports is missing",
  timeout: (SECONDS + 120) * 1000,
}, () => {
  const seed = fuzzSeed();
  const r = rng(seed);
  const pool = corpus();
  const before = corpusSum(pool);
  assert.ok(pool.length >= 20, `corpus of ${pool.length} datagrams`);
  const dec = new SflowDecoder({ maxSources: 16, headerBatch: 8 });
  const deadline = Date.now() + SECONDS * 1000;
  let n = 0;
  let flows = 0;
  let counters = 0;
  let slowest = 0;
  while (Date.now() < deadline) {
    for (let i = 0; i < 200; i++, n++) {
      const base = pool[r.int(pool.length)] as Uint8Array;
      const input = r.int(3) === 0 ? base : mutateDatagram(base, pool[r.int(pool.length)] as Uint8Array, r, FORMAT);
      const t = performance.now();
      const res = dec.decode(input, "192.0.2.99", n);
      slowest = Math.max(slowest, performance.now() - t);
      if (dec.internalErrorCount !== 0) {
        assert.fail(
          `seed ${seed}: exception on datagram ${n} (${Buffer.from(input).toString("hex")}): ${String(
            (dec.lastInternalError as Error)?.stack ?? dec.lastInternalError,
          )}`,
        );
      }
      for (const f of res.flows) flowToRecord(f);
      for (const c of res.counters) {
        assert.ok(Number.isSafeInteger(c.counters.inOctets) && Number.isSafeInteger(c.counters.outOctets));
      }
      flows += res.flows.length;
      counters += res.counters.length;
    }
    assert.ok(dec.stats().sources.length <= 16);
  }
  assert.equal(corpusSum(pool), before, "the corpus was modified");
  const fresh = new SflowDecoder();
  let want = 0;
  let got = 0;
  for (const d of pool) {
    want += fresh.decode(d, "203.0.113.9", 0).flows.length;
    got += dec.decode(d, "203.0.113.9", 0).flows.length;
  }
  assert.ok(want > 0);
  assert.equal(got, want, "the fuzzed decoder decodes clean input like a new one");
  const s = dec.stats();
  console.log(
    `sflow fuzz seed ${seed}: ${n} datagrams, ${flows} flows, ${counters} counter records, slowest decode ${slowest.toFixed(
      1,
    )} ms, errors ${JSON.stringify(Object.fromEntries(Object.entries(s.errors).filter(([, v]) => v > 0)))}`,
  );
  assert.ok(n > 1000, `only ${n} datagrams in ${SECONDS} s`);
  assert.ok(slowest < 1000, `a decode took ${slowest} ms`);
});
