// The aggregator's live state: where a flow record becomes numbers (hosts, applications,
// protocols, networks, nodes, exporters and interfaces, top talkers, time series, listed flows)
// and where the API, metrics and alerts read them. Every structure is bounded by StateConfig.
//
// Clock: windows, series, and first/last seen of hosts, nodes and exporters use the injected
// ingest wall clock, never packet timestamps (a replayed capture has old ones). It is made
// monotonic here, so a clock step back cannot reopen a closed bucket.
//
// Host series: the hosts kept with time series are the current top `topKSeries` talkers of the
// last hour, re-chosen every minute (of ingest time). A host entering that set starts its series
// at that moment (no history before); a host leaving it loses its series.
import type { pb } from "@flowlens/contracts";
import { LocalNetworks } from "../networks.js";
import { type ApplicationEntry, ApplicationTable } from "./applications.js";
import { AddResult } from "./capped-counters.js";
import { validateStateConfig } from "./config.js";
import { EXPORTER_BYTES, ExporterTable, INTERFACE_BYTES, isIfIndex } from "./exporter-table.js";
import { applicationMatches, FlowStore } from "./flow-store.js";
import { HostEntry, HostTable } from "./host-table.js";
import { isAddress, label } from "./labels.js";
import { NetworkTable } from "./network-table.js";
import { NodeTable } from "./node-table.js";
import { count } from "./num.js";
import { ProtocolTable } from "./protocols.js";
import { SeriesSet } from "./ring-series.js";
import { page, smallest } from "./select.js";
import { TopTalkers } from "./top-talkers.js";
import {
  type ApplicationSummary,
  type CategorySummary,
  type ExporterSummary,
  type FlowOrigin,
  type FlowQuery,
  type HostDetail,
  type HostQuery,
  type HostSortKey,
  type HostSummary,
  type InterfaceCounters,
  type InterfaceSummary,
  type NetworkSummary,
  type NodeSummary,
  type Page,
  type ProtocolSummary,
  RESOLUTIONS,
  type SeriesPoint,
  type SeriesQuery,
  type StateConfig,
  type StateTotals,
  type StoredFlow,
  type StructureStats,
  type TalkerEntry,
  WINDOWS,
  type Window,
} from "./types.js";

export { defaultStateConfig } from "./config.js";

/** The node name of batches whose origin has none. */
export const UNKNOWN_NODE = "(unknown)";

export class StateQueryError extends Error {
  readonly code = "BAD_QUERY";
}

export class LiveState {
  private readonly config: StateConfig;
  private readonly networkTable: NetworkTable;
  private readonly hostTable: HostTable;
  private readonly apps: ApplicationTable;
  private readonly protocolTable = new ProtocolTable();
  private readonly nodeTable: NodeTable;
  private readonly exporterTable: ExporterTable;
  private readonly flowStore: FlowStore;
  private readonly talkers: TopTalkers;
  private readonly totalSeries: SeriesSet;
  private readonly hostSeries = new Map<string, SeriesSet>();
  private hostSeriesDropped = 0;
  /** Per-host application and peer cells, for the memory estimate. */
  private hostCells = 0;
  private lastNow = Number.NEGATIVE_INFINITY;
  private bytes = 0;
  private packets = 0;
  private flowCount = 0;
  private records = 0;
  private batches = 0;

  constructor(
    config: StateConfig,
    localNetworks: LocalNetworks,
    private readonly clock: () => number = Date.now,
  ) {
    this.config = validateStateConfig({ ...config });
    const c = this.config;
    const now = this.now();
    this.networkTable = new NetworkTable(localNetworks);
    this.hostTable = new HostTable(
      c.maxHosts,
      (ip, t) => this.createHost(ip, t),
      (h) => this.evictHost(h),
    );
    this.apps = new ApplicationTable(c.maxApplications);
    this.nodeTable = new NodeTable(c.maxNodes);
    this.exporterTable = new ExporterTable(c.maxExporters, c.maxInterfacesPerExporter);
    this.flowStore = new FlowStore(c.maxActiveFlows, c.maxRecentFlows, c.activeFlowTtlMs);
    this.talkers = new TopTalkers(c.topKCapacity);
    this.totalSeries = new SeriesSet(now);
  }

  /** The hot path: counts a batch of records from one origin. */
  applyBatch(flows: readonly pb.Flow[], origin: FlowOrigin): void {
    const now = this.tick();
    const nodeName = label(origin.node, UNKNOWN_NODE);
    const node = this.nodeTable.touch(nodeName, label(origin.agentId, ""), now);
    const active = this.flowStore.begin(nodeName);
    const hosts = this.hostTable;
    let bytesSum = 0;
    let packetsSum = 0;
    let newFlows = 0;
    let records = 0;
    // A record that throws (no decoder lets one through) must not leave the batch half-counted
    // in the totals or the flow store pointing at this node.
    try {
      for (let i = 0; i < flows.length; i++) {
        const f = flows[i];
        if (f === undefined || f === null) continue;
        const s2dBytes = count(f.srcToDstBytes);
        const s2dPackets = count(f.srcToDstPackets);
        const d2sBytes = count(f.dstToSrcBytes);
        const d2sPackets = count(f.dstToSrcPackets);
        const bytes = s2dBytes + d2sBytes;
        const packets = s2dPackets + d2sPackets;
        const isNew = this.flowStore.record(nodeName, active, f, now, s2dBytes, s2dPackets, d2sBytes, d2sPackets);
        const nf = isNew ? 1 : 0;
        records++;
        bytesSum += bytes;
        packetsSum += packets;
        newFlows += nf;

        const app = this.apps.account(f.l7, f.l7Category, bytes, packets, nf, now);
        this.protocolTable.add(f.proto, bytes, packets, nf);

        const src = isAddress(f.srcAddr) ? hosts.touch(f.srcAddr, now) : null;
        const dst = isAddress(f.dstAddr) ? hosts.touch(f.dstAddr, now) : null;
        if (src !== null) {
          this.accountHost(src, nodeName, app, dst, s2dBytes, s2dPackets, d2sBytes, d2sPackets, nf, now);
          src.flowsAsClient += nf;
          src.retransmits += f.srcRetransmits >>> 0;
          if (isNew && f.clientNwLatencyUs !== undefined) {
            src.clientLatencySumUs += count(f.clientNwLatencyUs);
            src.clientLatencyFlows++;
          }
        }
        if (dst !== null) {
          this.accountHost(dst, nodeName, app, src, d2sBytes, d2sPackets, s2dBytes, s2dPackets, nf, now);
          dst.flowsAsServer += nf;
          dst.retransmits += f.dstRetransmits >>> 0;
          if (isNew && f.serverNwLatencyUs !== undefined) {
            dst.serverLatencySumUs += count(f.serverNwLatencyUs);
            dst.serverLatencyFlows++;
          }
        }
        // A flow inside one network is one flow of that network, not two.
        const srcNet = src?.network ?? null;
        const dstNet = dst?.network ?? null;
        if (srcNet !== null) srcNet.flows += nf;
        if (dstNet !== null && dstNet !== srcNet) dstNet.flows += nf;

        if (f.exportVersion !== 0 && isAddress(f.exporter)) {
          const e = this.exporterTable.touch(f.exporter, now);
          this.exporterTable.account(e, f.exportVersion, f.inIf, f.outIf, app.name, bytes, packets, nf);
        }
      }
    } finally {
      this.flowStore.end(nodeName);
      node.records += records;
      node.flows += newFlows;
      node.bytes += bytesSum;
      node.packets += packetsSum;
      this.batches++;
      this.records += records;
      this.flowCount += newFlows;
      this.bytes += bytesSum;
      this.packets += packetsSum;
      this.totalSeries.add(now, bytesSum, packetsSum, newFlows);
    }
  }

  /** One side of a record: `h` sent `sent*` and received `rcvd*`, talking to `peer`. */
  private accountHost(
    h: HostEntry,
    node: string,
    app: ApplicationEntry,
    peer: HostEntry | null,
    sentBytes: number,
    sentPackets: number,
    rcvdBytes: number,
    rcvdPackets: number,
    nf: number,
    now: number,
  ): void {
    const bytes = sentBytes + rcvdBytes;
    const packets = sentPackets + rcvdPackets;
    h.bytesSent += sentBytes;
    h.bytesRcvd += rcvdBytes;
    h.packetsSent += sentPackets;
    h.packetsRcvd += rcvdPackets;
    h.addNode(node);
    const a = h.apps.add(app.name, app.category, bytes, packets, nf);
    if (a === AddResult.NewKey) {
      app.hosts++;
      this.hostCells++;
    }
    if (peer !== null && h.peers.add(peer.ip, "", bytes, packets, nf) === AddResult.NewKey) this.hostCells++;
    const net = h.network;
    if (net !== null) {
      net.bytesSent += sentBytes;
      net.bytesRcvd += rcvdBytes;
      net.packetsSent += sentPackets;
      net.packetsRcvd += rcvdPackets;
    }
    if (h.series !== null) h.series.add(now, bytes, packets, nf);
    if (bytes > 0) this.talkers.add(h, bytes);
  }

  /** Interface counters from an sFlow counter sample or an SNMP poll: the latest are kept. */
  applyInterfaceCounters(exporter: string, ifIndex: number, counters: InterfaceCounters): void {
    if (!isAddress(exporter) || !isIfIndex(ifIndex)) return;
    const now = this.tick();
    const e = this.exporterTable.touch(exporter, now);
    const i = this.exporterTable.interface(e, ifIndex);
    if (i !== null) i.counters = { ...counters };
  }

  totals(): StateTotals {
    return {
      bytes: this.bytes,
      packets: this.packets,
      flows: this.flowCount,
      records: this.records,
      batches: this.batches,
      hostsEvicted: this.hostTable.evictions,
    };
  }

  hosts(q: HostQuery): Page<HostSummary> {
    this.tick();
    const match = hostFilter(q);
    const hits: HostEntry[] = [];
    for (const h of this.hostTable.values()) if (match(h)) hits.push(h);
    return page(hits, hostOrder(q.sort, q.order), q.offset, q.limit, (h) => h.summary());
  }

  host(ip: string): HostDetail | undefined {
    const h = this.hostTable.get(ip);
    if (h === undefined) return undefined;
    const d: HostDetail = {
      ...h.summary(),
      applications: h.apps
        .sorted()
        .map((c) => ({ name: c.key, category: c.tag, bytes: c.bytes, packets: c.packets, flows: c.flows })),
      peers: h.peers.sorted().map((c) => ({ ip: c.key, bytes: c.bytes, packets: c.packets, flows: c.flows })),
      otherPeers: h.peers.other,
      otherApplications: h.apps.other,
      retransmits: h.retransmits,
    };
    if (h.clientLatencyFlows > 0) d.meanClientNwLatencyUs = h.clientLatencySumUs / h.clientLatencyFlows;
    if (h.serverLatencyFlows > 0) d.meanServerNwLatencyUs = h.serverLatencySumUs / h.serverLatencyFlows;
    return d;
  }

  /** The k hosts with most bytes sent + received in the window (k at most topKCapacity). */
  topTalkers(window: Window, k: number): TalkerEntry[] {
    if (!WINDOWS.includes(window)) throw new StateQueryError(`unknown window '${String(window)}'`);
    const n = Number.isFinite(k) ? Math.max(0, Math.min(Math.floor(k), this.config.topKCapacity)) : 0;
    return this.talkers.top(window, n, this.tick());
  }

  applications(): ApplicationSummary[] {
    return this.apps.applications();
  }

  categories(): CategorySummary[] {
    return this.apps.categories();
  }

  protocols(): ProtocolSummary[] {
    return this.protocolTable.summaries();
  }

  networks(): NetworkSummary[] {
    return this.networkTable.summaries();
  }

  nodes(): NodeSummary[] {
    return this.nodeTable.summaries();
  }

  exporters(): ExporterSummary[] {
    return this.exporterTable.summaries();
  }

  interfaces(exporter: string): InterfaceSummary[] | undefined {
    return this.exporterTable.interfaces(exporter);
  }

  flows(q: FlowQuery): Page<StoredFlow> {
    this.tick();
    return this.flowStore.query(q);
  }

  /** Points of one entity's series; [] for an entity without one (unknown, or not a top host). */
  series(q: SeriesQuery): SeriesPoint[] {
    if (!RESOLUTIONS.includes(q.resolution)) {
      throw new StateQueryError(`unknown resolution '${String(q.resolution)}'`);
    }
    const now = this.tick();
    const e = q.entity;
    const s =
      e.kind === "total"
        ? this.totalSeries
        : e.kind === "application"
          ? this.apps.get(e.name)?.series
          : e.kind === "host"
            ? this.hostSeries.get(e.ip)
            : undefined;
    return s === undefined ? [] : s.ring(q.resolution).points(now, q.sinceMs, q.untilMs);
  }

  /** The k hosts with the most bytes (sent + received) since they entered the host table. */
  topHostsForMetrics(k: number): HostSummary[] {
    const n = Number.isFinite(k) ? Math.max(0, Math.floor(k)) : 0;
    return smallest(this.hostTable.values(), n, hostOrder("bytes", "desc")).map((h) => h.summary());
  }

  structures(): StructureStats[] {
    const c = this.config;
    const hostSeriesCap = Math.min(c.topKSeries, c.topKCapacity);
    const seriesSets = 1 + this.apps.size + this.hostSeries.size;
    return [
      {
        name: "hosts",
        entries: this.hostTable.size,
        capacity: c.maxHosts,
        evictions: this.hostTable.evictions,
        // Measured: ~450 bytes for a host with one peer and one application (kept inline).
        approxBytes: this.hostTable.size * 350 + this.hostCells * 60,
      },
      {
        name: "active_flows",
        entries: this.flowStore.activeCount,
        capacity: c.maxActiveFlows,
        evictions: this.flowStore.activeEvictions,
        expirations: this.flowStore.activeExpirations,
        // Mostly the latest record each keeps: ~600 bytes decoded.
        approxBytes: this.flowStore.activeCount * 800,
      },
      {
        name: "recent_flows",
        entries: this.flowStore.recentCount,
        capacity: c.maxRecentFlows,
        evictions: this.flowStore.recentEvictions,
        approxBytes: this.flowStore.recentCount * 800 + c.maxRecentFlows * 8,
      },
      {
        name: "top_talkers",
        entries: this.talkers.entries(),
        capacity: this.talkers.counters(),
        evictions: this.talkers.replacements(),
        approxBytes: this.talkers.approxBytes(),
      },
      {
        name: "series",
        entries: seriesSets,
        // Total, the applications with "(other)", the top hosts.
        capacity: 1 + c.maxApplications + 1 + hostSeriesCap,
        evictions: this.hostSeriesDropped,
        approxBytes: seriesSets * SeriesSet.BYTES,
      },
      {
        name: "applications",
        entries: this.apps.size,
        capacity: c.maxApplications + 1,
        evictions: 0,
        overflow: this.apps.overflow,
        approxBytes: this.apps.size * 200,
      },
      {
        name: "categories",
        entries: this.apps.categoryCount,
        capacity: c.maxApplications + 1,
        evictions: 0,
        approxBytes: this.apps.categoryCount * 120,
      },
      {
        name: "nodes",
        entries: this.nodeTable.size,
        capacity: c.maxNodes,
        evictions: this.nodeTable.evictions,
        approxBytes: this.nodeTable.size * 400,
      },
      {
        name: "exporters",
        entries: this.exporterTable.size,
        capacity: c.maxExporters,
        evictions: this.exporterTable.evictions,
        approxBytes: this.exporterTable.size * EXPORTER_BYTES,
      },
      {
        name: "interfaces",
        entries: this.exporterTable.interfaceCount,
        capacity: c.maxExporters * c.maxInterfacesPerExporter,
        evictions: 0,
        overflow: this.exporterTable.interfaceOverflow,
        approxBytes: this.exporterTable.interfaceCount * INTERFACE_BYTES,
      },
    ];
  }

  private now(): number {
    const t = this.clock();
    if (Number.isFinite(t) && t > this.lastNow) this.lastNow = t;
    return Number.isFinite(this.lastNow) ? this.lastNow : 0;
  }

  /** Reads the clock and moves every time-driven structure up to it. */
  private tick(): number {
    const now = this.now();
    // Ranking the hour merges up to 66 summaries (tens of ms when full): once a minute, when
    // top talkers close one, is often enough to re-choose the hosts with series.
    if (this.talkers.advance(now) === "minute") this.refreshHostSeries(now);
    this.flowStore.expire(now);
    return now;
  }

  private refreshHostSeries(now: number): void {
    const k = Math.min(this.config.topKSeries, this.config.topKCapacity);
    const want = new Set<string>();
    if (k > 0) for (const t of this.talkers.top("1h", k, now)) want.add(t.ip);
    for (const [ip, s] of this.hostSeries) {
      if (want.has(ip)) continue;
      this.hostSeries.delete(ip);
      this.hostSeriesDropped++;
      const h = this.hostTable.get(ip);
      if (h !== undefined && h.series === s) h.series = null;
    }
    for (const ip of want) {
      if (this.hostSeries.has(ip)) continue;
      const s = new SeriesSet(now);
      this.hostSeries.set(ip, s);
      const h = this.hostTable.get(ip);
      if (h !== undefined) h.series = s;
    }
  }

  private createHost(ip: string, now: number): HostEntry {
    const net = this.networkTable.resolve(ip);
    const h = new HostEntry(ip, net, this.config.maxPeersPerHost, now);
    if (net !== null) net.hosts++;
    h.series = this.hostSeries.get(ip) ?? null;
    return h;
  }

  private evictHost(h: HostEntry): void {
    if (h.network !== null) h.network.hosts--;
    for (const name of h.apps.keys()) {
      const a = this.apps.get(name);
      if (a !== undefined) a.hosts--;
    }
    this.hostCells -= h.apps.size + h.peers.size;
    this.talkers.forget(h);
    h.series = null;
  }
}

function hostFilter(q: HostQuery): (h: HostEntry) => boolean {
  // Throws CidrError for a bad network: the API checks it first and answers 400.
  const net = q.network !== undefined && q.network !== "" ? new LocalNetworks([q.network]) : undefined;
  const { local, application: app, node, sinceMs, untilMs } = q;
  return (h) => {
    if (local !== undefined && (h.network !== null) !== local) return false;
    if (net !== undefined && !net.isLocal(h.ip)) return false;
    if (app !== undefined && app !== "" && !hostHasApplication(h, app)) return false;
    if (node !== undefined && node !== "" && !h.hasNode(node)) return false;
    if (sinceMs !== undefined && h.lastSeenMs < sinceMs) return false;
    if (untilMs !== undefined && h.firstSeenMs > untilMs) return false;
    return true;
  };
}

function hostHasApplication(h: HostEntry, app: string): boolean {
  if (h.apps.has(app)) return true;
  for (const name of h.apps.keys()) if (applicationMatches(name, app)) return true;
  return false;
}

function hostOrder(sort: HostSortKey, order: "asc" | "desc"): (a: HostEntry, b: HostEntry) => number {
  const sign = order === "asc" ? 1 : -1;
  const byIp = (a: HostEntry, b: HostEntry) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0);
  if (sort === "ip") return (a, b) => sign * byIp(a, b);
  const value: (h: HostEntry) => number =
    sort === "bytesSent"
      ? (h) => h.bytesSent
      : sort === "bytesRcvd"
        ? (h) => h.bytesRcvd
        : sort === "packets"
          ? (h) => h.packetsSent + h.packetsRcvd
          : sort === "flows"
            ? (h) => h.flowsAsClient + h.flowsAsServer
            : sort === "lastSeen"
              ? (h) => h.lastSeenMs
              : sort === "firstSeen"
                ? (h) => h.firstSeenMs
                : (h) => h.bytesSent + h.bytesRcvd;
  // Ties by address, so that pages neither overlap nor skip.
  return (a, b) => sign * (value(a) - value(b)) || byIp(a, b);
}
