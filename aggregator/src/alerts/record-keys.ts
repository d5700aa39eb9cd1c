// Keys of a record's addresses made without strings: the hot path reads the address bytes the
// batch decoder left in place (or the string of a record made from a message) and hashes them
// into two independent 32-bit halves, and parses an IPv4 address into its integer. A string is
// made only when an alert needs the entity's name.
import type { IngestFlow } from "../state/ingest-flow.js";

export const SRC = 0;
export const DST = 1;
export type Side = typeof SRC | typeof DST;

/** The last address hashed: two halves (FNV-1a and a murmur-style mix), set by hashAddress. */
export const addrHash = { h1: 0, h2: 0 };

function hashBytes(buf: Uint8Array, start: number, end: number): void {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = start; i < end; i++) {
    const c = buf[i] as number;
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  addrHash.h1 = a | 0;
  addrHash.h2 = b | 0;
}

function hashText(s: string): void {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) & 0xff;
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  addrHash.h1 = a | 0;
  addrHash.h2 = b | 0;
}

/** Hashes one address of the record into addrHash (the same for the bytes and the string). */
export function hashAddress(f: IngestFlow, side: Side): void {
  const start = side === SRC ? f.srcAddrStart : f.dstAddrStart;
  if (start >= 0 && f.buf !== null) hashBytes(f.buf, start, side === SRC ? f.srcAddrEnd : f.dstAddrEnd);
  else hashText(side === SRC ? f.srcAddr : f.dstAddr);
}

/** Hashes an address string into addrHash, as hashAddress would hash it in a record. */
export function hashAddressText(s: string): void {
  hashText(s);
}

function v4Of(read: (i: number) => number, n: number): number {
  let v = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = read(i);
    if (c === 46) {
      if (digits === 0 || part > 255) return -1;
      v = v * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + (c - 48);
      digits++;
    } else return -1;
  }
  if (dots !== 3 || digits === 0 || part > 255) return -1;
  return v * 256 + part;
}

let curBuf: Uint8Array = new Uint8Array(0);
let curStart = 0;
let curText = "";
const readBuf = (i: number) => curBuf[curStart + i] as number;
const readText = (i: number) => curText.charCodeAt(i);

/** The record's address on `side` as an IPv4 integer (0..2^32-1), or -1 when it is not one. */
export function ipv4Of(f: IngestFlow, side: Side): number {
  const start = side === SRC ? f.srcAddrStart : f.dstAddrStart;
  if (start >= 0 && f.buf !== null) {
    curBuf = f.buf;
    curStart = start;
    return v4Of(readBuf, (side === SRC ? f.srcAddrEnd : f.dstAddrEnd) - start);
  }
  curText = side === SRC ? f.srcAddr : f.dstAddr;
  return v4Of(readText, curText.length);
}

export function ipv4OfText(s: string): number {
  curText = s;
  return v4Of(readText, s.length);
}

/** CIDRs as IPv4 ranges (tested allocation-free) plus IPv6 ones (tested by string). */
export class CidrSet {
  private readonly v4Base: number[] = [];
  private readonly v4Mask: number[] = [];
  private readonly v6: { base: bigint; mask: bigint }[] = [];

  constructor(cidrs: readonly string[]) {
    for (const c of cidrs) {
      const [addr = "", len] = c.split("/");
      const v4 = ipv4OfText(addr);
      if (v4 >= 0) {
        const bits = len === undefined ? 32 : Number(len);
        const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
        this.v4Base.push((v4 & mask) >>> 0);
        this.v4Mask.push(mask);
      } else {
        const n = v6ToBig(addr);
        if (n < 0n) continue;
        const bits = len === undefined ? 128 : Number(len);
        const mask = bits === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - bits)) - 1n);
        this.v6.push({ base: n & mask, mask });
      }
    }
  }

  get size(): number {
    return this.v4Base.length + this.v6.length;
  }

  hasV4(v4: number): boolean {
    const b = this.v4Base;
    const m = this.v4Mask;
    for (let i = 0; i < b.length; i++) if ((v4 & (m[i] as number)) >>> 0 === b[i]) return true;
    return false;
  }

  /** Whether the record's address on `side` is inside one of the CIDRs. */
  hasSide(f: IngestFlow, side: Side): boolean {
    const v4 = ipv4Of(f, side);
    if (v4 >= 0) return this.hasV4(v4);
    if (this.v6.length === 0) return false;
    return this.hasText(side === SRC ? f.srcAddr : f.dstAddr);
  }

  hasText(addr: string): boolean {
    const v4 = ipv4OfText(addr);
    if (v4 >= 0) return this.hasV4(v4);
    const n = v6ToBig(addr);
    if (n < 0n) return false;
    for (const r of this.v6) if ((n & r.mask) === r.base) return true;
    return false;
  }
}

function v6ToBig(addr: string): bigint {
  if (!addr.includes(":")) return -1n;
  let a = addr;
  const zone = a.indexOf("%");
  if (zone >= 0) a = a.slice(0, zone);
  const lastColon = a.lastIndexOf(":");
  const tail = a.slice(lastColon + 1);
  if (tail.includes(".")) {
    const v4 = ipv4OfText(tail);
    if (v4 < 0) return -1n;
    a = `${a.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = a.split("::");
  if (halves.length > 2) return -1n;
  const head = halves[0] ? halves[0].split(":") : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const fill = 8 - head.length - rest.length;
  if ((halves.length === 1 && fill !== 0) || fill < 0) return -1n;
  const groups = [...head, ...Array(halves.length === 2 ? fill : 0).fill("0"), ...rest];
  let n = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return -1n;
    n = (n << 16n) | BigInt(Number.parseInt(g, 16));
  }
  return n;
}
