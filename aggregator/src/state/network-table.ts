// Traffic per configured local network. A host resolves its network once, when it enters the
// host table; flows then reach the network's counters through the host entry.
import type { LocalNetworks } from "../networks.js";
import type { NetworkSummary } from "./types.js";

export class NetworkEntry {
  /** Hosts of this network currently in the host table. */
  hosts = 0;
  bytesSent = 0;
  bytesRcvd = 0;
  packetsSent = 0;
  packetsRcvd = 0;
  flows = 0;
  constructor(readonly cidr: string) {}
}

export class NetworkTable {
  private readonly byCidr = new Map<string, NetworkEntry>();

  constructor(private readonly local: LocalNetworks) {
    for (const cidr of local.cidrs) if (!this.byCidr.has(cidr)) this.byCidr.set(cidr, new NetworkEntry(cidr));
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
