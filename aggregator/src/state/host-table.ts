// The host table: exact per-host counters for up to `capacity` hosts. Beyond that the least
// recently seen host is evicted (and counted), found in O(1) at the head of an intrusive LRU list.
import { CappedCounters } from "./capped-counters.js";
import { type LruLinks, LruList } from "./lru.js";
import type { NetworkEntry } from "./network-table.js";
import type { SeriesSet } from "./ring-series.js";
import type { Talker } from "./top-talkers.js";
import type { HostSummary } from "./types.js";

/** Reporters remembered per host: a host is seen by a few nodes, not by the whole cluster. */
export const MAX_NODES_PER_HOST = 8;

export class HostEntry implements LruLinks<HostEntry>, Talker {
  lruPrev: HostEntry | null = null;
  lruNext: HostEntry | null = null;
  talkBytes = 0;
  talkIdx = -1;
  bytesSent = 0;
  bytesRcvd = 0;
  packetsSent = 0;
  packetsRcvd = 0;
  flowsAsClient = 0;
  flowsAsServer = 0;
  retransmits = 0;
  clientLatencySumUs = 0;
  clientLatencyFlows = 0;
  serverLatencySumUs = 0;
  serverLatencyFlows = 0;
  lastSeenMs: number;
  /** The first reporter inline (the common case), the others in an array made when needed. */
  private node0 = "";
  private moreNodes: string[] | null = null;
  readonly apps: CappedCounters;
  readonly peers: CappedCounters;
  /** Set while the host is one of the top talkers whose series are kept. */
  series: SeriesSet | null = null;

  constructor(
    readonly ip: string,
    readonly network: NetworkEntry | null,
    maxPeers: number,
    readonly firstSeenMs: number,
  ) {
    this.lastSeenMs = firstSeenMs;
    this.apps = new CappedCounters(maxPeers);
    this.peers = new CappedCounters(maxPeers);
  }

  addNode(node: string): void {
    if (this.node0 === node) return;
    if (this.node0 === "") {
      this.node0 = node;
      return;
    }
    if (this.moreNodes === null) this.moreNodes = [];
    const more = this.moreNodes;
    if (more.length + 1 < MAX_NODES_PER_HOST && !more.includes(node)) more.push(node);
  }

  get nodes(): string[] {
    if (this.node0 === "") return [];
    return this.moreNodes === null ? [this.node0] : [this.node0, ...this.moreNodes];
  }

  hasNode(node: string): boolean {
    return this.node0 === node || (this.moreNodes?.includes(node) ?? false);
  }

  summary(): HostSummary {
    const s: HostSummary = {
      ip: this.ip,
      local: this.network !== null,
      bytesSent: this.bytesSent,
      bytesRcvd: this.bytesRcvd,
      packetsSent: this.packetsSent,
      packetsRcvd: this.packetsRcvd,
      flowsAsClient: this.flowsAsClient,
      flowsAsServer: this.flowsAsServer,
      firstSeenMs: this.firstSeenMs,
      lastSeenMs: this.lastSeenMs,
      nodes: this.nodes,
    };
    if (this.network !== null) s.network = this.network.cidr;
    return s;
  }
}

export class HostTable {
  private readonly byIp = new Map<string, HostEntry>();
  private readonly lru = new LruList<HostEntry>();
  evictions = 0;

  constructor(
    readonly capacity: number,
    private readonly create: (ip: string, now: number) => HostEntry,
    private readonly onEvict: (h: HostEntry) => void,
  ) {}

  get size(): number {
    return this.byIp.size;
  }

  get(ip: string): HostEntry | undefined {
    return this.byIp.get(ip);
  }

  /** The entry for ip, created (evicting the least recently seen if full) and marked seen now. */
  touch(ip: string, now: number): HostEntry {
    let h = this.byIp.get(ip);
    if (h !== undefined) {
      this.lru.touch(h);
      h.lastSeenMs = now;
      return h;
    }
    if (this.byIp.size >= this.capacity) {
      const old = this.lru.shift();
      if (old !== null) {
        this.byIp.delete(old.ip);
        this.evictions++;
        this.onEvict(old);
      }
    }
    h = this.create(ip, now);
    this.byIp.set(ip, h);
    this.lru.push(h);
    return h;
  }

  values(): IterableIterator<HostEntry> {
    return this.byIp.values();
  }
}
