// Decoding one data record with a compiled plan into a reusable scratch object. Values stay
// numbers (counters exact to 2^53) and addresses stay offsets into the datagram until a flow is
// built, so a record costs no allocation here.
import { Kind } from "./fields.js";
import type { Plan } from "./template.js";
import { VARLEN } from "./template.js";

const NTP_EPOCH_OFFSET_S = 2208988800;
const TWO32 = 4294967296;

/** The fields of one record. -1 marks "absent" (every real value here is >= 0). */
export class RecordFields {
  octets = -1;
  packets = -1;
  postOctets = -1;
  postPackets = -1;
  totalOctets = -1;
  totalPackets = -1;
  initiatorOctets = -1;
  initiatorPackets = -1;
  responderOctets = -1;
  responderPackets = -1;
  revOctets = -1;
  revPackets = -1;
  revTotalOctets = -1;
  revTotalPackets = -1;
  revTcpFlags = -1;
  proto = -1;
  tcpFlags = -1;
  srcPort = -1;
  dstPort = -1;
  transportSrcPort = -1;
  transportDstPort = -1;
  /** Byte offsets of the addresses in the datagram. */
  src4 = -1;
  dst4 = -1;
  src6 = -1;
  dst6 = -1;
  inIf = -1;
  outIf = -1;
  inPhysIf = -1;
  outPhysIf = -1;
  vlan = -1;
  dot1qVlan = -1;
  ipVersion = -1;
  startSysUptime = -1;
  endSysUptime = -1;
  /** Absolute times in epoch ms, from the *Seconds/*Milliseconds/*Micro/Nanoseconds elements. */
  startMs = -1;
  endMs = -1;
  startDeltaUs = -1;
  endDeltaUs = -1;
  durationMs = -1;
  systemInitMs = -1;
  icmpTypeCode = -1;
  icmpType = -1;
  icmpCode = -1;
  endReason = -1;
  biflowDirection = -1;
  samplerId = -1;
  samplingInterval = -1;
  samplerRandomInterval = -1;
  samplingPacketInterval = -1;
  samplingPacketSpace = -1;
  samplingSize = -1;
  samplingPopulation = -1;
  samplingProbability = -1;
  l7Offset = -1;
  l7Length = 0;
  frameOffset = -1;
  frameLength = 0;

  reset(): void {
    this.octets = -1;
    this.packets = -1;
    this.postOctets = -1;
    this.postPackets = -1;
    this.totalOctets = -1;
    this.totalPackets = -1;
    this.initiatorOctets = -1;
    this.initiatorPackets = -1;
    this.responderOctets = -1;
    this.responderPackets = -1;
    this.revOctets = -1;
    this.revPackets = -1;
    this.revTotalOctets = -1;
    this.revTotalPackets = -1;
    this.revTcpFlags = -1;
    this.proto = -1;
    this.tcpFlags = -1;
    this.srcPort = -1;
    this.dstPort = -1;
    this.transportSrcPort = -1;
    this.transportDstPort = -1;
    this.src4 = -1;
    this.dst4 = -1;
    this.src6 = -1;
    this.dst6 = -1;
    this.inIf = -1;
    this.outIf = -1;
    this.inPhysIf = -1;
    this.outPhysIf = -1;
    this.vlan = -1;
    this.dot1qVlan = -1;
    this.ipVersion = -1;
    this.startSysUptime = -1;
    this.endSysUptime = -1;
    this.startMs = -1;
    this.endMs = -1;
    this.startDeltaUs = -1;
    this.endDeltaUs = -1;
    this.durationMs = -1;
    this.systemInitMs = -1;
    this.icmpTypeCode = -1;
    this.icmpType = -1;
    this.icmpCode = -1;
    this.endReason = -1;
    this.biflowDirection = -1;
    this.samplerId = -1;
    this.samplingInterval = -1;
    this.samplerRandomInterval = -1;
    this.samplingPacketInterval = -1;
    this.samplingPacketSpace = -1;
    this.samplingSize = -1;
    this.samplingPopulation = -1;
    this.samplingProbability = -1;
    this.l7Offset = -1;
    this.l7Length = 0;
    this.frameOffset = -1;
    this.frameLength = 0;
  }
}

/** Unsigned big-endian integer of 1..8 bytes (reduced-size encoding, RFC 7011 section 6.2). */
export function readUint(v: DataView, pos: number, len: number): number {
  switch (len) {
    case 1:
      return v.getUint8(pos);
    case 2:
      return v.getUint16(pos);
    case 4:
      return v.getUint32(pos);
    case 8:
      return v.getUint32(pos) * TWO32 + v.getUint32(pos + 4);
    case 3:
      return v.getUint16(pos) * 256 + v.getUint8(pos + 2);
    default: {
      let x = 0;
      for (let i = 0; i < len; i++) x = x * 256 + v.getUint8(pos + i);
      return x;
    }
  }
}

function ntpToMs(v: DataView, pos: number): number {
  const s = v.getUint32(pos);
  const frac = v.getUint32(pos + 4);
  return (s - NTP_EPOCH_OFFSET_S) * 1000 + Math.floor((frac / TWO32) * 1000);
}

/**
 * Decodes the record at pos; returns the offset after it, or -1 if it runs past end (a
 * variable-length field whose length goes beyond the set).
 */
export function decodeRecord(plan: Plan, v: DataView, pos: number, end: number, r: RecordFields): number {
  const kinds = plan.kinds;
  const lens = plan.lens;
  const n = kinds.length;
  for (let i = 0; i < n; i++) {
    let len = lens[i] as number;
    if (len === VARLEN) {
      if (pos >= end) return -1;
      len = v.getUint8(pos);
      pos += 1;
      if (len === 255) {
        if (pos + 2 > end) return -1;
        len = v.getUint16(pos);
        pos += 2;
      }
    }
    if (pos + len > end) return -1;
    switch (kinds[i]) {
      case Kind.Skip:
        break;
      case Kind.Octets:
        r.octets = readUint(v, pos, len);
        break;
      case Kind.Packets:
        r.packets = readUint(v, pos, len);
        break;
      case Kind.PostOctets:
        r.postOctets = readUint(v, pos, len);
        break;
      case Kind.PostPackets:
        r.postPackets = readUint(v, pos, len);
        break;
      case Kind.TotalOctets:
        r.totalOctets = readUint(v, pos, len);
        break;
      case Kind.TotalPackets:
        r.totalPackets = readUint(v, pos, len);
        break;
      case Kind.InitiatorOctets:
        r.initiatorOctets = readUint(v, pos, len);
        break;
      case Kind.InitiatorPackets:
        r.initiatorPackets = readUint(v, pos, len);
        break;
      case Kind.ResponderOctets:
        r.responderOctets = readUint(v, pos, len);
        break;
      case Kind.ResponderPackets:
        r.responderPackets = readUint(v, pos, len);
        break;
      case Kind.RevOctets:
        r.revOctets = readUint(v, pos, len);
        break;
      case Kind.RevPackets:
        r.revPackets = readUint(v, pos, len);
        break;
      case Kind.RevTotalOctets:
        r.revTotalOctets = readUint(v, pos, len);
        break;
      case Kind.RevTotalPackets:
        r.revTotalPackets = readUint(v, pos, len);
        break;
      case Kind.RevTcpFlags:
        r.revTcpFlags = len === 1 ? v.getUint8(pos) : v.getUint16(pos) & 0xff;
        break;
      case Kind.Proto:
        r.proto = v.getUint8(pos);
        break;
      case Kind.TcpFlags:
        // The 2-byte form (RFC 7125) carries the header-length nibble and NS/CWR/ECE bits; the
        // flow record keeps the classic 8 flag bits.
        r.tcpFlags = len === 1 ? v.getUint8(pos) : v.getUint16(pos) & 0xff;
        break;
      case Kind.SrcPort:
        r.srcPort = len === 2 ? v.getUint16(pos) : v.getUint8(pos);
        break;
      case Kind.DstPort:
        r.dstPort = len === 2 ? v.getUint16(pos) : v.getUint8(pos);
        break;
      case Kind.TransportSrcPort:
        r.transportSrcPort = len === 2 ? v.getUint16(pos) : v.getUint8(pos);
        break;
      case Kind.TransportDstPort:
        r.transportDstPort = len === 2 ? v.getUint16(pos) : v.getUint8(pos);
        break;
      case Kind.SrcAddr4:
        r.src4 = pos;
        break;
      case Kind.DstAddr4:
        r.dst4 = pos;
        break;
      case Kind.SrcAddr6:
        r.src6 = pos;
        break;
      case Kind.DstAddr6:
        r.dst6 = pos;
        break;
      case Kind.InIf:
        r.inIf = readUint(v, pos, len);
        break;
      case Kind.OutIf:
        r.outIf = readUint(v, pos, len);
        break;
      case Kind.InPhysIf:
        r.inPhysIf = readUint(v, pos, len);
        break;
      case Kind.OutPhysIf:
        r.outPhysIf = readUint(v, pos, len);
        break;
      case Kind.Vlan:
        r.vlan = (len === 2 ? v.getUint16(pos) : v.getUint8(pos)) & 0xfff;
        break;
      case Kind.Dot1qVlan:
        r.dot1qVlan = (len === 2 ? v.getUint16(pos) : v.getUint8(pos)) & 0xfff;
        break;
      case Kind.IpVersion:
        r.ipVersion = v.getUint8(pos);
        break;
      case Kind.StartSysUptime:
        r.startSysUptime = readUint(v, pos, len);
        break;
      case Kind.EndSysUptime:
        r.endSysUptime = readUint(v, pos, len);
        break;
      case Kind.StartSeconds:
        r.startMs = v.getUint32(pos) * 1000;
        break;
      case Kind.EndSeconds:
        r.endMs = v.getUint32(pos) * 1000;
        break;
      case Kind.StartMillis:
        r.startMs = readUint(v, pos, len);
        break;
      case Kind.EndMillis:
        r.endMs = readUint(v, pos, len);
        break;
      case Kind.StartNtp:
        r.startMs = ntpToMs(v, pos);
        break;
      case Kind.EndNtp:
        r.endMs = ntpToMs(v, pos);
        break;
      case Kind.StartDeltaMicros:
        r.startDeltaUs = readUint(v, pos, len);
        break;
      case Kind.EndDeltaMicros:
        r.endDeltaUs = readUint(v, pos, len);
        break;
      case Kind.DurationMillis:
        r.durationMs = readUint(v, pos, len);
        break;
      case Kind.DurationMicros:
        r.durationMs = Math.floor(readUint(v, pos, len) / 1000);
        break;
      case Kind.SystemInitMillis:
        r.systemInitMs = readUint(v, pos, len);
        break;
      case Kind.IcmpTypeCode4:
      case Kind.IcmpTypeCode6:
        r.icmpTypeCode = v.getUint16(pos);
        break;
      case Kind.IcmpType:
        r.icmpType = v.getUint8(pos);
        break;
      case Kind.IcmpCode:
        r.icmpCode = v.getUint8(pos);
        break;
      case Kind.EndReason:
        r.endReason = v.getUint8(pos);
        break;
      case Kind.BiflowDirection:
        r.biflowDirection = v.getUint8(pos);
        break;
      case Kind.SamplerId:
        r.samplerId = readUint(v, pos, len);
        break;
      case Kind.SamplingInterval:
        r.samplingInterval = readUint(v, pos, len);
        break;
      case Kind.SamplerRandomInterval:
        r.samplerRandomInterval = readUint(v, pos, len);
        break;
      case Kind.SamplingPacketInterval:
        r.samplingPacketInterval = readUint(v, pos, len);
        break;
      case Kind.SamplingPacketSpace:
        r.samplingPacketSpace = readUint(v, pos, len);
        break;
      case Kind.SamplingSize:
        r.samplingSize = readUint(v, pos, len);
        break;
      case Kind.SamplingPopulation:
        r.samplingPopulation = readUint(v, pos, len);
        break;
      case Kind.SamplingProbability:
        r.samplingProbability = len === 8 ? v.getFloat64(pos) : len === 4 ? v.getFloat32(pos) : -1;
        break;
      case Kind.L7Name:
        r.l7Offset = pos;
        r.l7Length = len;
        break;
      case Kind.DataLinkFrame:
        r.frameOffset = pos;
        r.frameLength = len;
        break;
    }
    pos += len;
  }
  return pos;
}
