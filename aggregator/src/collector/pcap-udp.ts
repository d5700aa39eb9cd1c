// UDP datagrams out of a capture file: classic pcap (both byte orders, micro- and nanosecond)
// and pcapng (any number of sections and interfaces), over Ethernet (802.1Q/802.1ad tags),
// Linux cooked v1/v2, raw IP, BSD loopback, PPI; IPv4 and IPv6 (extension headers walked). What
// `flowlens collect --pcap` and the collector tests feed to the flow-export decoders. IP
// fragments are not reassembled: they are counted and skipped.
import { readFileSync } from "node:fs";

export interface UdpDatagram {
  /** 1-based frame number in the file, as tshark numbers frames. */
  frame: number;
  /** Capture timestamp, epoch milliseconds (fractional). */
  timestampMs: number;
  srcAddr: string;
  dstAddr: string;
  srcPort: number;
  dstPort: number;
  /** A view into the file buffer: copy it to keep it past the buffer's life. */
  payload: Uint8Array;
}

export interface PcapUdpStats {
  frames: number;
  udp: number;
  /** Frames that are not UDP, or whose link type we do not read. */
  notUdp: number;
  /** IP fragments (not reassembled). */
  fragments: number;
  /** Frames cut short by the snap length or malformed headers. */
  truncated: number;
}

export class PcapFormatError extends Error {
  readonly code = "PCAP_FORMAT";
}

// Link types (https://www.tcpdump.org/linktypes.html).
const LINK_NULL = 0;
const LINK_ETHERNET = 1;
const LINK_RAW = 101;
const LINK_RAW_ALT_12 = 12;
const LINK_RAW_ALT_14 = 14;
const LINK_LOOP = 108;
const LINK_SLL = 113;
const LINK_IPV4 = 228;
const LINK_IPV6 = 229;
const LINK_SLL2 = 276;
const LINK_PPI = 192;

interface Frame {
  frame: number;
  timestampMs: number;
  linkType: number;
  data: Uint8Array;
  truncated: boolean;
}

function* classicFrames(buf: Uint8Array, v: DataView): Generator<Frame> {
  const magic = v.getUint32(0, true);
  let le: boolean;
  let nano: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) {
    le = true;
    nano = magic === 0xa1b23c4d;
  } else {
    le = false;
    nano = v.getUint32(0, false) === 0xa1b23c4d;
  }
  if (buf.length < 24) throw new PcapFormatError("pcap: file header truncated");
  // The upper bits of the link-type field may carry FCS information (pcap-linktype(7)).
  const linkType = v.getUint32(20, le) & 0x0fffffff;
  let off = 24;
  let frame = 0;
  while (off + 16 <= buf.length) {
    const sec = v.getUint32(off, le);
    const frac = v.getUint32(off + 4, le);
    const capLen = v.getUint32(off + 8, le);
    const origLen = v.getUint32(off + 12, le);
    off += 16;
    if (capLen > buf.length - off) throw new PcapFormatError(`pcap: record ${frame + 1} runs past the end of the file`);
    frame++;
    yield {
      frame,
      timestampMs: sec * 1000 + (nano ? frac / 1e6 : frac / 1e3),
      linkType,
      data: buf.subarray(off, off + capLen),
      truncated: capLen < origLen,
    };
    off += capLen;
  }
}

interface NgInterface {
  linkType: number;
  /** Timestamp units per second. */
  unitsPerSec: number;
}

function* pcapngFrames(buf: Uint8Array, v: DataView): Generator<Frame> {
  let off = 0;
  let le = true;
  let ifaces: NgInterface[] = [];
  let frame = 0;
  while (off + 12 <= buf.length) {
    let type = v.getUint32(off, le);
    if (type === 0x0a0d0d0a) {
      // Section header: its byte-order magic decides how everything in the section is read.
      const bom = v.getUint32(off + 8, true);
      if (bom === 0x1a2b3c4d) le = true;
      else if (bom === 0x4d3c2b1a) le = false;
      else throw new PcapFormatError("pcapng: bad byte-order magic");
      type = 0x0a0d0d0a;
      ifaces = [];
    }
    const len = v.getUint32(off + 4, le);
    if (len < 12 || len % 4 !== 0 || len > buf.length - off) {
      throw new PcapFormatError(`pcapng: bad block length ${len} at offset ${off}`);
    }
    const body = off + 8;
    const bodyEnd = off + len - 4;
    if (type === 1 && bodyEnd - body >= 8) {
      ifaces.push({ linkType: v.getUint16(body, le), unitsPerSec: ngTsResolution(buf, v, body + 8, bodyEnd, le) });
    } else if (type === 6 && bodyEnd - body >= 20) {
      const ifId = v.getUint32(body, le);
      const iface = ifaces[ifId];
      if (!iface) throw new PcapFormatError(`pcapng: packet on undeclared interface ${ifId}`);
      const ts = v.getUint32(body + 4, le) * 4294967296 + v.getUint32(body + 8, le);
      const capLen = v.getUint32(body + 12, le);
      const origLen = v.getUint32(body + 16, le);
      if (capLen > bodyEnd - body - 20) throw new PcapFormatError("pcapng: packet data runs past its block");
      frame++;
      yield {
        frame,
        timestampMs: (ts / iface.unitsPerSec) * 1000,
        linkType: iface.linkType,
        data: buf.subarray(body + 20, body + 20 + capLen),
        truncated: capLen < origLen,
      };
    } else if (type === 3 && bodyEnd - body >= 4) {
      const iface = ifaces[0];
      if (!iface) throw new PcapFormatError("pcapng: simple packet block without an interface");
      const origLen = v.getUint32(body, le);
      const capLen = Math.min(origLen, bodyEnd - body - 4);
      frame++;
      yield {
        frame,
        timestampMs: 0,
        linkType: iface.linkType,
        data: buf.subarray(body + 4, body + 4 + capLen),
        truncated: capLen < origLen,
      };
    } else if (type === 2 && bodyEnd - body >= 20) {
      // Obsolete packet block: 16-bit interface id and drop count.
      const iface = ifaces[v.getUint16(body, le)];
      if (!iface) throw new PcapFormatError("pcapng: packet on undeclared interface");
      const ts = v.getUint32(body + 4, le) * 4294967296 + v.getUint32(body + 8, le);
      const capLen = v.getUint32(body + 12, le);
      const origLen = v.getUint32(body + 16, le);
      if (capLen > bodyEnd - body - 20) throw new PcapFormatError("pcapng: packet data runs past its block");
      frame++;
      yield {
        frame,
        timestampMs: (ts / iface.unitsPerSec) * 1000,
        linkType: iface.linkType,
        data: buf.subarray(body + 20, body + 20 + capLen),
        truncated: capLen < origLen,
      };
    }
    off += len;
  }
}

/** if_tsresol (option 9): 10^-n, or 2^-n when the top bit is set; microseconds by default. */
function ngTsResolution(buf: Uint8Array, v: DataView, off: number, end: number, le: boolean): number {
  while (off + 4 <= end) {
    const code = v.getUint16(off, le);
    const len = v.getUint16(off + 2, le);
    if (code === 0) break;
    if (code === 9 && len >= 1 && off + 5 <= end) {
      const r = buf[off + 4] as number;
      return r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
    }
    off += 4 + ((len + 3) & ~3);
  }
  return 1e6;
}

function formatIPv4(b: Uint8Array, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** RFC 5952 text: lowercase, longest run (>= 2) of zero groups as "::", IPv4-mapped as dotted. */
export function formatIPv6(b: Uint8Array, off: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(((b[off + 2 * i] as number) << 8) | (b[off + 2 * i + 1] as number));
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${formatIPv4(b, off + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

type Parsed =
  | { kind: "udp"; src: string; dst: string; sport: number; dport: number; payload: Uint8Array }
  | { kind: "not_udp" | "fragment" | "truncated" };

const NOT_UDP = { kind: "not_udp" } as const;
const FRAGMENT = { kind: "fragment" } as const;
const TRUNCATED = { kind: "truncated" } as const;

function parseLink(linkType: number, d: Uint8Array, v: DataView): Parsed {
  let off = 0;
  let etherType = -1;
  switch (linkType) {
    case LINK_ETHERNET: {
      if (d.length < 14) return TRUNCATED;
      etherType = v.getUint16(12);
      off = 14;
      // 802.1Q, 802.1ad and the old QinQ tag: skip them all.
      while (etherType === 0x8100 || etherType === 0x88a8 || etherType === 0x9100) {
        if (d.length < off + 4) return TRUNCATED;
        etherType = v.getUint16(off + 2);
        off += 4;
      }
      break;
    }
    case LINK_SLL:
      if (d.length < 16) return TRUNCATED;
      etherType = v.getUint16(14);
      off = 16;
      break;
    case LINK_SLL2:
      if (d.length < 20) return TRUNCATED;
      etherType = v.getUint16(0);
      off = 20;
      break;
    case LINK_NULL:
    case LINK_LOOP: {
      if (d.length < 4) return TRUNCATED;
      // DLT_NULL is in the capturing host's byte order, DLT_LOOP in network order.
      const fam = linkType === LINK_LOOP ? v.getUint32(0) : Math.min(v.getUint32(0, true), v.getUint32(0, false));
      off = 4;
      etherType = fam === 2 ? 0x0800 : fam === 24 || fam === 28 || fam === 30 ? 0x86dd : -1;
      break;
    }
    case LINK_RAW:
    case LINK_RAW_ALT_12:
    case LINK_RAW_ALT_14:
    case LINK_IPV4:
    case LINK_IPV6: {
      if (d.length < 1) return TRUNCATED;
      const ver = (d[0] as number) >> 4;
      etherType = ver === 4 ? 0x0800 : ver === 6 ? 0x86dd : -1;
      break;
    }
    case LINK_PPI: {
      // Per-Packet Information header (little-endian length and inner link type), then the frame.
      if (d.length < 8) return TRUNCATED;
      const len = v.getUint16(2, true);
      const inner = v.getUint32(4, true);
      if (len < 8 || len > d.length || inner === LINK_PPI) return TRUNCATED;
      const rest = d.subarray(len);
      return parseLink(inner, rest, new DataView(rest.buffer, rest.byteOffset, rest.byteLength));
    }
    default:
      return NOT_UDP;
  }
  if (etherType === 0x0800) return parseIPv4(d, v, off);
  if (etherType === 0x86dd) return parseIPv6(d, v, off);
  return NOT_UDP;
}

function parseIPv4(d: Uint8Array, v: DataView, off: number): Parsed {
  if (d.length < off + 20) return TRUNCATED;
  const b0 = d[off] as number;
  if (b0 >> 4 !== 4) return NOT_UDP;
  const ihl = (b0 & 15) * 4;
  const total = v.getUint16(off + 2);
  if (ihl < 20 || total < ihl) return TRUNCATED;
  const fragField = v.getUint16(off + 6);
  if ((fragField & 0x3fff) !== 0) return FRAGMENT;
  if (d[off + 9] !== 17) return NOT_UDP;
  const end = Math.min(d.length, off + total);
  return parseUdp(d, v, off + ihl, end, formatIPv4(d, off + 12), formatIPv4(d, off + 16));
}

function parseIPv6(d: Uint8Array, v: DataView, off: number): Parsed {
  if (d.length < off + 40) return TRUNCATED;
  if ((d[off] as number) >> 4 !== 6) return NOT_UDP;
  const payloadLen = v.getUint16(off + 4);
  let next = d[off + 6] as number;
  const src = formatIPv6(d, off + 8);
  const dst = formatIPv6(d, off + 24);
  const end = payloadLen === 0 ? d.length : Math.min(d.length, off + 40 + payloadLen);
  let p = off + 40;
  // Hop-by-hop, routing, destination options, fragment, AH: at most a handful in real traffic.
  for (let hops = 0; hops < 8; hops++) {
    if (next === 17) return parseUdp(d, v, p, end, src, dst);
    if (next === 44) {
      if (p + 8 > end) return TRUNCATED;
      const fo = v.getUint16(p + 2);
      if ((fo & 0xfff9) !== 0) return FRAGMENT;
      next = d[p] as number;
      p += 8;
    } else if (next === 0 || next === 43 || next === 60) {
      if (p + 8 > end) return TRUNCATED;
      next = d[p] as number;
      p += ((d[p + 1] as number) + 1) * 8;
    } else if (next === 51) {
      if (p + 8 > end) return TRUNCATED;
      next = d[p] as number;
      p += ((d[p + 1] as number) + 2) * 4;
    } else {
      return NOT_UDP;
    }
  }
  return NOT_UDP;
}

function parseUdp(d: Uint8Array, v: DataView, off: number, end: number, src: string, dst: string): Parsed {
  if (off + 8 > end) return TRUNCATED;
  const udpLen = v.getUint16(off + 4);
  // Length 0 is legal for IPv6 jumbograms; otherwise never trust it past the IP packet.
  const stop = udpLen >= 8 ? Math.min(end, off + udpLen) : end;
  if (udpLen >= 8 && off + udpLen > end) return TRUNCATED;
  return {
    kind: "udp",
    src,
    dst,
    sport: v.getUint16(off),
    dport: v.getUint16(off + 2),
    payload: d.subarray(off + 8, stop),
  };
}

/** Reads UDP datagrams from a capture already in memory; throws PcapFormatError on a bad file. */
export class PcapUdpReader {
  readonly stats: PcapUdpStats = { frames: 0, udp: 0, notUdp: 0, fragments: 0, truncated: 0 };
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    if (buf.length < 4) throw new PcapFormatError("capture file too short");
    const m = this.view.getUint32(0, false);
    const known = [0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a];
    if (!known.includes(m)) throw new PcapFormatError(`not a pcap or pcapng file (magic 0x${m.toString(16)})`);
  }

  *datagrams(): Generator<UdpDatagram> {
    const frames =
      this.view.getUint32(0, false) === 0x0a0d0d0a
        ? pcapngFrames(this.buf, this.view)
        : classicFrames(this.buf, this.view);
    for (const f of frames) {
      this.stats.frames++;
      const fv = new DataView(f.data.buffer, f.data.byteOffset, f.data.byteLength);
      const p = parseLink(f.linkType, f.data, fv);
      if (p.kind !== "udp") {
        if (p.kind === "not_udp") this.stats.notUdp++;
        else if (p.kind === "fragment") this.stats.fragments++;
        else this.stats.truncated++;
        continue;
      }
      if (f.truncated) {
        // The snap length cut the datagram: decoding a prefix would only produce errors.
        this.stats.truncated++;
        continue;
      }
      this.stats.udp++;
      yield {
        frame: f.frame,
        timestampMs: f.timestampMs,
        srcAddr: p.src,
        dstAddr: p.dst,
        srcPort: p.sport,
        dstPort: p.dport,
        payload: p.payload,
      };
    }
  }
}

/** All UDP datagrams of a capture file. */
export function readUdpDatagrams(path: string): { datagrams: UdpDatagram[]; stats: PcapUdpStats } {
  const reader = new PcapUdpReader(readFileSync(path));
  const datagrams = [...reader.datagrams()];
  return { datagrams, stats: reader.stats };
}
