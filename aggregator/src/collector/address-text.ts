// IP addresses from their wire bytes to their text, written as ASCII bytes into a buffer rather
// than made into strings: the collector's records carry their addresses as text bytes (as the
// protobuf record does), which the host table looks hosts up by without a string per record.
// The text is the usual one: dotted quad, and RFC 5952 for IPv6 (IPv4-mapped as ::ffff:a.b.c.d).

/** Longest text either writer produces ("ffff:" times 7 plus "ffff"). */
export const MAX_ADDRESS_TEXT = 39;

const COLON = 0x3a;
const DOT = 0x2e;
const ZERO = 0x30;
const HEX = Uint8Array.from("0123456789abcdef", (c) => c.charCodeAt(0));

function writeDecimal(d: Uint8Array, p: number, v: number): number {
  if (v >= 100) {
    d[p++] = ZERO + ((v / 100) | 0);
    d[p++] = ZERO + (((v / 10) | 0) % 10);
  } else if (v >= 10) d[p++] = ZERO + ((v / 10) | 0);
  d[p++] = ZERO + (v % 10);
  return p;
}

/** Writes the dotted quad of src[o, o+4) at d[p]; returns the position after it. */
export function writeIpv4Text(d: Uint8Array, p: number, src: Uint8Array, o: number): number {
  p = writeDecimal(d, p, src[o] as number);
  d[p++] = DOT;
  p = writeDecimal(d, p, src[o + 1] as number);
  d[p++] = DOT;
  p = writeDecimal(d, p, src[o + 2] as number);
  d[p++] = DOT;
  return writeDecimal(d, p, src[o + 3] as number);
}

const groups = new Int32Array(8);

/** Writes the RFC 5952 text of the IPv6 address src[o, o+16) at d[p]; returns the position after it. */
export function writeIpv6Text(d: Uint8Array, p: number, src: Uint8Array, o: number): number {
  const g = groups;
  for (let i = 0; i < 8; i++) g[i] = ((src[o + 2 * i] as number) << 8) | (src[o + 2 * i + 1] as number);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    // "::ffff:"
    d[p++] = COLON;
    d[p++] = COLON;
    for (let i = 0; i < 4; i++) d[p++] = 0x66;
    d[p++] = COLON;
    return writeIpv4Text(d, p, src, o + 12);
  }
  // The longest run of two or more zero groups (the first of equals) becomes "::".
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const start = p;
  for (let i = 0; i < 8; i++) {
    if (i === best) {
      d[p++] = COLON;
      d[p++] = COLON;
      i += bestLen - 1;
      continue;
    }
    if (p > start && d[p - 1] !== COLON) d[p++] = COLON;
    const v = g[i] as number;
    if (v >= 0x1000) d[p++] = HEX[v >> 12] as number;
    if (v >= 0x100) d[p++] = HEX[(v >> 8) & 15] as number;
    if (v >= 0x10) d[p++] = HEX[(v >> 4) & 15] as number;
    d[p++] = HEX[v & 15] as number;
  }
  return p;
}

const scratch = new Uint8Array(MAX_ADDRESS_TEXT);

function ascii(b: Uint8Array, end: number): string {
  let s = "";
  for (let i = 0; i < end; i++) s += String.fromCharCode(b[i] as number);
  return s;
}

/** The text of the IPv4 address src[o, o+4), as a string (a datagram's agent address). */
export function ipv4Text(src: Uint8Array, o: number): string {
  return ascii(scratch, writeIpv4Text(scratch, 0, src, o));
}

/** The RFC 5952 text of the IPv6 address src[o, o+16), as a string. */
export function ipv6Text(src: Uint8Array, o: number): string {
  return ascii(scratch, writeIpv6Text(scratch, 0, src, o));
}
