// Community ID v1 (corelight/community-id-spec), the TypeScript twin of
// agent/native/src/community_id.c, for records that come from exporters rather than from our
// own probe. The hash input is at most 40 bytes, so SHA-1 runs on one 64-byte block with
// preallocated state: a collector hashes every record it decodes.
import { isIPv4, isIPv6 } from "node:net";

const PROTO_ICMP = 1;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
const PROTO_ICMP6 = 58;
const PROTO_SCTP = 132;

/** The one 64-byte block: message, 0x80, zeros, 64-bit bit length. */
const block = new Uint8Array(64);
const w = new Int32Array(80);
const digest = new Int32Array(5);

/** SHA-1 of block[0..len) for len <= 55 (one block); the result is left in `digest`. */
function sha1Block(len: number): void {
  const b = block;
  b[len] = 0x80;
  b.fill(0, len + 1, 60);
  const bits = len * 8;
  b[60] = bits >>> 24;
  b[61] = (bits >>> 16) & 0xff;
  b[62] = (bits >>> 8) & 0xff;
  b[63] = bits & 0xff;
  for (let i = 0; i < 16; i++) {
    const o = i * 4;
    w[i] = ((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number);
  }
  for (let i = 16; i < 80; i++) {
    const x = (w[i - 3] as number) ^ (w[i - 8] as number) ^ (w[i - 14] as number) ^ (w[i - 16] as number);
    w[i] = (x << 1) | (x >>> 31);
  }
  let a = 0x67452301;
  let bb = 0xefcdab89 | 0;
  let c = 0x98badcfe | 0;
  let d = 0x10325476;
  let e = 0xc3d2e1f0 | 0;
  let t = 0;
  // Four loops instead of one with a branch per round: the round function and constant change
  // every 20 rounds.
  for (let i = 0; i < 20; i++) {
    t = (((a << 5) | (a >>> 27)) + ((bb & c) | (~bb & d)) + e + 0x5a827999 + (w[i] as number)) | 0;
    e = d;
    d = c;
    c = (bb << 30) | (bb >>> 2);
    bb = a;
    a = t;
  }
  for (let i = 20; i < 40; i++) {
    t = (((a << 5) | (a >>> 27)) + (bb ^ c ^ d) + e + 0x6ed9eba1 + (w[i] as number)) | 0;
    e = d;
    d = c;
    c = (bb << 30) | (bb >>> 2);
    bb = a;
    a = t;
  }
  for (let i = 40; i < 60; i++) {
    t = (((a << 5) | (a >>> 27)) + ((bb & c) | (bb & d) | (c & d)) + e + (0x8f1bbcdc | 0) + (w[i] as number)) | 0;
    e = d;
    d = c;
    c = (bb << 30) | (bb >>> 2);
    bb = a;
    a = t;
  }
  for (let i = 60; i < 80; i++) {
    t = (((a << 5) | (a >>> 27)) + (bb ^ c ^ d) + e + (0xca62c1d6 | 0) + (w[i] as number)) | 0;
    e = d;
    d = c;
    c = (bb << 30) | (bb >>> 2);
    bb = a;
    a = t;
  }
  digest[0] = (0x67452301 + a) | 0;
  digest[1] = ((0xefcdab89 | 0) + bb) | 0;
  digest[2] = ((0x98badcfe | 0) + c) | 0;
  digest[3] = (0x10325476 + d) | 0;
  digest[4] = ((0xc3d2e1f0 | 0) + e) | 0;
}

/** SHA-1 of a message of at most 55 bytes, as 20 bytes (exported for the FIPS 180 test vectors). */
export function sha1Short(msg: Uint8Array): Uint8Array {
  if (msg.length > 55) throw new RangeError("sha1Short: at most 55 bytes");
  block.set(msg);
  sha1Block(msg.length);
  const out = new Uint8Array(20);
  const v = new DataView(out.buffer);
  for (let i = 0; i < 5; i++) v.setInt32(i * 4, digest[i] as number);
  return out;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/** Two base64 characters per 12 bits: 4096 entries, so a 20-byte digest is 14 lookups. */
const B64_PAIRS: string[] = [];
for (let i = 0; i < 4096; i++) B64_PAIRS.push((B64[i >> 6] as string) + (B64[i & 63] as string));

function digestBase64(): string {
  const d0 = digest[0] as number;
  const d1 = digest[1] as number;
  const d2 = digest[2] as number;
  const d3 = digest[3] as number;
  const d4 = digest[4] as number;
  // 160 bits = 13 groups of 12 bits + 4 bits: the last character gets 2 zero bits and '='.
  const p = B64_PAIRS;
  return (
    "1:" +
    (p[(d0 >>> 20) & 4095] as string) +
    (p[(d0 >>> 8) & 4095] as string) +
    (p[((d0 << 4) | (d1 >>> 28)) & 4095] as string) +
    (p[(d1 >>> 16) & 4095] as string) +
    (p[(d1 >>> 4) & 4095] as string) +
    (p[((d1 << 8) | (d2 >>> 24)) & 4095] as string) +
    (p[(d2 >>> 12) & 4095] as string) +
    (p[d2 & 4095] as string) +
    (p[(d3 >>> 20) & 4095] as string) +
    (p[(d3 >>> 8) & 4095] as string) +
    (p[((d3 << 4) | (d4 >>> 28)) & 4095] as string) +
    (p[(d4 >>> 16) & 4095] as string) +
    (p[(d4 >>> 4) & 4095] as string) +
    (B64[(d4 & 15) << 2] as string) +
    "="
  );
}

/**
 * The ICMP/ICMPv6 counterpart type of a request/reply type, or -1 for one-way types (Zeek's
 * ICMP4_counterpart / ICMP6_counterpart, which the spec delegates to).
 */
export function icmpCounterpart(proto: number, type: number): number {
  if (proto === PROTO_ICMP) {
    switch (type) {
      case 8:
        return 0;
      case 0:
        return 8;
      case 13:
        return 14;
      case 14:
        return 13;
      case 15:
        return 16;
      case 16:
        return 15;
      case 10:
        return 9;
      case 9:
        return 10;
      case 17:
        return 18;
      case 18:
        return 17;
      default:
        return -1;
    }
  }
  if (proto === PROTO_ICMP6) {
    switch (type) {
      case 128:
        return 129;
      case 129:
        return 128;
      case 130:
        return 131;
      case 131:
        return 130;
      case 133:
        return 134;
      case 134:
        return 133;
      case 135:
        return 136;
      case 136:
        return 135;
      case 139:
        return 140;
      case 140:
        return 139;
      case 144:
        return 145;
      case 145:
        return 144;
      default:
        return -1;
    }
  }
  return -1;
}

/**
 * Community ID of a flow whose addresses sit in `buf` at srcOff/dstOff (4 bytes each for
 * IPv4, 16 for IPv6). For ICMP and ICMPv6, sport is the type and dport the code.
 */
export function communityIdAt(
  buf: Uint8Array,
  srcOff: number,
  dstOff: number,
  ipv6: boolean,
  proto: number,
  sport: number,
  dport: number,
  seed = 0,
): string {
  const alen = ipv6 ? 16 : 4;
  const hasPorts =
    proto === PROTO_TCP || proto === PROTO_UDP || proto === PROTO_SCTP || proto === PROTO_ICMP || proto === PROTO_ICMP6;
  let oneWay = false;
  let p1 = sport;
  let p2 = dport;
  if (proto === PROTO_ICMP || proto === PROTO_ICMP6) {
    const peer = icmpCounterpart(proto, sport);
    if (peer < 0) oneWay = true;
    else p2 = peer;
  }
  let a1 = srcOff;
  let a2 = dstOff;
  if (!oneWay) {
    let cmp = 0;
    for (let i = 0; i < alen; i++) {
      const x = buf[srcOff + i] as number;
      const y = buf[dstOff + i] as number;
      if (x !== y) {
        cmp = x < y ? -1 : 1;
        break;
      }
    }
    if (!(cmp < 0 || (cmp === 0 && hasPorts && p1 < p2))) {
      a1 = dstOff;
      a2 = srcOff;
      const t = p1;
      p1 = p2;
      p2 = t;
    }
  }
  const input = block;
  let n = 0;
  input[n++] = (seed >>> 8) & 0xff;
  input[n++] = seed & 0xff;
  for (let i = 0; i < alen; i++) input[n++] = buf[a1 + i] as number;
  for (let i = 0; i < alen; i++) input[n++] = buf[a2 + i] as number;
  input[n++] = proto;
  input[n++] = 0;
  if (hasPorts) {
    input[n++] = (p1 >>> 8) & 0xff;
    input[n++] = p1 & 0xff;
    input[n++] = (p2 >>> 8) & 0xff;
    input[n++] = p2 & 0xff;
  }
  sha1Block(n);
  return digestBase64();
}

function addrBytes(s: string): Uint8Array | undefined {
  if (isIPv4(s)) return Uint8Array.from(s.split(".").map(Number));
  if (!isIPv6(s)) return undefined;
  let text = s;
  const tail: number[] = [];
  const lastColon = s.lastIndexOf(":");
  const dotted = s.slice(lastColon + 1);
  if (isIPv4(dotted)) {
    const b = dotted.split(".").map(Number);
    tail.push(((b[0] as number) << 8) | (b[1] as number), ((b[2] as number) << 8) | (b[3] as number));
    text = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const [head = "", rest] = text.split("::");
  const hs = head ? head.split(":") : [];
  const rs = rest === undefined ? [] : rest ? rest.split(":") : [];
  const groups = [...hs, ...new Array<string>(8 - hs.length - rs.length).fill("0"), ...rs].map((g) => parseInt(g, 16));
  if (tail.length) groups.splice(6, 2, ...tail);
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/**
 * Community ID from textual addresses; "" when they are not both IPv4 or both IPv6.
 * For ICMP and ICMPv6, sport is the type and dport the code.
 */
export function communityId(
  srcAddr: string,
  dstAddr: string,
  proto: number,
  sport: number,
  dport: number,
  seed = 0,
): string {
  const s = addrBytes(srcAddr);
  const d = addrBytes(dstAddr);
  if (!s || !d || s.length !== d.length) return "";
  const buf = new Uint8Array(s.length * 2);
  buf.set(s, 0);
  buf.set(d, s.length);
  return communityIdAt(buf, 0, s.length, s.length === 16, proto, sport, dport, seed);
}

/** What flowCommunityId reads of a flow. */
interface FlowTuple {
  srcAddr: string;
  dstAddr: string;
  proto: number;
  srcPort: number;
  dstPort: number;
}

/**
 * The Community ID of a flow record, ICMP types and codes taken from dstPort as DESIGN.md
 * stores them (type*256+code). The aggregator's collector leaves records without one (hashing
 * every record would cost as much as decoding it) and the API fills it in for the flows it
 * shows.
 */
export function flowCommunityId(f: FlowTuple): string {
  const icmp = f.proto === 1 || f.proto === 58;
  return communityId(
    f.srcAddr,
    f.dstAddr,
    f.proto,
    icmp ? f.dstPort >>> 8 : f.srcPort,
    icmp ? f.dstPort & 0xff : f.dstPort,
  );
}
