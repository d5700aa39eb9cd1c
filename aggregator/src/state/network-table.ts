// Traffic per configured local network. A host resolves its network once, when it enters the
// host table; flows then reach the network's counters through the host entry.
import type { LocalNetworks } from "../networks.js";
import type { NetworkSummary } from "./types.js";

/** Counters of a network in NetworkTable.counters, NET_FIELDS per network. */
export const NET_BYTES_SENT = 0;
export const NET_BYTES_RCVD = 1;
export const NET_PACKETS_SENT = 2;
export const NET_PACKETS_RCVD = 3;
export const NET_FLOWS = 4;
export const NET_FIELDS = 5;

/**
 * A local network. Its traffic counters live in its table's array, where the host table's
 * native counting adds to them too.
 */
export class NetworkEntry {
  /** Hosts of this network currently in the host table. */
  hosts = 0;
  private readonly at: number;
  constructor(
    readonly cidr: string,
    /** Its position in the table (its counters at index * NET_FIELDS). */
    readonly index: number,
    private readonly counters: Float64Array,
  ) {
    this.at = index * NET_FIELDS;
  }
  get bytesSent(): number {
    return this.counters[this.at + NET_BYTES_SENT] as number;
  }
  set bytesSent(v: number) {
    this.counters[this.at + NET_BYTES_SENT] = v;
  }
  get bytesRcvd(): number {
    return this.counters[this.at + NET_BYTES_RCVD] as number;
  }
  set bytesRcvd(v: number) {
    this.counters[this.at + NET_BYTES_RCVD] = v;
  }
  get packetsSent(): number {
    return this.counters[this.at + NET_PACKETS_SENT] as number;
  }
  set packetsSent(v: number) {
    this.counters[this.at + NET_PACKETS_SENT] = v;
  }
  get packetsRcvd(): number {
    return this.counters[this.at + NET_PACKETS_RCVD] as number;
  }
  set packetsRcvd(v: number) {
    this.counters[this.at + NET_PACKETS_RCVD] = v;
  }
  get flows(): number {
    return this.counters[this.at + NET_FLOWS] as number;
  }
  set flows(v: number) {
    this.counters[this.at + NET_FLOWS] = v;
  }
}

export class NetworkTable {
  private readonly byCidr = new Map<string, NetworkEntry>();
  /** Every network's counters, NET_FIELDS each, by NetworkEntry.index. */
  readonly counters: Float64Array;

  constructor(private readonly local: LocalNetworks) {
    const cidrs = [...new Set(local.cidrs)];
    this.counters = new Float64Array(cidrs.length * NET_FIELDS);
    for (const [i, cidr] of cidrs.entries()) this.byCidr.set(cidr, new NetworkEntry(cidr, i, this.counters));
  }

  resolve(ip: string): NetworkEntry | null {
    const cidr = this.local.match(ip);
    return cidr === undefined ? null : (this.byCidr.get(cidr) ?? null);
  }

  summaries(): NetworkSummary[] {
    return [...this.byCidr.values()].map((n) => ({
      cidr: n.cidr,
      hosts: n.hosts,
      bytesSent: n.bytesSent,
      bytesRcvd: n.bytesRcvd,
      packetsSent: n.packetsSent,
      packetsRcvd: n.packetsRcvd,
      flows: n.flows,
    }));
  }
}
