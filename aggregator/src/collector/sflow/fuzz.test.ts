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

/** xorshift32: fast, and a seed reproduces a run. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n) };
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

function mutate(src: Uint8Array, other: Uint8Array, r: ReturnType<typeof rng>): Uint8Array {
  let d = new Uint8Array(src);
  const rounds = 1 + r.int(4);
  for (let k = 0; k < rounds; k++) {
    if (d.length === 0) d = new Uint8Array(other.subarray(0, 1 + r.int(other.length)));
    const v = new DataView(d.buffer);
    switch (r.int(8)) {
      case 0: {
        const flips = 1 + r.int(8);
        for (let i = 0; i < flips; i++) {
          const p = r.int(d.length);
          d[p] = (d[p] as number) ^ (1 << r.int(8));
        }
        break;
      }
      case 1:
        d = d.slice(0, r.int(d.length + 1));
        break;
      case 2:
      case 3: {
        const fields = lengthFields(d).filter((p) => p + 4 <= d.length);
        const p = fields[r.int(fields.length)];
        if (p === undefined) break;
        const old = v.getUint32(p);
        const choice = r.int(4);
        const val =
          choice === 0
            ? (INTERESTING32[r.int(INTERESTING32.length)] as number)
            : choice === 1
              ? old + r.int(17) - 8
              : choice === 2
                ? old * 2
                : r.int(2 ** 32);
        v.setUint32(p, val >>> 0);
        break;
      }
      case 4: {
        const len = 1 + r.int(Math.min(64, other.length));
        const from = r.int(Math.max(1, other.length - len));
        const to = r.int(Math.max(1, d.length - len));
        d.set(other.subarray(from, from + len).subarray(0, Math.max(0, d.length - to)), to);
        break;
      }
      case 5: {
        const p = r.int(d.length + 1);
        const n = 1 + r.int(8);
        d =
          r.int(2) === 0
            ? Uint8Array.from([...d.subarray(0, p), ...new Uint8Array(n).map(() => r.int(256)), ...d.subarray(p)])
            : Uint8Array.from([...d.subarray(0, p), ...d.subarray(p + n)]);
        break;
      }
      case 6: {
        if (d.length < 4) break;
        v.setUint32(r.int(d.length - 3), r.int(2) ? 0xffffffff : r.int(2 ** 32));
        break;
      }
      default: {
        // Header bytes of the sampled packet: flip inside the second half, where headers sit.
        if (d.length < 8) break;
        const p = (d.length >> 1) + r.int(d.length >> 1);
        d[p] = r.int(256);
      }
    }
  }
  return d;
}

test(`fuzz: mutated sFlow datagrams for ${SECONDS} s`, {
  skip: flowexportsPresent() ? false : "../shared/testdata/flowexports is missing",
  timeout: (SECONDS + 120) * 1000,
}, () => {
  const seed = Number(process.env.FLOWLENS_FUZZ_SEED ?? Date.now() % 2 ** 31);
  const r = rng(seed);
  const pool = corpus();
  const sum = () => pool.reduce((a, d) => d.reduce((x, y) => (x * 31 + y) >>> 0, a), 0);
  const before = sum();
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
      const input = r.int(3) === 0 ? base : mutate(base, pool[r.int(pool.length)] as Uint8Array, r);
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
  assert.equal(sum(), before, "the corpus was modified");
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
