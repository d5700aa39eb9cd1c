// Packet-sampling exporters (Juniper, Cisco "datalink" records, RFC 7133 dataLinkFrameSection,
// IE 315) send the first bytes of a sampled frame instead of flow keys. The keys are read from
// the frame's outer IP header: Ethernet, 802.1Q/802.1ad tags, MPLS labels (an Ethernet
// pseudowire behind a control word included), then IPv4 or IPv6 and the transport ports.
import type { RecordFields } from "./record.js";

const MAX_TAGS = 8;

/**
 * Fills the record's missing keys from the frame at [off, off+len) of b. Returns the IP length
 * of the sampled packet (its byte count), or -1 if no IP header was found.
 */
export function keysFromFrame(b: Uint8Array, v: DataView, off: number, len: number, r: RecordFields): number {
  let end = off + len;
  if (end > b.length) end = b.length;
  let p = off;
  let vlan = -1;
  for (let depth = 0; depth < 2; depth++) {
    if (p + 14 > end) return -1;
    let etherType = v.getUint16(p + 12);
    p += 14;
    for (let i = 0; i < MAX_TAGS && (etherType === 0x8100 || etherType === 0x88a8 || etherType === 0x9100); i++) {
      if (p + 4 > end) return -1;
      if (vlan < 0) vlan = v.getUint16(p) & 0xfff;
      etherType = v.getUint16(p + 2);
      p += 4;
    }
    if (etherType === 0x8847 || etherType === 0x8848) {
      for (let i = 0; ; i++) {
        if (i >= MAX_TAGS || p + 4 > end) return -1;
        const bottom = (b[p + 2] as number) & 1;
        p += 4;
        if (bottom) break;
      }
      if (p >= end) return -1;
      const nibble = (b[p] as number) >> 4;
      if (nibble === 0) {
        // Pseudowire control word, then an Ethernet frame (RFC 4448).
        p += 4;
        continue;
      }
      etherType = nibble === 4 ? 0x0800 : nibble === 6 ? 0x86dd : -1;
    }
    if (vlan >= 0 && r.vlan < 0 && r.dot1qVlan < 0) r.vlan = vlan;
    if (etherType === 0x0800) return ipv4(b, v, p, end, r);
    if (etherType === 0x86dd) return ipv6(b, v, p, end, r);
    return -1;
  }
  return -1;
}

function ipv4(b: Uint8Array, v: DataView, p: number, end: number, r: RecordFields): number {
  if (p + 20 > end || (b[p] as number) >> 4 !== 4) return -1;
  const ihl = ((b[p] as number) & 15) * 4;
  r.src4 = p + 12;
  r.dst4 = p + 16;
  const proto = b[p + 9] as number;
  if (r.proto < 0) r.proto = proto;
  // Ports only in the first fragment.
  if ((v.getUint16(p + 6) & 0x1fff) === 0) transport(b, v, p + ihl, end, proto, r);
  return v.getUint16(p + 2);
}

function ipv6(b: Uint8Array, v: DataView, p: number, end: number, r: RecordFields): number {
  if (p + 40 > end || (b[p] as number) >> 4 !== 6) return -1;
  r.src6 = p + 8;
  r.dst6 = p + 24;
  const proto = b[p + 6] as number;
  if (r.proto < 0) r.proto = proto;
  transport(b, v, p + 40, end, proto, r);
  return v.getUint16(p + 4) + 40;
}

function transport(b: Uint8Array, v: DataView, p: number, end: number, proto: number, r: RecordFields): void {
  if (proto === 6 || proto === 17 || proto === 132) {
    if (p + 4 > end) return;
    if (r.srcPort < 0) r.srcPort = v.getUint16(p);
    if (r.dstPort < 0) r.dstPort = v.getUint16(p + 2);
    if (proto === 6 && p + 14 <= end && r.tcpFlags < 0) r.tcpFlags = b[p + 13] as number;
  } else if (proto === 1 || proto === 58) {
    if (p + 2 > end || r.icmpTypeCode >= 0) return;
    r.icmpTypeCode = v.getUint16(p);
  }
}
