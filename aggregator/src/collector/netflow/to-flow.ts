// One decoded record -> the flow record of DESIGN.md, as a record of the collector's batch
// (flow-records.ts: the state's numbers and the pb.Flow encoding). Which element wins when a
// record carries several for the same thing, how times are anchored for each protocol version,
// ICMP type/code into dstPort, sampling scale-up, and the Community ID.
import { pb } from "@flowlens/contracts";
import { type CommunityIdOf, type FlowRecords, resetProbeFields } from "../flow-records.js";
import { END_REASONS } from "./end-reasons.js";
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

/** sysUptime minus a switched time, modulo 2^32 and signed: a flow may end a few ms "after" the header. */
function uptimeDelta(sysUptime: number, t: number): number {
  const d = (sysUptime - t + TWO32) % TWO32;
  return d >= 2147483648 ? d - TWO32 : d;
}

function isZero(b: Uint8Array, o: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (b[o + i] !== 0) return false;
  return true;
}

/** ntop's L7_PROTO_NAME: printable ASCII up to the first NUL; anything else is not a name. */
function l7Name(b: Uint8Array, off: number, len: number, out: FlowRecords): string {
  let end = off;
  const stop = off + Math.min(len, 64);
  while (end < stop && b[end] !== 0) {
    const c = b[end] as number;
    if (c < 0x20 || c > 0x7e) return "Unknown";
    end++;
  }
  if (end === off) return "Unknown";
  return out.name(b, off, end);
}

/** An interface index as the record's uint32 has it: absent or beyond 32 bits (not one) is 0. */
function ifIndex(v: number): number {
  return v > 0 && v <= 0xffffffff ? v : 0;
}

function pick(a: number, b: number, c: number, d: number): number {
  return a >= 0 ? a : b >= 0 ? b : c >= 0 ? c : d;
}

function scaled(raw: number, rate: number): number {
  if (raw <= 0) return 0;
  return rate === 1 ? raw : raw * rate;
}

const MAX = Number.MAX_SAFE_INTEGER;

/** Why a record gave no flow. */
export type NotAFlow = "no_address" | "bad_value";

/**
 * Adds the flow of a data record to `out`, or says why there is none: no addresses (a layer-2 or
 * WLC client record) or values no flow can have. rate is the 1-in-N sampling rate that applies
 * (1 if unsampled).
 */
export function toFlow(r: RecordFields, ctx: RecordContext, rate: number, out: FlowRecords): NotAFlow | undefined {
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
  // No reverse element at all (v5, v9, uniflow IPFIX): the reply is a record of its own.
  const oneWay = revBytes < 0 && revPkts < 0 && r.revTcpFlags < 0;
  if (fwdBytes < 0) fwdBytes = 0;
  if (fwdPkts < 0) fwdPkts = 0;
  if (revBytes < 0) revBytes = 0;
  if (revPkts < 0) revPkts = 0;

  // RFC 5103 biflowDirection 2 (reverseInitiator): the record's source is the responder, and
  // the flow record's src is always the initiator.
  if (r.biflowDirection === 2) {
    let t: number = srcOff;
    srcOff = dstOff;
    dstOff = t;
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
  let cid: CommunityIdOf = "";
  if (ctx.communityId && srcOff >= 0 && dstOff >= 0) {
    const icmp = proto === PROTO_ICMP || proto === PROTO_ICMP6;
    cid = out.communityId(
      b,
      srcOff,
      dstOff,
      ipv6,
      proto,
      icmp ? dstPort >>> 8 : srcPort,
      icmp ? dstPort & 0xff : dstPort,
    );
  }
  const f = out.next();
  f.srcPort = srcPort;
  f.dstPort = dstPort;
  f.proto = proto;
  f.ipVersion = ipv6 ? 6 : 4;
  f.vlan = r.vlan >= 0 ? r.vlan : Math.max(r.dot1qVlan, 0);
  // + 0: no -0 (BigInt and the wire have none).
  f.firstSeenMs = Math.trunc(first) + 0;
  f.lastSeenMs = Math.trunc(last) + 0;
  f.srcToDstPackets = scaled(fwdPkts, rate);
  f.srcToDstBytes = scaled(fwdBytes, rate);
  f.dstToSrcPackets = scaled(revPkts, rate);
  f.dstToSrcBytes = scaled(revBytes, rate);
  f.srcTcpFlags = srcFlags;
  f.dstTcpFlags = dstFlags;
  f.l7 = r.l7Offset >= 0 ? l7Name(b, r.l7Offset, r.l7Length, out) : "Unknown";
  resetProbeFields(f);
  f.oneWay = oneWay;
  // Absent is -1: looking that up in the array would be a named property's slow lookup.
  const reason = r.endReason;
  f.endReason =
    reason >= 0 && reason < END_REASONS.length
      ? (END_REASONS[reason] as pb.EndReason)
      : pb.EndReason.END_REASON_UNSPECIFIED;
  f.exporter = ctx.exporter;
  f.observationDomain = ctx.domain;
  // pb.ExportVersion's numbers are the versions (5, 9, 10).
  f.exportVersion = ctx.version;
  f.samplingRate = rate;
  f.rawPackets = raw;
  f.rawBytes = rawBytes;
  f.inIf = ifIndex(r.inIf >= 0 ? r.inIf : r.inPhysIf);
  f.outIf = ifIndex(r.outIf >= 0 ? r.outIf : r.outPhysIf);
  out.commit(f, b, srcOff, dstOff, ipv6, cid);
  return undefined;
}

/** v5/v9: relative to the header's sysUptime; IPFIX: relative to systemInitTimeMilliseconds. */
function fromUptime(t: number, r: RecordFields, ctx: RecordContext): number {
  if (ctx.sysUptimeMs >= 0) return ctx.exportMs - uptimeDelta(ctx.sysUptimeMs, t);
  const init = r.systemInitMs >= 0 ? r.systemInitMs : ctx.systemInitMs;
  return init >= 0 ? init + t : -1;
}
