// Decodes a native batch (fixed-layout records, offsets published by the addon) into flow
// records. This is the only place that knows the native layout.
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
const ABSENT = 0xffffffffffffffffn;
const NO_RCODE = 0xff;

/** A flow record plus what the engine knows beyond the record (for tests and peers). */
export interface EngineFlow extends FlowRecord {
  /** Frame bytes per direction as captured (pcap `len`), what ndpiReader counts. */
  wireBytes: { srcToDst: number; dstToSrc: number };
  /** Outermost tunnel the packets came through, "" if none. */
  tunnel: string;
}

const decoder = new TextDecoder();

export class BatchDecoder {
  private readonly o: Record<string, number>;
  private readonly size: number;

  constructor(
    layout: FlowLayout,
    private readonly riskNames: string[],
  ) {
    this.o = layout.offsets;
    this.size = layout.size;
    for (const f of ["src", "dst", "l7", "communityId", "sni"]) {
      if (this.o[f] === undefined) throw new Error(`native flow layout lacks field ${f}`);
    }
  }

  private off(name: string): number {
    return this.o[name] as number;
  }

  private str(bytes: Uint8Array, base: number, name: string, cap: number): string {
    const start = base + this.off(name);
    let end = start;
    while (end < start + cap && bytes[end] !== 0) end++;
    return end === start ? "" : decoder.decode(bytes.subarray(start, end));
  }

  decode(buffer: ArrayBuffer, count: number, out: EngineFlow[] = []): EngineFlow[] {
    const view = new DataView(buffer);
    const bytes = new Uint8Array(buffer);
    const u64 = (base: number, name: string) => Number(view.getBigUint64(base + this.off(name), true));
    const u32 = (base: number, name: string) => view.getUint32(base + this.off(name), true);
    const u16 = (base: number, name: string) => view.getUint16(base + this.off(name), true);
    const u8 = (base: number, name: string) => view.getUint8(base + this.off(name));
    for (let i = 0; i < count; i++) {
      const b = i * this.size;
      const v4 = u8(b, "ipVersion") === 4;
      const fmt = v4 ? formatIPv4 : formatIPv6;
      const rec: EngineFlow = {
        srcAddr: fmt(bytes, b + this.off("src")),
        srcPort: u16(b, "sport"),
        dstAddr: fmt(bytes, b + this.off("dst")),
        dstPort: u16(b, "dport"),
        proto: u8(b, "proto"),
        ipVersion: v4 ? 4 : 6,
        vlan: u16(b, "vlan"),
        firstSeenMs: Math.floor(u64(b, "firstUs") / 1000),
        lastSeenMs: Math.floor(u64(b, "lastUs") / 1000),
        srcToDstPackets: u64(b, "s2dPkts"),
        srcToDstBytes: u64(b, "s2dBytes"),
        dstToSrcPackets: u64(b, "d2sPkts"),
        dstToSrcBytes: u64(b, "d2sBytes"),
        srcTcpFlags: u8(b, "s2dFlags"),
        dstTcpFlags: u8(b, "d2sFlags"),
        l7: u8(b, "dpiDone") ? this.str(bytes, b, "l7", 48) || "Unknown" : "Unknown",
        l7Category: u8(b, "dpiDone") ? this.str(bytes, b, "category", 32) || "Unspecified" : "Unspecified",
        srcRetransmits: u32(b, "s2dRetx"),
        dstRetransmits: u32(b, "d2sRetx"),
        srcOutOfOrder: u32(b, "s2dOoo"),
        dstOutOfOrder: u32(b, "d2sOoo"),
        endReason: END_REASONS[u8(b, "endReason")] ?? "idle",
        communityId: this.str(bytes, b, "communityId", 32),
        wireBytes: { srcToDst: u64(b, "s2dWire"), dstToSrc: u64(b, "d2sWire") },
        tunnel: TUNNELS[u8(b, "tunnel")] ?? "",
      };
      const sampling = u32(b, "sampling");
      if (sampling > 1) rec.samplingRate = sampling;
      for (const [field, name] of [
        ["clientNwLatencyUs", "cliNwLatUs"],
        ["serverNwLatencyUs", "srvNwLatUs"],
        ["applLatencyUs", "applLatUs"],
      ] as const) {
        const raw = view.getBigUint64(b + this.off(name), true);
        if (raw !== ABSENT) rec[field] = Number(raw);
      }
      const info: FlowInfoRecord = {};
      const host = this.str(bytes, b, "host", 128);
      if (host) info.host = host;
      const url = this.str(bytes, b, "url", 256);
      if (url) info.url = url;
      const ua = this.str(bytes, b, "userAgent", 192);
      if (ua) info.userAgent = ua;
      const sni = this.str(bytes, b, "sni", 128);
      if (sni) info.sni = sni;
      const q = this.str(bytes, b, "dnsQuery", 128);
      if (q) info.dnsQuery = q;
      const rcode = u8(b, "dnsRcode");
      if (rcode !== NO_RCODE) info.dnsRcode = rcode;
      const ja3 = this.str(bytes, b, "ja3c", 36);
      if (ja3) info.ja3c = ja3;
      const risks = view.getBigUint64(b + this.off("risks"), true);
      if (risks !== 0n) {
        const names: string[] = [];
        for (let bit = 1; bit < 64; bit++)
          if ((risks >> BigInt(bit)) & 1n) names.push(this.riskNames[bit] || `risk${bit}`);
        info.risks = names;
      }
      if (Object.keys(info).length > 0) rec.info = info;
      out.push(rec);
    }
    return out;
  }
}
