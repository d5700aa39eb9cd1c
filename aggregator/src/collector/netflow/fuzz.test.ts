// Mutation fuzzing of the decoder for a bounded time (FLOWLENS_FUZZ_SECONDS, default 20): the
// real export datagrams of ../shared/testdata/flowexports, bit-flipped, truncated, spliced and
// with their length, count and field-length fields rewritten, interleaved with the originals so
// that templates exist and the data paths run. Every datagram must decode without an exception,
// every flow must be a valid flow record, the caches must stay within their limits, and the
// decoder must still decode clean input at the end. The seed is printed; FLOWLENS_FUZZ_SEED
// replays a run.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { flowToRecord } from "@flowlens/contracts";
import { corpusSum, fuzzSeed, type MutationFormat, mutateDatagram, rng } from "../fuzz-testing.js";
import { readUdpDatagrams } from "../pcap-udp.js";
import { NetflowDecoder, type NetflowLimits } from "./decoder.js";
import { flowexportFiles, flowexportsPresent } from "./testing.js";

const SECONDS = Number(process.env.FLOWLENS_FUZZ_SECONDS ?? 20);

function corpus(): Uint8Array[] {
  const out: Uint8Array[] = [];
  const pcaps = [
    ...flowexportFiles("akvorado", /^netflow_.*\.pcap$/),
    ...flowexportFiles("ndpi", /^netflow.*\.pcap$/),
    ...flowexportFiles("pmacct-test-automation", /\.pcap$/),
    ...flowexportFiles("logstash-codec-netflow/pcap", /\.pcap$/),
    ...flowexportFiles("ipfixcol2", /\.pcap$/),
  ];
  for (const f of pcaps) {
    for (const d of readUdpDatagrams(f).datagrams) {
      const v = (d.payload[0] ?? 0) * 256 + (d.payload[1] ?? 0);
      if (v === 5 || v === 9 || v === 10) out.push(new Uint8Array(d.payload));
    }
  }
  for (const f of flowexportFiles("logstash-codec-netflow", /\.dat$/)) out.push(new Uint8Array(readFileSync(f)));
  return out;
}

/** Offsets of 16-bit length/count fields: message length, set lengths, template counts and field lengths. */
function lengthFields(d: Uint8Array): number[] {
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const out: number[] = [2];
  if (d.length < 4) return out;
  const version = v.getUint16(0);
  let pos = version === 10 ? 16 : version === 9 ? 20 : d.length;
  while (pos + 4 <= d.length && out.length < 200) {
    const id = v.getUint16(pos);
    const len = v.getUint16(pos + 2);
    out.push(pos + 2);
    if (len < 4) break;
    if (id <= 3) {
      // Template records: count at +2, then (id, length) pairs; close enough for mutation targets.
      const end = Math.min(d.length, pos + len);
      for (let p = pos + 4; p + 4 <= end && out.length < 200; p += 4) out.push(p + 2);
    }
    pos += len;
  }
  return out;
}

const INTERESTING16 = [0, 1, 2, 3, 4, 5, 8, 16, 255, 256, 0x7fff, 0x8000, 0xfffe, 0xffff];

const FORMAT: MutationFormat = {
  lengthFields,
  width: 2,
  interesting: INTERESTING16,
  own(d, v, r) {
    if (d.length < 2) return;
    v.setUint16(r.int(d.length - 1), INTERESTING16[r.int(INTERESTING16.length)] as number);
  },
};

test(`fuzz: mutated real datagrams for ${SECONDS} s`, {
  skip: flowexportsPresent() ? false : "../shared/testdata/flowexports is missing",
  timeout: (SECONDS + 120) * 1000,
}, () => {
  const seed = fuzzSeed();
  const r = rng(seed);
  const pool = corpus();
  const before = corpusSum(pool);
  assert.ok(pool.length > 1000, `corpus of ${pool.length} datagrams`);
  const limits: Partial<NetflowLimits> = {
    maxSources: 16,
    maxTemplatesPerSource: 32,
    maxFieldsPerTemplate: 128,
    maxTemplateFieldsTotal: 4000,
    pendingSetsMax: 16,
    pendingBytesMax: 64 * 1024,
    pendingMs: 50,
  };
  const clock = { now: 0 };
  const dec = new NetflowDecoder(limits, () => clock.now);
  const exporters = ["192.0.2.1", "192.0.2.2", "2001:db8::1", "198.51.100.7"];
  const deadline = Date.now() + SECONDS * 1000;
  let n = 0;
  let flows = 0;
  let slowest = 0;
  const checkBounds = () => {
    const s = dec.stats();
    assert.ok(s.sources.length <= (limits.maxSources as number), `${s.sources.length} sources`);
    assert.ok(s.templateFields <= (limits.maxTemplateFieldsTotal as number), `${s.templateFields} template fields`);
    for (const src of s.sources) {
      assert.ok(src.templates + src.optionsTemplates <= (limits.maxTemplatesPerSource as number));
    }
    assert.ok(s.pendingSets <= (limits.pendingSetsMax as number), `${s.pendingSets} pending sets`);
    assert.ok(s.pendingBytes <= (limits.pendingBytesMax as number), `${s.pendingBytes} pending bytes`);
  };
  while (Date.now() < deadline) {
    for (let i = 0; i < 200; i++, n++) {
      const base = pool[r.int(pool.length)] as Uint8Array;
      const exporter =
        r.int(50) === 0 ? `10.${r.int(256)}.${r.int(256)}.${r.int(256)}` : (exporters[r.int(4)] as string);
      const input = r.int(3) === 0 ? base : mutateDatagram(base, pool[r.int(pool.length)] as Uint8Array, r, FORMAT);
      clock.now += r.int(20);
      const t = performance.now();
      const res = dec.decode(input, exporter, clock.now);
      slowest = Math.max(slowest, performance.now() - t);
      if (dec.internalErrorCount !== 0) {
        assert.fail(
          `seed ${seed}: exception on datagram ${n} (${Buffer.from(input).toString("hex")}): ${String(
            (dec.lastInternalError as Error)?.stack ?? dec.lastInternalError,
          )}`,
        );
      }
      for (const f of res.flows) flowToRecord(f);
      flows += res.flows.length;
    }
    checkBounds();
  }
  assert.equal(corpusSum(pool), before, "the corpus was modified");
  // Not stuck: a fresh exporter's clean datagrams decode as they would in a new decoder.
  const fresh = new NetflowDecoder({}, () => 0);
  let want = 0;
  let got = 0;
  for (const d of pool.slice(0, 300)) {
    want += fresh.decode(d, "203.0.113.9", 0).flows.length;
    got += dec.decode(d, "203.0.113.9", 0).flows.length;
  }
  assert.ok(want > 0);
  assert.equal(got, want, "the fuzzed decoder decodes clean input like a new one");
  const s = dec.stats();
  console.log(
    `fuzz seed ${seed}: ${n} datagrams, ${flows} flows, slowest decode ${slowest.toFixed(1)} ms, errors ${JSON.stringify(
      Object.fromEntries(Object.entries(s.errors).filter(([, v]) => v > 0)),
    )}`,
  );
  assert.ok(n > 1000, `only ${n} datagrams in ${SECONDS} s`);
  assert.ok(slowest < 1000, `a decode took ${slowest} ms`);
});
