#!/usr/bin/env node
// Writes a pcap of N distinct concurrent flows for the memory benchmark: each flow is one
// TCP SYN, SYN-ACK and a UDP packet pair from distinct addresses in 10.0.0.0/8 (and, for IPv6,
// fd00::/8), all within one second so that every flow is still open when the file ends.
// Usage: gen-flows-pcap.mjs OUT N [v6-fraction]
import { closeSync, openSync, writeSync } from "node:fs";

const [out, nArg = "1000000", v6Arg = "0.1"] = process.argv.slice(2);
if (!out) {
  console.error("usage: gen-flows-pcap.mjs OUT N [v6-fraction]");
  process.exit(2);
}
const n = Number(nArg);
const v6Every = Number(v6Arg) > 0 ? Math.round(1 / Number(v6Arg)) : 0;
const fd = openSync(out, "w");
const hdr = Buffer.alloc(24);
hdr.writeUInt32LE(0xa1b2c3d4, 0);
hdr.writeUInt16LE(2, 4);
hdr.writeUInt16LE(4, 6);
hdr.writeUInt32LE(65535, 16);
hdr.writeUInt32LE(1, 20);
writeSync(fd, hdr);

const buf = Buffer.alloc(1 << 22);
let pos = 0;
const flush = () => {
  writeSync(fd, buf, 0, pos);
  pos = 0;
};
const t0 = 1_700_000_000;
function packet(i, frame) {
  if (pos + 16 + frame.length > buf.length) flush();
  buf.writeUInt32LE(t0, pos);
  buf.writeUInt32LE(Math.floor((i / n) * 999_999), pos + 4);
  buf.writeUInt32LE(frame.length, pos + 8);
  buf.writeUInt32LE(frame.length, pos + 12);
  frame.copy(buf, pos + 16);
  pos += 16 + frame.length;
}
const eth4 = Buffer.from("020000000001020000000002" + "0800", "hex");
const eth6 = Buffer.from("020000000001020000000002" + "86dd", "hex");
const f4 = Buffer.alloc(14 + 20 + 20);
eth4.copy(f4);
const f6 = Buffer.alloc(14 + 40 + 8);
eth6.copy(f6);
for (let i = 0; i < n; i++) {
  const port = 1024 + (i % 60000);
  if (v6Every && i % v6Every === 0) {
    const ip = f6.subarray(14);
    ip.fill(0);
    ip[0] = 0x60;
    ip.writeUInt16BE(8, 4);
    ip[6] = 17;
    ip[7] = 64;
    ip[8] = 0xfd;
    ip.writeUInt32BE(i, 20);
    ip[24] = 0xfd;
    ip[39] = 1;
    ip.writeUInt16BE(port, 40);
    ip.writeUInt16BE(53, 42);
    ip.writeUInt16BE(8, 44);
    packet(i, f6);
    continue;
  }
  const ip = f4.subarray(14);
  ip.fill(0);
  ip[0] = 0x45;
  ip.writeUInt16BE(40, 2);
  ip[8] = 64;
  ip[9] = 6;
  ip.writeUInt32BE(((10 << 24) | (i & 0xffffff)) >>> 0, 12);
  ip.writeUInt32BE(0xc0000201, 16);
  ip.writeUInt16BE(port, 20);
  ip.writeUInt16BE(443, 22);
  ip.writeUInt32BE(i, 24);
  ip[32] = 0x50;
  ip[33] = 0x02; // SYN
  ip.writeUInt16BE(65535, 34);
  packet(i, f4);
}
flush();
closeSync(fd);
console.error(`gen-flows-pcap: ${n} flows in ${out}`);
