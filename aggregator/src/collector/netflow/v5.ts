// NetFlow v5: a 24-byte header and up to 30 fixed 48-byte records. The sampling interval is in
// the header (low 14 bits; the top 2 bits are the mode), times are sysUptime milliseconds.
import type { FlowRecords } from "../flow-records.js";
import { addError, type ErrorCounts } from "./errors.js";
import type { RecordFields } from "./record.js";
import { type RecordContext, toFlow } from "./to-flow.js";

export const V5_HEADER = 24;
export const V5_RECORD = 48;
export const V5_MAX_RECORDS = 30;

export interface V5Header {
  count: number;
  sysUptimeMs: number;
  exportMs: number;
  engineType: number;
  engineId: number;
  samplingRate: number;
}

/** The header, or undefined (with the reason counted) if the datagram cannot be v5. */
export function readV5Header(bytes: Uint8Array, v: DataView, errors: ErrorCounts): V5Header | undefined {
  if (bytes.length < V5_HEADER) {
    addError(errors, "truncated");
    return undefined;
  }
  const count = v.getUint16(2);
  if (count === 0 || count > V5_MAX_RECORDS) {
    addError(errors, "bad_length");
    return undefined;
  }
  if (bytes.length < V5_HEADER + count * V5_RECORD) {
    addError(errors, "truncated");
    return undefined;
  }
  const interval = v.getUint16(22) & 0x3fff;
  return {
    count,
    sysUptimeMs: v.getUint32(4),
    exportMs: v.getUint32(8) * 1000 + Math.floor(v.getUint32(12) / 1e6),
    engineType: v.getUint8(20),
    engineId: v.getUint8(21),
    samplingRate: Math.max(interval, 1),
  };
}

export function decodeV5Records(
  h: V5Header,
  v: DataView,
  ctx: RecordContext,
  r: RecordFields,
  out: FlowRecords,
  errors: ErrorCounts,
): number {
  let n = 0;
  for (let i = 0; i < h.count; i++) {
    const o = V5_HEADER + i * V5_RECORD;
    r.reset();
    r.src4 = o;
    r.dst4 = o + 4;
    r.inIf = v.getUint16(o + 12);
    r.outIf = v.getUint16(o + 14);
    r.packets = v.getUint32(o + 16);
    r.octets = v.getUint32(o + 20);
    r.startSysUptime = v.getUint32(o + 24);
    r.endSysUptime = v.getUint32(o + 28);
    r.srcPort = v.getUint16(o + 32);
    r.dstPort = v.getUint16(o + 34);
    r.tcpFlags = v.getUint8(o + 37);
    r.proto = v.getUint8(o + 38);
    const notAFlow = toFlow(r, ctx, h.samplingRate, out);
    if (notAFlow !== undefined) addError(errors, notAFlow);
    else n++;
  }
  return n;
}
