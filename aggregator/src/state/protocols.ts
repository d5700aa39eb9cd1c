// Traffic per IP protocol number: a fixed array of 256 slots plus one for numbers no IP header
// can carry (a hostile or broken record), so it cannot grow.
import type { ProtocolSummary } from "./types.js";

const NAMES: Record<number, string> = {
  0: "HOPOPT",
  1: "ICMP",
  2: "IGMP",
  4: "IPIP",
  6: "TCP",
  8: "EGP",
  17: "UDP",
  27: "RDP",
  33: "DCCP",
  41: "IPv6",
  43: "IPv6-Route",
  44: "IPv6-Frag",
  46: "RSVP",
  47: "GRE",
  50: "ESP",
  51: "AH",
  58: "ICMPv6",
  59: "IPv6-NoNxt",
  60: "IPv6-Opts",
  88: "EIGRP",
  89: "OSPF",
  94: "IPIP-94",
  97: "ETHERIP",
  103: "PIM",
  108: "IPComp",
  112: "VRRP",
  115: "L2TP",
  132: "SCTP",
  136: "UDPLite",
  137: "MPLS-in-IP",
};

/** The slot and the `proto` reported for numbers outside 0..255. */
export const INVALID_PROTO = 256;

export function protocolName(p: number): string {
  if (p === INVALID_PROTO) return "invalid";
  return NAMES[p] ?? `proto-${p}`;
}

export class ProtocolTable {
  private readonly bytes = new Float64Array(INVALID_PROTO + 1);
  private readonly packets = new Float64Array(INVALID_PROTO + 1);
  private readonly flows = new Float64Array(INVALID_PROTO + 1);

  add(proto: number, bytes: number, packets: number, flows: number): void {
    const p = proto >= 0 && proto < INVALID_PROTO && Number.isInteger(proto) ? proto : INVALID_PROTO;
    this.bytes[p] = (this.bytes[p] as number) + bytes;
    this.packets[p] = (this.packets[p] as number) + packets;
    this.flows[p] = (this.flows[p] as number) + flows;
  }

  /** Protocols that carried at least one record, most bytes first. */
  summaries(): ProtocolSummary[] {
    const out: ProtocolSummary[] = [];
    for (let p = 0; p <= INVALID_PROTO; p++) {
      const packets = this.packets[p] as number;
      const flows = this.flows[p] as number;
      const bytes = this.bytes[p] as number;
      if (packets === 0 && flows === 0 && bytes === 0) continue;
      out.push({ proto: p, name: protocolName(p), bytes, packets, flows });
    }
    return out.sort((a, b) => b.bytes - a.bytes || a.proto - b.proto);
  }
}
