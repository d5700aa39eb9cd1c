// Export datagrams written as a classic pcap of UDP/IPv4/Ethernet frames, for benches that
// replay them (tcpreplay) or hand the file to a peer (pcap_savefile). Checksums are left at
// zero: tcprewrite --fixcsum sets them where a replay needs them, and pmacct does not check.
import { writeFileSync } from "node:fs";

/**
 * Writes `datagrams` (Uint8Arrays), `copies` times over, from 192.0.2.1:srcPort to
 * 127.0.0.1:dstPort, one frame each, timestamps one second apart.
 */
export function writeUdpPcap(path, datagrams, { dstPort, srcPort = 40000, copies = 1 }) {
  const parts = [];
  const gh = Buffer.alloc(24);
  gh.writeUInt32LE(0xa1b2c3d4, 0);
  gh.writeUInt16LE(2, 4);
  gh.writeUInt16LE(4, 6);
  gh.writeUInt32LE(65535, 16);
  gh.writeUInt32LE(1, 20); // Ethernet
  parts.push(gh);
  let t = 1_700_000_000;
  for (let c = 0; c < copies; c++) {
    for (const d of datagrams) {
      const f = Buffer.alloc(14 + 20 + 8 + d.length);
      f.writeUInt16BE(0x0800, 12);
      f[14] = 0x45;
      f.writeUInt16BE(20 + 8 + d.length, 16);
      f[22] = 64;
      f[23] = 17;
      f.set([192, 0, 2, 1], 26);
      f.set([127, 0, 0, 1], 30);
      f.writeUInt16BE(srcPort, 34);
      f.writeUInt16BE(dstPort, 36);
      f.writeUInt16BE(8 + d.length, 38);
      f.set(d, 42);
      const r = Buffer.alloc(16);
      r.writeUInt32LE(t++, 0);
      r.writeUInt32LE(f.length, 8);
      r.writeUInt32LE(f.length, 12);
      parts.push(r, f);
    }
  }
  writeFileSync(path, Buffer.concat(parts));
}
