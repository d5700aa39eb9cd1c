#!/usr/bin/env node
// Seeds the fuzz corpus from real captures: every classic-pcap file under the given folders
// becomes inputs of the fuzz target's format (link selector byte, then [u16 len][packet]...),
// a few consecutive packets per input so flow state (handshakes, fragments) is exercised.
// Usage: fuzz-corpus.mjs OUTDIR DIR...
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [out, ...dirs] = process.argv.slice(2);
if (!out || dirs.length === 0) {
  console.error("usage: fuzz-corpus.mjs OUTDIR DIR...");
  process.exit(2);
}
const selector = { 1: 0, 113: 1, 276: 2, 101: 3, 12: 3, 0: 4, 9: 5 };
const PER_INPUT = 8;
const MAX_INPUTS_PER_FILE = 40;
mkdirSync(out, { recursive: true });
let written = 0;
for (const dir of dirs) {
  for (const name of readdirSync(dir)) {
    if (!/\.pcap$/.test(name)) continue;
    const buf = readFileSync(join(dir, name));
    if (buf.length < 24) continue;
    const magic = buf.readUInt32LE(0);
    const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
    const be = magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1;
    if (!le && !be) continue;
    const u32 = (o) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
    const sel = selector[u32(20) & 0xffff];
    if (sel === undefined) continue;
    const packets = [];
    for (let o = 24; o + 16 <= buf.length; ) {
      const incl = u32(o + 8);
      if (o + 16 + incl > buf.length || incl > 65535) break;
      packets.push(buf.subarray(o + 16, o + 16 + incl));
      o += 16 + incl;
    }
    for (let i = 0, n = 0; i < packets.length && n < MAX_INPUTS_PER_FILE; i += PER_INPUT, n++) {
      const parts = [Buffer.from([sel])];
      for (const p of packets.slice(i, i + PER_INPUT)) {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(p.length);
        parts.push(len, p);
      }
      writeFileSync(join(out, `${name}-${n}`), Buffer.concat(parts));
      written++;
    }
  }
}
console.error(`fuzz-corpus: ${written} inputs in ${out}`);
