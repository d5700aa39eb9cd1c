#!/usr/bin/env node
// The offline benchmark capture: real traffic (a classic-pcap Ethernet capture, by default the
// nDPI test mix in ../shared/testdata/pcaps/large) repeated COPIES times, each copy with its IP
// addresses rewritten (the same mapping on both ends, so flows stay bidirectional and every
// copy's flows are distinct) and its timestamps moved after the previous copy. Checksums are
// left as they are: no decoder here verifies them. Written outside the repository, once.
// Usage: gen-bench-pcap.mjs [COPIES] [SOURCE] -> prints the output path
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const copies = Number(process.argv[2] ?? 110);
const source = process.argv[3] ?? join(here, "../../../shared/testdata/pcaps/large/ndpi_concat_mix.pcap");
const outDir = process.env.FLOWLENS_BENCH_DIR ?? join(homedir(), ".cache/flowlens-bench");
const out = join(outDir, `mix-x${copies}-v1.pcap`);
if (existsSync(out)) {
  console.log(out);
  process.exit(0);
}
mkdirSync(outDir, { recursive: true });

const buf = readFileSync(source);
const magic = buf.readUInt32LE(0);
if (magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d) throw new Error(`${source}: not a little-endian classic pcap`);
const nanos = magic === 0xa1b23c4d;
if (buf.readUInt32LE(20) !== 1) throw new Error(`${source}: link type is not Ethernet`);

// Index the packets once.
const packets = [];
let first = Number.POSITIVE_INFINITY;
let last = 0;
for (let o = 24; o + 16 <= buf.length; ) {
  const incl = buf.readUInt32LE(o + 8);
  if (o + 16 + incl > buf.length) break;
  const t = buf.readUInt32LE(o) + buf.readUInt32LE(o + 4) / (nanos ? 1e9 : 1e6);
  first = Math.min(first, t);
  last = Math.max(last, t);
  packets.push(o);
  o += 16 + incl;
}
const span = Math.ceil(last - first) + 1;

// Where the IP header starts (Ethernet, up to two VLAN tags), or -1.
function ipOffset(p, len) {
  let off = 12;
  let type = p.readUInt16BE(off);
  for (let i = 0; i < 2 && (type === 0x8100 || type === 0x88a8) && off + 6 <= len; i++) {
    off += 4;
    type = p.readUInt16BE(off);
  }
  off += 2;
  return type === 0x0800 || type === 0x86dd ? off : -1;
}

const tmp = `${out}.tmp`;
const fd = openSync(tmp, "w");
writeSync(fd, buf, 0, 24);
const chunk = Buffer.alloc(1 << 24);
let pos = 0;
let written = 0;
for (let c = 0; c < copies; c++) {
  const shift = c * span;
  for (const o of packets) {
    const incl = buf.readUInt32LE(o + 8);
    if (pos + 16 + incl > chunk.length) {
      writeSync(fd, chunk, 0, pos);
      pos = 0;
    }
    buf.copy(chunk, pos, o, o + 16 + incl);
    chunk.writeUInt32LE(buf.readUInt32LE(o) + shift, pos);
    const p = chunk.subarray(pos + 16, pos + 16 + incl);
    const ip = incl > 14 ? ipOffset(p, incl) : -1;
    if (c > 0 && ip >= 0) {
      // Copy c: add c to the second octet of IPv4 addresses (the 16th byte of IPv6 ones),
      // so both directions of a flow move together.
      const v = p[ip] >> 4;
      if (v === 4 && ip + 20 <= incl) {
        p[ip + 13] = (p[ip + 13] + c) & 0xff;
        p[ip + 17] = (p[ip + 17] + c) & 0xff;
        p[ip + 12] = (p[ip + 12] + (c >> 8)) & 0xff;
        p[ip + 16] = (p[ip + 16] + (c >> 8)) & 0xff;
      } else if (v === 6 && ip + 40 <= incl) {
        p[ip + 9] = (p[ip + 9] + c) & 0xff;
        p[ip + 25] = (p[ip + 25] + c) & 0xff;
      }
    }
    pos += 16 + incl;
    written++;
  }
}
writeSync(fd, chunk, 0, pos);
closeSync(fd);
renameSync(tmp, out);
console.error(`gen-bench-pcap: ${written} packets (${copies} copies of ${packets.length}) in ${out}`);
console.log(out);
