// Decoding one data record with a compiled plan into a reusable scratch object. Values stay
// numbers (counters exact to 2^53) and addresses stay offsets into the datagram until a flow is
// built, so a record costs no allocation here.
import { Kind } from "./fields.js";

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
 * A plan's record decoder (compileDecoder): fills r from the record at pos as the plan says;
 * returns the offset after it, or -1 if it runs past end (a variable-length field whose length
 * goes beyond the set).
 */
export type RecordDecoder = (v: DataView, pos: number, end: number, r: RecordFields) => number;

// Compiling a plan into straight-line code: the program's kinds and lengths are known once the
// template is, so each record needs no loop over its fields, no switch on their kinds and no
// bounds check per field (one per run of fixed-length fields), and a fixed-length field is read
// at a constant offset with the read its length calls for. This was the collector's largest
// cost per record after the state's. The generated code holds only the plan's numbers and the
// names below (no text from the wire), and a record decodes to exactly what reading the plan
// field by field gives (record.test.ts compares the two on every template of the test data).

/** Elements read as unsigned integers of their length (reduced-size encoding). */
const UINT_FIELDS: Readonly<Partial<Record<Kind, keyof RecordFields>>> = {
  [Kind.Octets]: "octets",
  [Kind.Packets]: "packets",
  [Kind.PostOctets]: "postOctets",
  [Kind.PostPackets]: "postPackets",
  [Kind.TotalOctets]: "totalOctets",
  [Kind.TotalPackets]: "totalPackets",
  [Kind.InitiatorOctets]: "initiatorOctets",
  [Kind.InitiatorPackets]: "initiatorPackets",
  [Kind.ResponderOctets]: "responderOctets",
  [Kind.ResponderPackets]: "responderPackets",
  [Kind.RevOctets]: "revOctets",
  [Kind.RevPackets]: "revPackets",
  [Kind.RevTotalOctets]: "revTotalOctets",
  [Kind.RevTotalPackets]: "revTotalPackets",
  [Kind.InIf]: "inIf",
  [Kind.OutIf]: "outIf",
  [Kind.InPhysIf]: "inPhysIf",
  [Kind.OutPhysIf]: "outPhysIf",
  [Kind.StartSysUptime]: "startSysUptime",
  [Kind.EndSysUptime]: "endSysUptime",
  [Kind.StartMillis]: "startMs",
  [Kind.EndMillis]: "endMs",
  [Kind.StartDeltaMicros]: "startDeltaUs",
  [Kind.EndDeltaMicros]: "endDeltaUs",
  [Kind.DurationMillis]: "durationMs",
  [Kind.SystemInitMillis]: "systemInitMs",
  [Kind.SamplerId]: "samplerId",
  [Kind.SamplingInterval]: "samplingInterval",
  [Kind.SamplerRandomInterval]: "samplerRandomInterval",
  [Kind.SamplingPacketInterval]: "samplingPacketInterval",
  [Kind.SamplingPacketSpace]: "samplingPacketSpace",
  [Kind.SamplingSize]: "samplingSize",
  [Kind.SamplingPopulation]: "samplingPopulation",
};

/** readUint(v, p, len) as an expression, for a length known when compiling (or "len"). */
function uintExpr(p: string, len: number | "len"): string {
  switch (len) {
    case 1:
      return `v.getUint8(${p})`;
    case 2:
      return `v.getUint16(${p})`;
    case 4:
      return `v.getUint32(${p})`;
    case 8:
      return `(v.getUint32(${p}) * ${TWO32} + v.getUint32(${p} + 4))`;
    case 3:
      return `(v.getUint16(${p}) * 256 + v.getUint8(${p} + 2))`;
    default:
      return `readUint(v, ${p}, ${len})`;
  }
}

/** The statement that applies `kind` to the field at p of length len (what reading it does). */
function fieldCode(kind: Kind, p: string, len: number | "len"): string {
  const uintField = UINT_FIELDS[kind];
  if (uintField !== undefined) return `r.${uintField} = ${uintExpr(p, len)};`;
  const u8 = `v.getUint8(${p})`;
  const u16 = `v.getUint16(${p})`;
  const port = len === 2 ? u16 : u8;
  const flags = len === 1 ? u8 : `(${u16} & 0xff)`;
  switch (kind) {
    case Kind.Skip:
      return "";
    case Kind.RevTcpFlags:
      return `r.revTcpFlags = ${flags};`;
    case Kind.TcpFlags:
      // The 2-byte form (RFC 7125) carries the header-length nibble and NS/CWR/ECE bits; the
      // flow record keeps the classic 8 flag bits.
      return `r.tcpFlags = ${flags};`;
    case Kind.Proto:
      return `r.proto = ${u8};`;
    case Kind.SrcPort:
      return `r.srcPort = ${port};`;
    case Kind.DstPort:
      return `r.dstPort = ${port};`;
    case Kind.TransportSrcPort:
      return `r.transportSrcPort = ${port};`;
    case Kind.TransportDstPort:
      return `r.transportDstPort = ${port};`;
    case Kind.SrcAddr4:
      return `r.src4 = ${p};`;
    case Kind.DstAddr4:
      return `r.dst4 = ${p};`;
    case Kind.SrcAddr6:
      return `r.src6 = ${p};`;
    case Kind.DstAddr6:
      return `r.dst6 = ${p};`;
    case Kind.Vlan:
      return `r.vlan = ${port} & 0xfff;`;
    case Kind.Dot1qVlan:
      return `r.dot1qVlan = ${port} & 0xfff;`;
    case Kind.IpVersion:
      return `r.ipVersion = ${u8};`;
    case Kind.StartSeconds:
      return `r.startMs = v.getUint32(${p}) * 1000;`;
    case Kind.EndSeconds:
      return `r.endMs = v.getUint32(${p}) * 1000;`;
    case Kind.StartNtp:
      return `r.startMs = ntpToMs(v, ${p});`;
    case Kind.EndNtp:
      return `r.endMs = ntpToMs(v, ${p});`;
    case Kind.DurationMicros:
      return `r.durationMs = Math.floor(${uintExpr(p, len)} / 1000);`;
    case Kind.IcmpTypeCode4:
    case Kind.IcmpTypeCode6:
      return `r.icmpTypeCode = ${u16};`;
    case Kind.IcmpType:
      return `r.icmpType = ${u8};`;
    case Kind.IcmpCode:
      return `r.icmpCode = ${u8};`;
    case Kind.EndReason:
      return `r.endReason = ${u8};`;
    case Kind.BiflowDirection:
      return `r.biflowDirection = ${u8};`;
    case Kind.SamplingProbability:
      return `r.samplingProbability = ${len === 8 ? `v.getFloat64(${p})` : len === 4 ? `v.getFloat32(${p})` : "-1"};`;
    case Kind.L7Name:
      return `r.l7Offset = ${p}; r.l7Length = ${len};`;
    case Kind.DataLinkFrame:
      return `r.frameOffset = ${p}; r.frameLength = ${len};`;
  }
  throw new Error(`compileDecoder: no code for field kind ${kind}`);
}

/**
 * The record decoder of a plan (kinds[i] applied to lens[i] bytes, VARLEN for a field whose
 * length is in the data).
 */
export function compileDecoder(kinds: Uint8Array, lens: Uint16Array, varlen: number): RecordDecoder {
  const lines: string[] = [];
  let i = 0;
  while (i < kinds.length) {
    if (lens[i] === varlen) {
      lines.push(
        "if (pos >= end) return -1;",
        "len = v.getUint8(pos); pos += 1;",
        "if (len === 255) { if (pos + 2 > end) return -1; len = v.getUint16(pos); pos += 2; }",
        "if (pos + len > end) return -1;",
        fieldCode(kinds[i] as Kind, "pos", "len"),
        "pos += len;",
      );
      i++;
      continue;
    }
    // A run of fixed-length fields: one bounds check, then constant offsets.
    let runEnd = i;
    let total = 0;
    while (runEnd < kinds.length && lens[runEnd] !== varlen) total += lens[runEnd++] as number;
    lines.push(`if (pos + ${total} > end) return -1;`);
    for (let off = 0; i < runEnd; i++) {
      const len = lens[i] as number;
      lines.push(fieldCode(kinds[i] as Kind, off === 0 ? "pos" : `pos + ${off}`, len));
      off += len;
    }
    lines.push(`pos += ${total};`);
  }
  const body = `let len = 0;\n${lines.filter((l) => l !== "").join("\n")}\nreturn pos;`;
  const make = new Function("readUint", "ntpToMs", `return function decodeRecord(v, pos, end, r) {\n${body}\n};`);
  return make(readUint, ntpToMs) as RecordDecoder;
}
