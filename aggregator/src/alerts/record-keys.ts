// Keys of a record's addresses made without strings: the hot path reads the address bytes the
// batch decoder left in place (or the string of a record made from a message) and hashes them
// into two independent 32-bit halves, and parses an IPv4 address into its integer. A string is
// made only when an alert needs the entity's name.

import { v6ToBig } from "../networks.js";
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

const groups = new Int32Array(8);

/** Parses IPv6 text into four 32-bit words; false when it is not IPv6 (or has an IPv4 tail). */
function v6Of(read: (i: number) => number, n: number, out: Uint32Array): boolean {
  let ng = 0;
  let dbl = -1;
  let cur = 0;
  let digits = 0;
  let i = 0;
  if (n >= 2 && read(0) === 58 && read(1) === 58) {
    dbl = 0;
    i = 2;
  }
  while (i < n) {
    const c = read(i);
    let v = -1;
    if (c >= 48 && c <= 57) v = c - 48;
    else if (c >= 97 && c <= 102) v = c - 87;
    else if (c >= 65 && c <= 70) v = c - 55;
    if (v >= 0) {
      if (++digits > 4) return false;
      cur = cur * 16 + v;
      i++;
      continue;
    }
    if (c === 37) break; // %zone
    if (c !== 58 || digits === 0 || ng >= 8) return false;
    groups[ng++] = cur;
    cur = 0;
    digits = 0;
    i++;
    if (i < n && read(i) === 58) {
      if (dbl >= 0) return false;
      dbl = ng;
      i++;
    }
  }
  if (digits > 0) {
    if (ng >= 8) return false;
    groups[ng++] = cur;
  } else if (dbl !== ng) return false;
  if (dbl >= 0) {
    if (ng >= 8) return false;
    const zeros = 8 - ng;
    for (let k = ng - 1; k >= dbl; k--) groups[k + zeros] = groups[k] as number;
    for (let k = dbl; k < dbl + zeros; k++) groups[k] = 0;
  } else if (ng !== 8) return false;
  for (let k = 0; k < 4; k++) out[k] = (((groups[2 * k] as number) << 16) | (groups[2 * k + 1] as number)) >>> 0;
  return true;
}

function v6WordsOfBig(n: bigint, out: Uint32Array): void {
  for (let k = 3; k >= 0; k--) {
    out[k] = Number(n & 0xffffffffn);
    n >>= 32n;
  }
}

/**
 * The record's address on `side` as four IPv6 words in `out`, without allocating (an IPv4-mapped
 * tail takes a slower path); false when it is not an IPv6 address.
 */
export function ipv6Of(f: IngestFlow, side: Side, out: Uint32Array): boolean {
  const start = side === SRC ? f.srcAddrStart : f.dstAddrStart;
  let ok: boolean;
  if (start >= 0 && f.buf !== null) {
    curBuf = f.buf;
    curStart = start;
    ok = v6Of(readBuf, (side === SRC ? f.srcAddrEnd : f.dstAddrEnd) - start, out);
  } else {
    curText = side === SRC ? f.srcAddr : f.dstAddr;
    ok = v6Of(readText, curText.length, out);
  }
  if (ok) return true;
  const big = v6ToBig(side === SRC ? f.srcAddr : f.dstAddr);
  if (big < 0n) return false;
  v6WordsOfBig(big, out);
  return true;
}

/** An address string as IPv6 words (tests, set-up). */
export function ipv6OfText(s: string, out: Uint32Array): boolean {
  curText = s;
  if (v6Of(readText, s.length, out)) return true;
  const big = v6ToBig(s);
  if (big < 0n) return false;
  v6WordsOfBig(big, out);
  return true;
}

const sideWords = new Uint32Array(4);

/** CIDRs as IPv4 ranges and IPv6 word masks, tested without allocating (an IPv4-mapped IPv6 tail aside). */
export class CidrSet {
  private readonly v4Base: number[] = [];
  private readonly v4Mask: number[] = [];
  private readonly v6: { base: bigint; mask: bigint }[] = [];
  /** The IPv6 CIDRs again as words: base and mask, four words each. */
  private v6Words = new Uint32Array(0);

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
    this.v6Words = new Uint32Array(this.v6.length * 8);
    const w = new Uint32Array(4);
    this.v6.forEach((r, i) => {
      v6WordsOfBig(r.base, w);
      this.v6Words.set(w, i * 8);
      v6WordsOfBig(r.mask, w);
      this.v6Words.set(w, i * 8 + 4);
    });
  }

  get hasV6(): boolean {
    return this.v6.length > 0;
  }

  /** Whether an IPv6 address (four words, see ipv6Of) is inside one of the CIDRs. */
  hasV6Words(a: Uint32Array): boolean {
    const w = this.v6Words;
    for (let i = 0; i < w.length; i += 8) {
      if (
        ((a[0] as number) & (w[i + 4] as number)) >>> 0 === w[i] &&
        ((a[1] as number) & (w[i + 5] as number)) >>> 0 === w[i + 1] &&
        ((a[2] as number) & (w[i + 6] as number)) >>> 0 === w[i + 2] &&
        ((a[3] as number) & (w[i + 7] as number)) >>> 0 === w[i + 3]
      )
        return true;
    }
    return false;
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
    return ipv6Of(f, side, sideWords) && this.hasV6Words(sideWords);
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
