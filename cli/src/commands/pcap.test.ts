// `flowlens pcap` NDJSON is printed by the engine (agent/native/src/ndjson.c); what it must
// print is JSON.stringify(toRecord(f)) of the flow BatchDecoder decodes from the same record.
// These tests hold the two paths together byte for byte: on every flow of every test capture,
// on records made up to reach every branch (numbers past 2^53, any bytes in strings), and
// through the command itself.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { BatchDecoder, type EngineFlow, nativeEngine, readPcap } from "@flowlens/agent";
import { makeTempDir, repoRoot } from "@flowlens/testkit";
import { parseCommandArgs } from "../command.js";
import { pcapCommand, toRecord } from "./pcap.js";

const pcaps = join(repoRoot, "../shared/testdata/pcaps");
const captures = readdirSync(pcaps, { recursive: true, encoding: "utf8" })
  .filter((f) => /\.(pcap|pcapng|cap)$/.test(f))
  .sort()
  .map((f) => join(pcaps, f));

const jsLines = (flows: EngineFlow[]) => flows.map((f) => `${JSON.stringify(toRecord(f))}\n`).join("");

/** Both renderings of every batch of a capture, from the same batch buffers. */
async function bothWays(file: string, dpi: boolean): Promise<{ native: string; js: string; flows: number }> {
  const native = nativeEngine();
  const decoder = new BatchDecoder(native.flowLayout, native.riskNames);
  let nat = "";
  let js = "";
  let flows = 0;
  await new Promise<void>((resolve, reject) => {
    try {
      native.readPcap(
        { files: [file], dpi },
        (buffer, count) => {
          // The buffer is only valid during this call.
          nat += native.formatNdjson(buffer, count).toString("utf8");
          js += jsLines(decoder.decode(buffer, count));
          flows += count;
        },
        () => resolve(),
      );
    } catch (err) {
      reject(err);
    }
  });
  return { native: nat, js, flows };
}

function firstDifference(a: string, b: string): string {
  const la = a.split("\n");
  const lb = b.split("\n");
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) return `line ${i + 1}:\n native: ${la[i]}\n js:     ${lb[i]}`;
  }
  return "";
}

describe("flowlens pcap NDJSON: engine vs JSON.stringify(toRecord(f))", () => {
  it("finds the test captures", () => assert.ok(captures.length >= 80, `${captures.length} captures`));

  for (const dpi of [true, false]) {
    it(`is byte-identical on every flow of every test capture, ${dpi ? "with" : "without"} DPI`, async () => {
      let total = 0;
      let withInfo = 0;
      let withTunnel = 0;
      for (const file of captures) {
        let r: Awaited<ReturnType<typeof bothWays>>;
        try {
          r = await bothWays(file, dpi);
        } catch (err) {
          // A capture the engine refuses (not a capture, unsupported link) has no flows to compare.
          assert.equal((err as { code?: string }).code, "BAD_CAPTURE", `${file}: ${err}`);
          continue;
        }
        if (r.native !== r.js) assert.fail(`${file}: ${firstDifference(r.native, r.js)}`);
        total += r.flows;
        withInfo += (r.js.match(/"info":/g) ?? []).length;
        withTunnel += (r.js.match(/"tunnel":/g) ?? []).length;
      }
      // The comparison covered what it is about: many flows, metadata with DPI, tunnels.
      assert.ok(total > 5000, `${total} flows`);
      assert.ok(withTunnel > 0, "no flow came through a tunnel");
      if (dpi) assert.ok(withInfo > 500, `${withInfo} flows with info`);
      else assert.equal(withInfo, 0);
    });
  }
});

// ---- made-up records: every branch of the formatter and of the decoder ----

/** A small deterministic generator (xorshift32), so a failure can be replayed. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  return {
    u32: next,
    int: (n: number) => next() % n,
    pick: <T>(xs: readonly T[]): T => xs[next() % xs.length] as T,
    chance: (p: number) => next() / 4294967296 < p,
  };
}
type Rng = ReturnType<typeof rng>;

/** Byte strings of the kinds a packet can carry into host, URL, user agent or DNS query. */
function randomBytes(r: Rng, max: number): number[] {
  const pieces: number[][] = [
    [0xef, 0xbb, 0xbf], // BOM (dropped by TextDecoder only at the start)
    [0xe2, 0x80, 0xa8], // U+2028, not escaped by JSON.stringify
    [0xc3, 0xa9], // é
    [0xe6, 0x97, 0xa5], // 日
    [0xf0, 0x9f, 0x98, 0x80], // 😀, a surrogate pair in JS
    [0xf4, 0x8f, 0xbf, 0xbf], // U+10FFFF
    [0xed, 0x9f, 0xbf], // U+D7FF, last before the surrogates
    [0xed, 0xa0, 0x80], // an encoded surrogate: invalid
    [0xe0, 0x80, 0xaf], // overlong
    [0xc0, 0xaf], // overlong
    [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
    [0xf0, 0x90, 0x80], // truncated 4-byte sequence
    [0xe2, 0x82], // truncated 3-byte sequence
    [0x22], // "
    [0x5c], // \
    [0x7f], // DEL, not escaped
    [0x2f], // /, not escaped
  ];
  const out: number[] = [];
  const len = r.chance(0.1) ? 0 : r.int(max + 1);
  while (out.length < len) {
    const k = r.int(6);
    if (k === 0)
      out.push(r.int(0x20)); // control characters, NUL included
    else if (k === 1)
      out.push(0x80 + r.int(0x80)); // any high byte: lone continuations, leads
    else if (k === 2) out.push(...r.pick(pieces));
    else out.push(0x20 + r.int(0x5f)); // printable ASCII
  }
  if (r.chance(0.05)) return [0xef, 0xbb, 0xbf]; // only a BOM: decodes to ""
  return out.slice(0, max);
}

const U64_EDGES = [
  0n,
  1n,
  2n ** 32n - 1n,
  2n ** 32n,
  2n ** 53n - 1n,
  2n ** 53n,
  2n ** 53n + 1n,
  2n ** 63n,
  2n ** 64n - 1n,
];
function randomU64(r: Rng): bigint {
  switch (r.int(5)) {
    case 0:
      return r.pick(U64_EDGES);
    case 1:
      return BigInt(r.u32());
    case 2: // microsecond timestamps and byte counts as they come
      return BigInt(r.u32()) * 1000n + BigInt(r.int(1000));
    case 3: // just past 2^53, where doubles start to skip integers
      return 2n ** 53n + BigInt(r.u32()) * BigInt(r.int(4096));
    default:
      return (BigInt(r.u32()) << 32n) | BigInt(r.u32());
  }
}

/** Serializes records in the engine's batch layout (flowLayout). */
function encodeBatch(records: ((view: DataView, at: (field: string) => number) => number[][])[]): ArrayBuffer {
  const { flowLayout: layout } = nativeEngine();
  const parts: Uint8Array[] = [];
  for (const make of records) {
    const fixed = new Uint8Array(layout.fixedSize);
    const view = new DataView(fixed.buffer);
    const at = (field: string) => {
      const off = layout.offsets[field];
      if (off === undefined) throw new Error(`no field ${field}`);
      return off;
    };
    const strings = make(view, at);
    const body = strings.flat();
    const size = Math.ceil((layout.fixedSize + body.length) / 8) * 8;
    for (const [i, s] of strings.entries()) view.setUint8(at("strLen") + i, s.length);
    view.setUint16(at("size"), size, true);
    const rec = new Uint8Array(size);
    rec.set(fixed, 0);
    rec.set(body, layout.fixedSize);
    parts.push(rec);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out.buffer;
}

const STRING_MAX: Record<string, number> = {
  l7: 47,
  category: 31,
  host: 127,
  url: 255,
  userAgent: 191,
  sni: 127,
  dnsQuery: 127,
  ja3c: 35,
  communityId: 31,
};

function randomRecord(r: Rng) {
  return (view: DataView, at: (field: string) => number): number[][] => {
    const u64 = (f: string, v: bigint) => view.setBigUint64(at(f), v, true);
    for (const f of ["firstUs", "lastUs", "s2dPkts", "s2dBytes", "d2sPkts", "d2sBytes", "s2dWire", "d2sWire"])
      u64(f, randomU64(r));
    for (const f of ["cliNwLatUs", "srvNwLatUs", "applLatUs"]) {
      // Not measured is all ones; records.ts looks at the upper half only.
      const k = r.int(4);
      u64(f, k === 0 ? 2n ** 64n - 1n : k === 1 ? (0xffffffffn << 32n) | BigInt(r.u32()) : randomU64(r));
    }
    u64("risks", r.chance(0.3) ? 0n : r.chance(0.1) ? 1n : randomU64(r));
    for (const f of ["s2dRetx", "d2sRetx", "s2dOoo", "d2sOoo"])
      view.setUint32(at(f), r.chance(0.5) ? 0 : r.u32(), true);
    view.setUint32(at("sampling"), r.pick([0, 1, 2, 1000, r.u32()]), true);
    for (const f of ["sport", "dport", "vlan"]) view.setUint16(at(f), r.chance(0.2) ? 0 : r.int(65536), true);
    view.setUint8(at("proto"), r.int(256));
    view.setUint8(at("ipVersion"), r.pick([4, 4, 6, 6, 0, 5, r.int(256)]));
    for (const f of ["src", "dst"]) {
      const kind = r.int(4);
      for (let i = 0; i < 16; i++) {
        // Zero runs of every length (IPv6 :: compression), IPv4-mapped, anything.
        const b = kind === 0 ? 0 : kind === 1 ? (r.chance(0.6) ? 0 : r.int(256)) : r.int(256);
        view.setUint8(at(f) + i, b);
      }
      if (kind === 3) {
        for (let i = 0; i < 10; i++) view.setUint8(at(f) + i, 0);
        view.setUint16(at(f) + 10, 0xffff);
      }
    }
    view.setUint8(at("s2dFlags"), r.int(256));
    view.setUint8(at("d2sFlags"), r.int(256));
    view.setUint8(at("endReason"), r.pick([1, 2, 3, 4, 5, 6, 0, 7, r.int(256)]));
    view.setUint8(at("tunnel"), r.pick([0, 0, 1, 2, 3, 4, 5, 6, 7, r.int(256)]));
    view.setUint8(at("dnsRcode"), r.pick([0xff, 0xff, 0, 3, r.int(256)]));
    view.setUint8(at("dpiDone"), r.pick([0, 1, 1, r.int(256)]));
    const { flowLayout } = nativeEngine();
    return flowLayout.strings.map((name) => randomBytes(r, STRING_MAX[name] ?? 0));
  };
}

describe("flowlens pcap NDJSON: engine vs JS on made-up records", () => {
  it("agrees on every record, numbers and strings of any kind", () => {
    const native = nativeEngine();
    const decoder = new BatchDecoder(native.flowLayout, native.riskNames);
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      const records = Array.from({ length: 20 }, () => randomRecord(r));
      const buffer = encodeBatch(records);
      const got = native.formatNdjson(buffer, records.length).toString("utf8");
      const want = jsLines(decoder.decode(buffer, records.length));
      if (got !== want) assert.fail(`seed ${seed}: ${firstDifference(got, want)}`);
    }
  });

  it("escapes strings as JSON.stringify(new TextDecoder().decode(bytes)) does, byte by byte", () => {
    const native = nativeEngine();
    const decoder = new BatchDecoder(native.flowLayout, native.riskNames);
    const host = native.flowLayout.strings.indexOf("host");
    const plain = (strings: number[][]) => (view: DataView, at: (f: string) => number) => {
      view.setUint8(at("ipVersion"), 4);
      view.setUint8(at("dpiDone"), 1);
      view.setUint8(at("dnsRcode"), 0xff);
      for (const f of ["cliNwLatUs", "srvNwLatUs", "applLatUs"]) view.setBigUint64(at(f), 2n ** 64n - 1n, true);
      return strings;
    };
    // Every single byte, every byte pair (all lead/continuation combinations), then long runs.
    const cases: number[][] = [];
    for (let b = 0; b < 256; b++) cases.push([b], [0x41, b], [b, 0x41], [0xef, 0xbb, 0xbf, b]);
    for (let a = 0x80; a < 0x100; a++) for (let b = 0; b < 256; b += 3) cases.push([a, b, 0x80 + (b % 64)]);
    const r = rng(7);
    for (let i = 0; i < 3000; i++) cases.push(randomBytes(r, 127));
    const none = native.flowLayout.strings.map(() => [] as number[]);
    for (let i = 0; i < cases.length; i += 50) {
      const records = cases.slice(i, i + 50).map((c) => {
        const strings = none.map((s) => [...s]);
        strings[host] = c;
        return plain(strings);
      });
      const buffer = encodeBatch(records);
      const got = native.formatNdjson(buffer, records.length).toString("utf8");
      const want = jsLines(decoder.decode(buffer, records.length));
      if (got !== want) assert.fail(`cases ${i}..: ${firstDifference(got, want)}`);
    }
  });

  it("refuses a buffer that does not hold the records it is said to", () => {
    const native = nativeEngine();
    const one = encodeBatch([randomRecord(rng(1))]);
    assert.throws(() => native.formatNdjson(one, 2), /well-formed/);
    assert.throws(() => native.formatNdjson(one.slice(0, 100), 1), /well-formed/);
    // A string longer than the engine ever writes.
    const long = encodeBatch([
      (view, at) => {
        view.setUint8(at("ipVersion"), 4);
        return native.flowLayout.strings.map((name) =>
          new Array<number>(Math.min(255, (STRING_MAX[name] ?? 0) + 1)).fill(0x41),
        );
      },
    ]);
    assert.throws(() => native.formatNdjson(long, 1), /well-formed/);
    assert.equal(native.formatNdjson(one, 0).length, 0);
  });
});

// ---- the command ----

class Sink extends Writable {
  chunks: Buffer[] = [];
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void) {
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    done();
  }
  text() {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

async function runPcap(args: string[]) {
  const { ctx } = parseCommandArgs(pcapCommand, args);
  const stdout = new Sink();
  const stderr = new Sink();
  const code = await pcapCommand.run({ ...ctx, stdout, stderr });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

async function jsPath(file: string, dpi: boolean, extra: Record<string, unknown> = {}) {
  const flows: EngineFlow[] = [];
  await readPcap({ files: [file], dpi, ...extra }, (b) => flows.push(...b));
  return jsLines(flows);
}

const sample = ["ndpi/443-curl.pcap", "ndpi/dns.pcap", "ndpi/1kxun.pcap", "zeek/tunnels_vxlan.pcap"]
  .map((f) => join(pcaps, f))
  .filter((f) => captures.includes(f));

describe("flowlens pcap", () => {
  it("prints through the stream it is given what the JS path would have printed", async () => {
    assert.ok(sample.length >= 3, "sample captures");
    for (const file of sample) {
      for (const dpi of [true, false]) {
        const r = await runPcap(dpi ? [file] : ["--no-dpi", file]);
        assert.equal(r.code, 0, r.stderr);
        const want = await jsPath(file, dpi);
        if (r.stdout !== want) assert.fail(`${file} dpi=${dpi}: ${firstDifference(r.stdout, want)}`);
        assert.match(r.stderr, new RegExp(`flows ${want.split("\n").length - 1}\\b`));
      }
    }
  });

  it("passes timeouts and the flow bound on to the engine", async () => {
    const file = join(pcaps, "ndpi/1kxun.pcap");
    const r = await runPcap(["--max-flows", "4", "--idle-timeout", "0.5", "--active-timeout", "1", file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, await jsPath(file, true, { maxFlows: 4, idleTimeoutMs: 500, activeTimeoutMs: 1000 }));
    assert.match(r.stdout, /"endReason":"evicted"/);
  });

  it("writes the same bytes to its own stdout, a pipe or a file, as a separate process", async () => {
    const bin = join(repoRoot, "cli/dist/main.js");
    for (const file of sample) {
      const want = await jsPath(file, true);
      const piped = spawnSync(process.execPath, [bin, "pcap", file], { maxBuffer: 1 << 28, timeout: 60_000 });
      assert.equal(piped.status, 0, piped.stderr.toString());
      const got = piped.stdout.toString("utf8");
      if (got !== want) assert.fail(`${file}: ${firstDifference(got, want)}`);
    }
    const file = join(pcaps, "large/ndpi_concat_mix.pcap");
    const out = join(makeTempDir("pcap-out"), "flows.ndjson");
    const r = spawnSync("bash", ["-c", `"${process.execPath}" "${bin}" pcap --no-dpi "${file}" > "${out}"`], {
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(out, "utf8"), await jsPath(file, false));
  });

  it("fails with exit 1 and one line when its output cannot be written", () => {
    const bin = join(repoRoot, "cli/dist/main.js");
    const r = spawnSync(
      "bash",
      ["-c", `"${process.execPath}" "${bin}" pcap "${join(pcaps, "ndpi/1kxun.pcap")}" > /dev/full`],
      {
        encoding: "utf8",
        timeout: 60_000,
      },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^flowlens: writing output: No space left on device\n$/);
  });

  it("still prints a table", async () => {
    const r = await runPcap(["--format", "table", join(pcaps, "ndpi/443-curl.pcap")]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.match(lines[0] ?? "", /^proto +src +dst/);
    assert.match(lines[1] ?? "", /^TCP +192\.168\.1\.13:55523 .* TLS\.ntop .* fin$/);
  });
});
