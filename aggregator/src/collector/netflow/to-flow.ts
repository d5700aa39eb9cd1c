// One decoded record -> the flow record of DESIGN.md (pb.Flow). Which element wins when a
// record carries several for the same thing, how times are anchored for each protocol version,
// ICMP type/code into dstPort, sampling scale-up, and the Community ID.
import { pb } from "@flowlens/contracts";
import { communityIdAt } from "../community-id.js";
import { keysFromFrame } from "./frame.js";
import type { RecordFields } from "./record.js";

export interface RecordContext {
  bytes: Uint8Array;
  exporter: string;
  version: 5 | 9 | 10;
  domain: number;
  /** Header export time, epoch ms. */
  exportMs: number;
  /** v5/v9 header sysUptime (ms) that *SysUpTime elements are relative to; -1 for IPFIX. */
  sysUptimeMs: number;
  /** IPFIX systemInitTimeMilliseconds learned from options data; -1 if unknown. */
  systemInitMs: number;
  communityId: boolean;
}

const PROTO_ICMP = 1;
const PROTO_ICMP6 = 58;
const TWO32 = 4294967296;

const EXPORT_VERSION: Record<5 | 9 | 10, pb.ExportVersion> = {
  5: pb.ExportVersion.EXPORT_VERSION_NETFLOW_V5,
  9: pb.ExportVersion.EXPORT_VERSION_NETFLOW_V9,
  10: pb.ExportVersion.EXPORT_VERSION_IPFIX,
};

/** flowEndReason (IE 136) -> end reason: idle, active, end detected, forced end, lack of resources. */
const END_REASON: readonly pb.EndReason[] = [
  pb.EndReason.END_REASON_UNSPECIFIED,
  pb.EndReason.END_REASON_IDLE,
  pb.EndReason.END_REASON_ACTIVE,
  pb.EndReason.END_REASON_FIN,
  pb.EndReason.END_REASON_EOF,
  pb.EndReason.END_REASON_EVICTED,
];

/** sysUptime minus a switched time, modulo 2^32 and signed: a flow may end a few ms "after" the header. */
function uptimeDelta(sysUptime: number, t: number): number {
  const d = (sysUptime - t + TWO32) % TWO32;
  return d >= 2147483648 ? d - TWO32 : d;
}

function ipv4At(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

const groups = new Int32Array(8);

/** RFC 5952 text of the IPv6 address at b[o..o+16): the decoder formats one or two per record. */
export function ipv6At(b: Uint8Array, o: number): string {
  const g = groups;
  for (let i = 0; i < 8; i++) g[i] = ((b[o + 2 * i] as number) << 8) | (b[o + 2 * i + 1] as number);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${ipv4At(b, o + 12)}`;
  }
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
  let s = "";
  for (let i = 0; i < 8; i++) {
    if (i === best) {
      s += "::";
      i += bestLen - 1;
      continue;
    }
    if (s.length > 0 && !s.endsWith(":")) s += ":";
    s += (g[i] as number).toString(16);
  }
  return s;
}

function isZero(b: Uint8Array, o: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (b[o + i] !== 0) return false;
  return true;
}

/** ntop's L7_PROTO_NAME: printable ASCII up to the first NUL; anything else is not a name. */
function l7Name(b: Uint8Array, off: number, len: number): string {
  let end = off;
  const stop = off + Math.min(len, 64);
  while (end < stop && b[end] !== 0) {
    const c = b[end] as number;
    if (c < 0x20 || c > 0x7e) return "Unknown";
    end++;
  }
  if (end === off) return "Unknown";
  return String.fromCharCode(...b.subarray(off, end));
}

function pick(a: number, b: number, c: number, d: number): number {
  return a >= 0 ? a : b >= 0 ? b : c >= 0 ? c : d;
}

function scaled(raw: number, rate: number): bigint {
  if (raw <= 0) return 0n;
  return BigInt(rate === 1 ? raw : raw * rate);
}

const MAX = Number.MAX_SAFE_INTEGER;

/** Why a record gave no flow. */
export type NotAFlow = "no_address" | "bad_value";

/**
 * The flow of a data record, or why there is none: no addresses (a layer-2 or WLC client record)
 * or values no flow can have. rate is the 1-in-N sampling rate that applies (1 if unsampled).
 */
export function toFlow(r: RecordFields, ctx: RecordContext, rate: number): pb.Flow | NotAFlow {
  const b = ctx.bytes;
  if (r.src4 < 0 && r.dst4 < 0 && r.src6 < 0 && r.dst6 < 0 && r.frameOffset >= 0) {
    const ipLength = keysFromFrame(
      b,
      new DataView(b.buffer, b.byteOffset, b.byteLength),
      r.frameOffset,
      r.frameLength,
      r,
    );
    // A sampled-packet record counts that one packet, unless the exporter gave counters.
    if (ipLength >= 0 && r.octets < 0 && r.packets < 0) {
      r.octets = ipLength;
      r.packets = 1;
    }
  }
  let ipv6: boolean;
  let srcOff: number;
  let dstOff: number;
  const has4 = r.src4 >= 0 || r.dst4 >= 0;
  const has6 = r.src6 >= 0 || r.dst6 >= 0;
  if (has4 && has6) {
    // Templates that carry both families fill the unused one with zeros.
    if (r.ipVersion === 4 || r.ipVersion === 6) ipv6 = r.ipVersion === 6;
    else ipv6 = !((r.src6 < 0 || isZero(b, r.src6, 16)) && (r.dst6 < 0 || isZero(b, r.dst6, 16)));
  } else if (has4 || has6) {
    ipv6 = has6;
  } else {
    return "no_address";
  }
  if (ipv6) {
    srcOff = r.src6;
    dstOff = r.dst6;
  } else {
    srcOff = r.src4;
    dstOff = r.dst4;
  }

  let srcPort = r.srcPort >= 0 ? r.srcPort : Math.max(r.transportSrcPort, 0);
  let dstPort = r.dstPort >= 0 ? r.dstPort : Math.max(r.transportDstPort, 0);
  const proto = Math.max(r.proto, 0);
  if (proto === PROTO_ICMP || proto === PROTO_ICMP6) {
    // DESIGN.md: dstPort = type*256+code. Exporters give it as icmpTypeCode*, as separate
    // type/code elements, or (Cisco, v5) already in the destination port.
    if (r.icmpTypeCode >= 0) dstPort = r.icmpTypeCode;
    else if (r.icmpType >= 0) dstPort = r.icmpType * 256 + Math.max(r.icmpCode, 0);
    else if (dstPort === 0 && srcPort !== 0) dstPort = srcPort;
    srcPort = 0;
  }

  let fwdBytes = pick(r.octets, r.initiatorOctets, r.postOctets, r.totalOctets);
  let fwdPkts = pick(r.packets, r.initiatorPackets, r.postPackets, r.totalPackets);
  let revBytes = pick(r.revOctets, r.responderOctets, r.revTotalOctets, -1);
  let revPkts = pick(r.revPackets, r.responderPackets, r.revTotalPackets, -1);
  let srcFlags = Math.max(r.tcpFlags, 0);
  let dstFlags = Math.max(r.revTcpFlags, 0);
  if (fwdBytes < 0) fwdBytes = 0;
  if (fwdPkts < 0) fwdPkts = 0;
  if (revBytes < 0) revBytes = 0;
  if (revPkts < 0) revPkts = 0;

  let srcAddr: string;
  let dstAddr: string;
  if (ipv6) {
    srcAddr = srcOff >= 0 ? ipv6At(b, srcOff) : "::";
    dstAddr = dstOff >= 0 ? ipv6At(b, dstOff) : "::";
  } else {
    srcAddr = srcOff >= 0 ? ipv4At(b, srcOff) : "0.0.0.0";
    dstAddr = dstOff >= 0 ? ipv4At(b, dstOff) : "0.0.0.0";
  }
  // RFC 5103 biflowDirection 2 (reverseInitiator): the record's source is the responder, and
  // the flow record's src is always the initiator.
  if (r.biflowDirection === 2) {
    let t: number = srcOff;
    srcOff = dstOff;
    dstOff = t;
    const ts = srcAddr;
    srcAddr = dstAddr;
    dstAddr = ts;
    if (proto !== PROTO_ICMP && proto !== PROTO_ICMP6) {
      t = srcPort;
      srcPort = dstPort;
      dstPort = t;
    }
    t = fwdBytes;
    fwdBytes = revBytes;
    revBytes = t;
    t = fwdPkts;
    fwdPkts = revPkts;
    revPkts = t;
    t = srcFlags;
    srcFlags = dstFlags;
    dstFlags = t;
  }

  // Times: absolute elements first, then deltas to the export time, then sysUpTime-relative.
  let first = r.startMs;
  let last = r.endMs;
  if (first < 0 && r.startDeltaUs >= 0) first = ctx.exportMs - Math.floor(r.startDeltaUs / 1000);
  if (last < 0 && r.endDeltaUs >= 0) last = ctx.exportMs - Math.floor(r.endDeltaUs / 1000);
  if (first < 0 && r.startSysUptime >= 0) first = fromUptime(r.startSysUptime, r, ctx);
  if (last < 0 && r.endSysUptime >= 0) last = fromUptime(r.endSysUptime, r, ctx);
  if (r.durationMs >= 0) {
    if (first >= 0 && last < 0) last = first + r.durationMs;
    else if (last >= 0 && first < 0) first = last - r.durationMs;
  }
  if (first < 0) first = last >= 0 ? last : ctx.exportMs;
  if (last < 0) last = first;

  const raw = fwdPkts + revPkts;
  const rawBytes = fwdBytes + revBytes;
  // The flow record holds exact integers up to 2^53 (contracts' flowToRecord checks it): a
  // record beyond that is corrupt, and would fail every consumer downstream.
  if (!(first <= MAX && last <= MAX && first > -MAX && last > -MAX) || rawBytes * rate > MAX || raw * rate > MAX) {
    return "bad_value";
  }
  let cid = "";
  if (ctx.communityId && srcOff >= 0 && dstOff >= 0) {
    const icmp = proto === PROTO_ICMP || proto === PROTO_ICMP6;
    cid = communityIdAt(
      b,
      srcOff,
      dstOff,
      ipv6,
      proto,
      icmp ? dstPort >>> 8 : srcPort,
      icmp ? dstPort & 0xff : dstPort,
    );
  }
  return {
    srcAddr,
    srcPort,
    dstAddr,
    dstPort,
    proto,
    ipVersion: ipv6 ? 6 : 4,
    vlan: r.vlan >= 0 ? r.vlan : Math.max(r.dot1qVlan, 0),
    firstSeenMs: BigInt(Math.trunc(first)),
    lastSeenMs: BigInt(Math.trunc(last)),
    srcToDstPackets: scaled(fwdPkts, rate),
    srcToDstBytes: scaled(fwdBytes, rate),
    dstToSrcPackets: scaled(revPkts, rate),
    dstToSrcBytes: scaled(revBytes, rate),
    srcTcpFlags: srcFlags,
    dstTcpFlags: dstFlags,
    l7: r.l7Offset >= 0 ? l7Name(b, r.l7Offset, r.l7Length) : "Unknown",
    l7Category: "",
    info: undefined,
    clientNwLatencyUs: undefined,
    serverNwLatencyUs: undefined,
    applLatencyUs: undefined,
    srcRetransmits: 0,
    dstRetransmits: 0,
    srcOutOfOrder: 0,
    dstOutOfOrder: 0,
    endReason: END_REASON[r.endReason] ?? pb.EndReason.END_REASON_UNSPECIFIED,
    communityId: cid,
    exporter: ctx.exporter,
    observationDomain: ctx.domain,
    exportVersion: EXPORT_VERSION[ctx.version],
    samplingRate: rate === 1 ? 1n : BigInt(rate),
    rawPackets: raw === 0 ? 0n : BigInt(raw),
    rawBytes: rawBytes === 0 ? 0n : BigInt(rawBytes),
    inIf: r.inIf >= 0 ? r.inIf : Math.max(r.inPhysIf, 0),
    outIf: r.outIf >= 0 ? r.outIf : Math.max(r.outPhysIf, 0),
    srcK8s: undefined,
    dstK8s: undefined,
  };
}

/** v5/v9: relative to the header's sysUptime; IPFIX: relative to systemInitTimeMilliseconds. */
function fromUptime(t: number, r: RecordFields, ctx: RecordContext): number {
  if (ctx.sysUptimeMs >= 0) return ctx.exportMs - uptimeDelta(ctx.sysUptimeMs, t);
  const init = r.systemInitMs >= 0 ? r.systemInitMs : ctx.systemInitMs;
  return init >= 0 ? init + t : -1;
}
