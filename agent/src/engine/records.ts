// Decodes a native batch (records with a fixed part whose offsets the addon publishes, then
// their strings) into flow records. This is the only place in JS that knows the native layout;
// agent/native/src/ndjson.c prints the same records as NDJSON without decoding them here.
import type { EndReasonName, FlowInfoRecord, FlowRecord } from "@flowlens/contracts";
import { formatIPv4, formatIPv6 } from "./addr.js";
import type { FlowLayout } from "./native.js";

const END_REASONS: Record<number, EndReasonName> = {
  1: "idle",
  2: "active",
  3: "fin",
  4: "rst",
  5: "eof",
  6: "evicted",
};
export const TUNNELS = ["", "gre", "vxlan", "ipip", "gtp", "teredo", "geneve"] as const;
const NO_RCODE = 0xff;

/** A flow record plus what the engine knows beyond the record (for tests and peers). */
export interface EngineFlow extends FlowRecord {
  /** Frame bytes per direction as captured (pcap `len`), what ndpiReader counts. */
  wireBytes: { srcToDst: number; dstToSrc: number };
  /** Outermost tunnel the packets came through, "" if none. */
  tunnel: string;
}

const decoder = new TextDecoder();

/** Field offsets resolved once per decoder, so decoding a record does no name lookups. */
interface Offsets {
  src: number;
  dst: number;
  firstUs: number;
  lastUs: number;
  s2dPkts: number;
  s2dBytes: number;
  d2sPkts: number;
  d2sBytes: number;
  s2dWire: number;
  d2sWire: number;
  cliNwLatUs: number;
  srvNwLatUs: number;
  applLatUs: number;
  risks: number;
  s2dRetx: number;
  d2sRetx: number;
  s2dOoo: number;
  d2sOoo: number;
  sampling: number;
  size: number;
  sport: number;
  dport: number;
  vlan: number;
  proto: number;
  ipVersion: number;
  s2dFlags: number;
  d2sFlags: number;
  endReason: number;
  tunnel: number;
  dnsRcode: number;
  dpiDone: number;
  strLen: number;
}

type InfoString = keyof Omit<FlowInfoRecord, "dnsRcode" | "risks">;
const INFO_STRINGS: InfoString[] = ["host", "url", "userAgent", "sni", "dnsQuery", "ja3c"];
const STRINGS = ["l7", "category", ...INFO_STRINGS, "communityId"] as const;

/**
 * A batch holds `count` records back to back: a fixed part (offsets from the addon) whose `size`
 * field is the whole record's length, then its strings (UTF-8, lengths in `strLen`) in the
 * order the addon names them.
 */
export class BatchDecoder {
  private readonly o: Offsets;
  private readonly fixedSize: number;
  /** Position of each string the decoder reads in the native order. */
  private readonly at: Record<(typeof STRINGS)[number], number>;
  private readonly nStrings: number;

  constructor(
    layout: FlowLayout,
    private readonly riskNames: string[],
  ) {
    const want: (keyof Offsets)[] = [
      "src",
      "dst",
      "firstUs",
      "lastUs",
      "s2dPkts",
      "s2dBytes",
      "d2sPkts",
      "d2sBytes",
      "s2dWire",
      "d2sWire",
      "cliNwLatUs",
      "srvNwLatUs",
      "applLatUs",
      "risks",
      "s2dRetx",
      "d2sRetx",
      "s2dOoo",
      "d2sOoo",
      "sampling",
      "size",
      "sport",
      "dport",
      "vlan",
      "proto",
      "ipVersion",
      "s2dFlags",
      "d2sFlags",
      "endReason",
      "tunnel",
      "dnsRcode",
      "dpiDone",
      "strLen",
    ];
    const o: Partial<Offsets> = {};
    for (const f of want) {
      const off = layout.offsets[f];
      if (off === undefined) throw new Error(`native flow layout lacks field ${f}`);
      o[f] = off;
    }
    this.o = o as Offsets;
    this.fixedSize = layout.fixedSize;
    this.nStrings = layout.strings.length;
    const at: Partial<Record<(typeof STRINGS)[number], number>> = {};
    for (const name of STRINGS) {
      const i = layout.strings.indexOf(name);
      if (i < 0) throw new Error(`native flow layout lacks string ${name}`);
      at[name] = i;
    }
    this.at = at as Record<(typeof STRINGS)[number], number>;
  }

  decode(buffer: ArrayBuffer, count: number, out: EngineFlow[] = []): EngineFlow[] {
    const view = new DataView(buffer);
    const bytes = new Uint8Array(buffer);
    const o = this.o;
    const at = this.at;
    const n = this.nStrings;
    const starts = new Array<number>(n);
    const lens = new Array<number>(n);
    // String i of the current record; "" costs no decoder call.
    const str = (i: number): string => {
      const len = lens[i] as number;
      if (len === 0) return "";
      const start = starts[i] as number;
      return decoder.decode(bytes.subarray(start, start + len));
    };
    const u64 = (at: number) => view.getUint32(at, true) + view.getUint32(at + 4, true) * 4294967296;
    let b = 0;
    for (let r = 0; r < count; r++) {
      let s = b + this.fixedSize;
      for (let i = 0; i < n; i++) {
        const len = view.getUint8(b + o.strLen + i);
        starts[i] = s;
        lens[i] = len;
        s += len;
      }
      const v4 = view.getUint8(b + o.ipVersion) === 4;
      const fmt = v4 ? formatIPv4 : formatIPv6;
      const dpi = view.getUint8(b + o.dpiDone) !== 0;
      const rec: EngineFlow = {
        srcAddr: fmt(bytes, b + o.src),
        srcPort: view.getUint16(b + o.sport, true),
        dstAddr: fmt(bytes, b + o.dst),
        dstPort: view.getUint16(b + o.dport, true),
        proto: view.getUint8(b + o.proto),
        ipVersion: v4 ? 4 : 6,
        vlan: view.getUint16(b + o.vlan, true),
        firstSeenMs: Math.floor(u64(b + o.firstUs) / 1000),
        lastSeenMs: Math.floor(u64(b + o.lastUs) / 1000),
        srcToDstPackets: u64(b + o.s2dPkts),
        srcToDstBytes: u64(b + o.s2dBytes),
        dstToSrcPackets: u64(b + o.d2sPkts),
        dstToSrcBytes: u64(b + o.d2sBytes),
        srcTcpFlags: view.getUint8(b + o.s2dFlags),
        dstTcpFlags: view.getUint8(b + o.d2sFlags),
        l7: (dpi && str(at.l7)) || "Unknown",
        l7Category: (dpi && str(at.category)) || "Unspecified",
        srcRetransmits: view.getUint32(b + o.s2dRetx, true),
        dstRetransmits: view.getUint32(b + o.d2sRetx, true),
        srcOutOfOrder: view.getUint32(b + o.s2dOoo, true),
        dstOutOfOrder: view.getUint32(b + o.d2sOoo, true),
        endReason: END_REASONS[view.getUint8(b + o.endReason)] ?? "idle",
        communityId: str(at.communityId),
        wireBytes: { srcToDst: u64(b + o.s2dWire), dstToSrc: u64(b + o.d2sWire) },
        tunnel: TUNNELS[view.getUint8(b + o.tunnel)] ?? "",
      };
      const sampling = view.getUint32(b + o.sampling, true);
      if (sampling > 1) rec.samplingRate = sampling;
      // Latencies: all-ones means not measured.
      if (view.getUint32(b + o.cliNwLatUs + 4, true) !== 0xffffffff) rec.clientNwLatencyUs = u64(b + o.cliNwLatUs);
      if (view.getUint32(b + o.srvNwLatUs + 4, true) !== 0xffffffff) rec.serverNwLatencyUs = u64(b + o.srvNwLatUs);
      if (view.getUint32(b + o.applLatUs + 4, true) !== 0xffffffff) rec.applLatencyUs = u64(b + o.applLatUs);
      if (dpi) {
        const info: FlowInfoRecord = {};
        let any = false;
        for (const field of INFO_STRINGS) {
          const v = str(at[field]);
          if (v) {
            info[field] = v;
            any = true;
          }
        }
        const rcode = view.getUint8(b + o.dnsRcode);
        if (rcode !== NO_RCODE) {
          info.dnsRcode = rcode;
          any = true;
        }
        const lo = view.getUint32(b + o.risks, true);
        const hi = view.getUint32(b + o.risks + 4, true);
        if (lo !== 0 || hi !== 0) {
          const names: string[] = [];
          for (let bit = 1; bit < 64; bit++) {
            const set = bit < 32 ? (lo >>> bit) & 1 : (hi >>> (bit - 32)) & 1;
            if (set) names.push(this.riskNames[bit] || `risk${bit}`);
          }
          info.risks = names;
          any = true;
        }
        if (any) rec.info = info;
      }
      out.push(rec);
      b += view.getUint16(b + o.size, true);
    }
    return out;
  }
}
