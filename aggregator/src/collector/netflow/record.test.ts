// The compiled record decoders (record.ts compileDecoder) against the field-by-field reading
// they replaced: for random templates (every kind, reduced-size and variable-length fields,
// duplicates and bad lengths as compileTemplate handles them) over random and truncated
// records, the same fields and the same end (or -1) on every record.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { prng } from "../../state/testing.js";
import { Kind } from "./fields.js";
import { RecordFields, readUint } from "./record.js";
import { compileTemplate, type FieldSpec, type Plan, VARLEN } from "./template.js";

const NTP_EPOCH_OFFSET_S = 2208988800;
const TWO32 = 4294967296;

function ntpToMs(v: DataView, pos: number): number {
  const s = v.getUint32(pos);
  const frac = v.getUint32(pos + 4);
  return (s - NTP_EPOCH_OFFSET_S) * 1000 + Math.floor((frac / TWO32) * 1000);
}

/**

 * The reading the compiled decoders replace (record.ts before compileDecoder): one field at a
 * time, a switch on its kind, a bounds check each.
 */
function readFieldByField(plan: Plan, v: DataView, pos: number, end: number, r: RecordFields): number {
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

const LENGTHS = [1, 2, 3, 4, 5, 6, 7, 8, 16, 2, 4, VARLEN, VARLEN, 0];

function randomTemplate(r: (n: number) => number): FieldSpec[] {
  const n = 1 + r(40);
  return Array.from({ length: n }, () => {
    // IANA elements, RFC 5103 reverse ones (PEN 29305) and ntop's (PEN 35632).
    const pen = [0, 0, 0, 29305, 35632][r(5)] as number;
    const id = pen === 35632 ? r(400) : 1 + r(r(4) === 0 ? 600 : 240);
    return { id, length: LENGTHS[r(LENGTHS.length)] as number, pen, scope: r(15) === 0 };
  });
}

describe("compiled record decoders", () => {
  it("fill the fields field-by-field reading fills, and end where it ends", () => {
    const r = prng(17);
    const kinds = new Set<number>();
    let records = 0;
    let truncated = 0;
    for (let t = 0; t < 3000; t++) {
      const version = r(2) === 0 ? 9 : 10;
      const plan = compileTemplate(256 + t, r(5) === 0, randomTemplate(r), version, {}, () => {});
      for (const k of plan.kinds) kinds.add(k);
      for (let n = 0; n < 8; n++) {
        const size = r(3) === 0 ? r(plan.minRecordLength + 4) : plan.minRecordLength + r(600);
        const bytes = new Uint8Array(size + 8).map(() => (r(4) === 0 ? 255 : r(256)));
        const v = new DataView(bytes.buffer);
        const pos = r(8);
        const end = pos + size;
        const a = new RecordFields();
        const b = new RecordFields();
        const want = readFieldByField(plan, v, pos, end, a);
        const got = plan.decode(v, pos, end, b);
        assert.equal(got, want, `template ${t} record ${n}`);
        if (want >= 0) assert.deepEqual(b, a, `template ${t} record ${n}`);
        else truncated++;
        records++;
      }
    }
    // Every kind was compiled, and both outcomes were seen.
    for (const k of Object.values(Kind)) assert.ok(kinds.has(k), `kind ${k} compiled`);
    assert.ok(truncated > 1000 && records - truncated > 1000, `${truncated} of ${records} records truncated`);
  });
});
