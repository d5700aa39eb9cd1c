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
import { applicationMatches, FlowStore, NOT_HASHED } from "./flow-store.js";
import {
  DST_SERIES,
  HostTable,
  N_CLIENT_LATENCY,
  N_D2S_BYTES,
  N_D2S_PACKETS,
  N_DST_RETRANSMITS,
  N_NEW,
  N_S2D_BYTES,
  N_S2D_PACKETS,
  N_SERVER_LATENCY,
  N_SRC_RETRANSMITS,
  NEW_DST_APP,
  NEW_DST_PEER,
  NEW_SRC_APP,
  NEW_SRC_PEER,
  NUMS,
  PREFETCH_GROUP,
  R_BYTES_RCVD,
  R_BYTES_SENT,
  R_CLIENT_LATENCY_FLOWS,
  R_CLIENT_LATENCY_SUM,
  R_FLOWS_CLIENT,
  R_FLOWS_SERVER,
  R_PACKETS_RCVD,
  R_PACKETS_SENT,
  R_RETRANSMITS,
  R_SERVER_LATENCY_FLOWS,
  R_SERVER_LATENCY_SUM,
  R_STRIDE,
  SRC_SERIES,
} from "./host-table.js";
import { ABSENT, type IngestFlow, MessageViews } from "./ingest-flow.js";
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
  private lastNow = Number.NEGATIVE_INFINITY;
  private bytes = 0;
  private packets = 0;
  private flowCount = 0;
  private records = 0;
  private batches = 0;
  private readonly views = new MessageViews();
  /** What HostTable.prefetch() read, kept so that its reads are not optimised away. */
  private prefetched = 0;
  /** The application entries of the records prefetch() read for (get(l7), by position in the group). */
  private readonly groupApps: Array<ApplicationEntry | undefined> = new Array(PREFETCH_GROUP).fill(undefined);

  constructor(
    config: StateConfig,
    localNetworks: LocalNetworks,
    private readonly clock: () => number = Date.now,
    /**
     * Whether hosts may be looked up and counted in C, and the flow ring's record copies made
     * there, when the addon is there (tests compare).
     */
    nativeHosts = true,
  ) {
    this.config = validateStateConfig({ ...config });
    const c = this.config;
    const now = this.now();
    this.networkTable = new NetworkTable(localNetworks);
    // Talkers are host table slots, below maxHosts: their arrays are made once, never moved.
    this.talkers = new TopTalkers(c.topKCapacity, (slot) => this.hostTable.ip(slot), c.maxHosts);
    this.hostTable = new HostTable(
      c.maxHosts,
      c.maxPeersPerHost,
      {
        created: (slot, ip) => this.createHost(slot, ip),
        evicted: (slot) => this.evictHost(slot),
      },
      nativeHosts,
      { networks: this.networkTable.counters, talkers: this.talkers },
    );
    this.apps = new ApplicationTable(c.maxApplications);
    this.nodeTable = new NodeTable(c.maxNodes);
    this.exporterTable = new ExporterTable(c.maxExporters, c.maxInterfacesPerExporter);
    this.flowStore = new FlowStore(c.maxActiveFlows, c.maxRecentFlows, c.activeFlowTtlMs, nativeHosts);
    this.hostTable.talkers = this.talkers;
    this.totalSeries = new SeriesSet(now);
  }

  /** Counts a batch of decoded records from one origin (the in-process path, tests). */
  applyBatch(flows: readonly pb.Flow[], origin: FlowOrigin): void {
    const n = this.views.fill(flows);
    try {
      this.applyRecords(this.views.views, origin, n);
    } finally {
      this.views.release(n);
    }
  }

  /**
   * The hot path: counts the first `length` records of `flows`, all from one origin. Records go
   * in groups of PREFETCH_GROUP: the group's hosts are looked up first (in C where the addon
   * is, reading ahead), then each record is counted in the flow store, applications and
   * protocols, and, with the addon, the group's records are counted in their hosts, networks
   * and top talkers by C, JS completing what needs its strings and objects (peers' addresses,
   * new applications' host counts, time series). Without the
   * addon JS counts each record's hosts in its turn. Either way every structure ends up as if
   * the records had been counted one by one, in order.
   */
  applyRecords(flows: readonly IngestFlow[], origin: FlowOrigin, length = flows.length): void {
    const now = this.tick();
    const node = this.nodeTable.touch(label(origin.node, UNKNOWN_NODE), label(origin.agentId, ""), now);
    // The table's string: hosts compare reporters by reference first.
    const nodeName = node.node;
    const active = this.flowStore.begin(nodeName);
    const hosts = this.hostTable;
    const native = hosts.native;
    const nums = hosts.groupNums;
    let bytesSum = 0;
    let packetsSum = 0;
    let newFlows = 0;
    let records = 0;
    // A record that throws (no decoder lets one through) must not leave the batch half-counted
    // in the totals or the flow store pointing at this node.
    try {
      for (let g = 0; g < length; g += PREFETCH_GROUP) {
        const end = Math.min(length, g + PREFETCH_GROUP);
        const ids = hosts.groupApps;
        const entries = this.groupApps;
        for (let j = g; j < end; j++) {
          const a = this.apps.get((flows[j] as IngestFlow).l7);
          entries[j - g] = a;
          ids[j - g] = a?.id ?? -1;
        }
        this.prefetched ^= hosts.prefetch(flows, g, end, now);
        /** Group records before this one are counted in their hosts (native counting). */
        let counted = g;
        for (let i = g; i < end; i++) {
          const k = i - g;
          const f = flows[i] as IngestFlow;
          // A host JS adds may evict one that the group's records not yet counted have.
          if (native && counted < i && hosts.mayEvict(k)) {
            this.countGroupHosts(g, counted, i, nodeName, node.serial, now);
            counted = i;
          }
          hosts.touchGroupRecord(k, f, now);
          const src = hosts.pairSrc;
          const dst = hosts.pairDst;
          const s2dBytes = count(f.srcToDstBytes);
          const s2dPackets = count(f.srcToDstPackets);
          const d2sBytes = count(f.dstToSrcBytes);
          const d2sPackets = count(f.dstToSrcPackets);
          const bytes = s2dBytes + d2sBytes;
          const packets = s2dPackets + d2sPackets;
          const lazy = f.message === null && f.buf !== null;
          const isNew = this.flowStore.record(
            nodeName,
            active,
            f,
            now,
            s2dBytes,
            s2dPackets,
            d2sBytes,
            d2sPackets,
            // Encoded records keep their addresses in their bytes (no host table read here).
            lazy ? null : src >= 0 ? hosts.ip(src) : f.srcAddr,
            lazy ? null : dst >= 0 ? hosts.ip(dst) : f.dstAddr,
            f.l7,
            native ? hosts.groupKeyHash(k) : NOT_HASHED,
          );
          const nf = isNew ? 1 : 0;
          records++;
          bytesSum += bytes;
          packetsSum += packets;
          newFlows += nf;

          const app = this.apps.account(f.l7, f.l7Category, bytes, packets, nf, now, entries[k]);
          this.protocolTable.add(f.proto, bytes, packets, nf);
          const clientLatency = isNew && f.clientNwLatencyUs !== ABSENT ? f.clientNwLatencyUs : -1;
          const serverLatency = isNew && f.serverNwLatencyUs !== ABSENT ? f.serverNwLatencyUs : -1;
          const n = k * NUMS;
          nums[n + N_S2D_BYTES] = s2dBytes;
          nums[n + N_S2D_PACKETS] = s2dPackets;
          nums[n + N_D2S_BYTES] = d2sBytes;
          nums[n + N_D2S_PACKETS] = d2sPackets;
          nums[n + N_NEW] = nf;
          nums[n + N_SRC_RETRANSMITS] = f.srcRetransmits >>> 0;
          nums[n + N_DST_RETRANSMITS] = f.dstRetransmits >>> 0;
          nums[n + N_CLIENT_LATENCY] = clientLatency;
          nums[n + N_SERVER_LATENCY] = serverLatency;
          entries[k] = app;
          ids[k] = app.id;
          if (!native) this.countRecordHosts(k, src, dst, nodeName, node.serial, app, now);

          if (f.exportVersion !== 0 && isAddress(f.exporter)) {
            const e = this.exporterTable.touch(f.exporter, now);
            this.exporterTable.account(e, f.exportVersion, f.inIf, f.outIf, app.name, bytes, packets, nf);
          }
        }
        if (native) this.countGroupHosts(g, counted, end, nodeName, node.serial, now);
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
      this.apps.flushSeries(now);
    }
  }

  /**
   * Group records [from, to) (batch positions; the group starts at g) counted in their hosts by
   * C, and what C leaves to JS completed; a record C cannot count is counted by JS in its turn.
   */
  private countGroupHosts(
    g: number,
    from: number,
    to: number,
    nodeName: string,
    nodeSerial: number,
    now: number,
  ): void {
    const hosts = this.hostTable;
    let k = from - g;
    const last = to - g;
    while (k < last) {
      const stop = hosts.accountGroup(k, last, nodeSerial);
      for (; k < stop; k++) this.completeCounted(k, now);
      if (stop >= last) break;
      const slots = hosts.resolved;
      this.countRecordHosts(
        stop,
        slots[2 * stop] as number,
        slots[2 * stop + 1] as number,
        nodeName,
        nodeSerial,
        this.groupApps[stop] as ApplicationEntry,
        now,
      );
      k = stop + 1;
    }
  }

  /** What the native counting of group record k left to JS: strings and objects. */
  private completeCounted(k: number, now: number): void {
    const hosts = this.hostTable;
    const flags = hosts.groupFlags[k] as number;
    if (flags === 0) return;
    const slots = hosts.resolved;
    const src = slots[2 * k] as number;
    const dst = slots[2 * k + 1] as number;
    const app = this.groupApps[k] as ApplicationEntry;
    if ((flags & NEW_SRC_APP) !== 0) app.hosts++;
    if ((flags & NEW_DST_APP) !== 0) app.hosts++;
    if ((flags & NEW_SRC_PEER) !== 0) hosts.notePeerKey(src, dst, (flags >> 8) & 0xff);
    if ((flags & NEW_DST_PEER) !== 0) hosts.notePeerKey(dst, src, (flags >> 16) & 0xff);
    if ((flags & (SRC_SERIES | DST_SERIES)) !== 0) {
      const nums = hosts.groupNums;
      const n = k * NUMS;
      const bytes = (nums[n + N_S2D_BYTES] as number) + (nums[n + N_D2S_BYTES] as number);
      const packets = (nums[n + N_S2D_PACKETS] as number) + (nums[n + N_D2S_PACKETS] as number);
      const nf = nums[n + N_NEW] as number;
      if ((flags & SRC_SERIES) !== 0) hosts.series[src]?.add(now, bytes, packets, nf);
      if ((flags & DST_SERIES) !== 0) hosts.series[dst]?.add(now, bytes, packets, nf);
    }
  }

  /**
   * Networks, series and top talkers of a record's two hosts (-1: none), in the order JS
   * counting has them.
   */
  private countHostExtras(
    src: number,
    dst: number,
    s2dBytes: number,
    s2dPackets: number,
    d2sBytes: number,
    d2sPackets: number,
    nf: number,
    now: number,
  ): void {
    const hosts = this.hostTable;
    const bytes = s2dBytes + d2sBytes;
    const packets = s2dPackets + d2sPackets;
    const srcNet = src >= 0 ? hosts.networks[src] : null;
    const dstNet = dst >= 0 ? hosts.networks[dst] : null;
    if (srcNet != null) {
      srcNet.bytesSent += s2dBytes;
      srcNet.bytesRcvd += d2sBytes;
      srcNet.packetsSent += s2dPackets;
      srcNet.packetsRcvd += d2sPackets;
    }
    if (dstNet != null) {
      dstNet.bytesSent += d2sBytes;
      dstNet.bytesRcvd += s2dBytes;
      dstNet.packetsSent += d2sPackets;
      dstNet.packetsRcvd += s2dPackets;
    }
    if (src >= 0) {
      const series = hosts.series[src];
      if (series != null) series.add(now, bytes, packets, nf);
      if (bytes > 0) this.talkers.add(src, bytes);
    }
    if (dst >= 0) {
      const series = hosts.series[dst];
      if (series != null) series.add(now, bytes, packets, nf);
      if (bytes > 0) this.talkers.add(dst, bytes);
    }
    // A flow inside one network is one flow of that network, not two.
    if (srcNet != null) srcNet.flows += nf;
    if (dstNet != null && dstNet !== srcNet) dstNet.flows += nf;
  }

  /** Group record k counted in its hosts (src, dst: slots, -1 for none) by JS alone. */
  private countRecordHosts(
    k: number,
    src: number,
    dst: number,
    nodeName: string,
    nodeSerial: number,
    app: ApplicationEntry,
    now: number,
  ): void {
    const hosts = this.hostTable;
    const nums = hosts.groupNums;
    const n = k * NUMS;
    const s2dBytes = nums[n + N_S2D_BYTES] as number;
    const s2dPackets = nums[n + N_S2D_PACKETS] as number;
    const d2sBytes = nums[n + N_D2S_BYTES] as number;
    const d2sPackets = nums[n + N_D2S_PACKETS] as number;
    const nf = nums[n + N_NEW] as number;
    if (src >= 0) {
      this.accountHost(src, nodeName, nodeSerial, app, dst, s2dBytes, s2dPackets, d2sBytes, d2sPackets, nf);
      this.countRole(
        src,
        R_FLOWS_CLIENT,
        R_CLIENT_LATENCY_SUM,
        R_CLIENT_LATENCY_FLOWS,
        nf,
        nums[n + N_SRC_RETRANSMITS] as number,
        nums[n + N_CLIENT_LATENCY] as number,
      );
    }
    if (dst >= 0) {
      this.accountHost(dst, nodeName, nodeSerial, app, src, d2sBytes, d2sPackets, s2dBytes, s2dPackets, nf);
      this.countRole(
        dst,
        R_FLOWS_SERVER,
        R_SERVER_LATENCY_SUM,
        R_SERVER_LATENCY_FLOWS,
        nf,
        nums[n + N_DST_RETRANSMITS] as number,
        nums[n + N_SERVER_LATENCY] as number,
      );
    }
    this.countHostExtras(src, dst, s2dBytes, s2dPackets, d2sBytes, d2sPackets, nf, now);
  }

  /**
   * A host's role in a record: its flows as client or server (flowsField), retransmissions, and
   * the latency measured for that role (its sum and flow count fields; latency < 0: none).
   */
  private countRole(
    h: number,
    flowsField: number,
    latencySumField: number,
    latencyFlowsField: number,
    nf: number,
    retransmits: number,
    latency: number,
  ): void {
    const d = this.hostTable.f64;
    const r = h * R_STRIDE;
    d[r + flowsField] = (d[r + flowsField] as number) + nf;
    d[r + R_RETRANSMITS] = (d[r + R_RETRANSMITS] as number) + retransmits;
    if (latency >= 0) {
      d[r + latencySumField] = (d[r + latencySumField] as number) + latency;
      d[r + latencyFlowsField] = (d[r + latencyFlowsField] as number) + 1;
    }
  }

  /** One side of a record: host `h` sent `sent*` and received `rcvd*`, talking to `peer` (or -1). */
  private accountHost(
    h: number,
    node: string,
    nodeSerial: number,
    app: ApplicationEntry,
    peer: number,
    sentBytes: number,
    sentPackets: number,
    rcvdBytes: number,
    rcvdPackets: number,
    nf: number,
  ): void {
    const hosts = this.hostTable;
    const bytes = sentBytes + rcvdBytes;
    const packets = sentPackets + rcvdPackets;
    const d = hosts.f64;
    const r = h * R_STRIDE;
    d[r + R_BYTES_SENT] = (d[r + R_BYTES_SENT] as number) + sentBytes;
    d[r + R_BYTES_RCVD] = (d[r + R_BYTES_RCVD] as number) + rcvdBytes;
    d[r + R_PACKETS_SENT] = (d[r + R_PACKETS_SENT] as number) + sentPackets;
    d[r + R_PACKETS_RCVD] = (d[r + R_PACKETS_RCVD] as number) + rcvdPackets;
    hosts.addNode(h, node, nodeSerial);
    if (hosts.addApp(h, app.id, bytes, packets, nf) === AddResult.NewKey) app.hosts++;
    if (peer >= 0) hosts.addPeer(h, peer, bytes, packets, nf);
  }

  /** Interface counters from an sFlow counter sample or an SNMP poll: the latest are kept. */
  applyInterfaceCounters(exporter: string, ifIndex: number, counters: InterfaceCounters): void {
    if (!isAddress(exporter) || !isIfIndex(ifIndex)) return;
    const now = this.tick();
    const e = this.exporterTable.touch(exporter, now);
    const i = this.exporterTable.interface(e, ifIndex);
    if (i !== null) i.applyCounters(counters);
  }

  /**
   * Export datagrams an exporter's sequence numbers say were lost (negative: one counted lost
   * arrived late after all).
   */
  applyExporterLoss(exporter: string, lost: number): void {
    if (!isAddress(exporter) || !Number.isSafeInteger(lost)) return;
    const e = this.exporterTable.touch(exporter, this.tick());
    e.datagramsLost = Math.max(0, Math.max(e.datagramsLost, 0) + lost);
  }

  /**
   * IPFIX data records an exporter's message sequence numbers say were lost (negative: records
   * counted lost arrived late after all).
   */
  applyExporterRecordLoss(exporter: string, lost: number): void {
    if (!isAddress(exporter) || !Number.isSafeInteger(lost)) return;
    const e = this.exporterTable.touch(exporter, this.tick());
    e.recordsLost = Math.max(0, Math.max(e.recordsLost, 0) + lost);
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
    const match = hostFilter(q, this.hostTable, this.apps);
    const hits: number[] = [];
    for (const h of this.hostTable.slots()) if (match(h)) hits.push(h);
    return page(hits, hostOrder(this.hostTable, q.sort, q.order), q.offset, q.limit, (h) => this.summary(h));
  }

  host(ip: string): HostDetail | undefined {
    const t = this.hostTable;
    const h = t.find(ip);
    if (h < 0) return undefined;
    const byBytes = <C extends { bytes: number; key: string }>(a: C, b: C) =>
      b.bytes - a.bytes || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
    const apps = t.apps(h).map((c) => {
      const a = this.apps.byIndex(c.key as number) as ApplicationEntry;
      return { key: a.name, category: a.category, bytes: c.bytes, packets: c.packets, flows: c.flows };
    });
    const peers = t.peers(h).map((c) => ({ key: c.key as string, bytes: c.bytes, packets: c.packets, flows: c.flows }));
    const d = t.f64;
    const r = h * R_STRIDE;
    const detail: HostDetail = {
      ...this.summary(h),
      applications: apps
        .sort(byBytes)
        .map((c) => ({ name: c.key, category: c.category, bytes: c.bytes, packets: c.packets, flows: c.flows })),
      peers: peers.sort(byBytes).map((c) => ({ ip: c.key, bytes: c.bytes, packets: c.packets, flows: c.flows })),
      otherPeers: t.otherPeers(h),
      otherApplications: t.otherApps(h),
      retransmits: d[r + R_RETRANSMITS] as number,
    };
    const clientFlows = d[r + R_CLIENT_LATENCY_FLOWS] as number;
    const serverFlows = d[r + R_SERVER_LATENCY_FLOWS] as number;
    if (clientFlows > 0) detail.meanClientNwLatencyUs = (d[r + R_CLIENT_LATENCY_SUM] as number) / clientFlows;
    if (serverFlows > 0) detail.meanServerNwLatencyUs = (d[r + R_SERVER_LATENCY_SUM] as number) / serverFlows;
    return detail;
  }

  private summary(h: number): HostSummary {
    const t = this.hostTable;
    const d = t.f64;
    const r = h * R_STRIDE;
    const net = t.networks[h] ?? null;
    const s: HostSummary = {
      ip: t.ip(h),
      local: net !== null,
      bytesSent: d[r + R_BYTES_SENT] as number,
      bytesRcvd: d[r + R_BYTES_RCVD] as number,
      packetsSent: d[r + R_PACKETS_SENT] as number,
      packetsRcvd: d[r + R_PACKETS_RCVD] as number,
      flowsAsClient: d[r + R_FLOWS_CLIENT] as number,
      flowsAsServer: d[r + R_FLOWS_SERVER] as number,
      firstSeenMs: t.firstSeenMs(h),
      lastSeenMs: t.lastSeenMs(h),
      nodes: t.nodes(h),
    };
    if (net !== null) s.network = net.cidr;
    return s;
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
    return smallest(this.hostTable.slots(), n, hostOrder(this.hostTable, "bytes", "desc")).map((h) => this.summary(h));
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
        approxBytes: this.hostTable.approxBytes(),
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
      const h = this.hostTable.find(ip);
      if (h >= 0 && this.hostTable.series[h] === s) this.hostTable.setSeries(h, null);
    }
    for (const ip of want) {
      if (this.hostSeries.has(ip)) continue;
      const s = new SeriesSet(now);
      this.hostSeries.set(ip, s);
      const h = this.hostTable.find(ip);
      if (h >= 0) this.hostTable.setSeries(h, s);
    }
  }

  private createHost(slot: number, ip: string): void {
    const net = this.networkTable.resolve(ip);
    this.hostTable.setNetwork(slot, net);
    if (net !== null) net.hosts++;
    this.hostTable.setSeries(slot, this.hostSeries.get(ip) ?? null);
  }

  private evictHost(slot: number): void {
    const net = this.hostTable.networks[slot] ?? null;
    if (net !== null) net.hosts--;
    for (const c of this.hostTable.apps(slot)) {
      const a = this.apps.byIndex(c.key as number);
      if (a !== undefined) a.hosts--;
    }
    this.talkers.forget(slot);
  }
}

function hostFilter(q: HostQuery, t: HostTable, apps: ApplicationTable): (h: number) => boolean {
  // Throws CidrError for a bad network: the API checks it first and answers 400.
  const net = q.network !== undefined && q.network !== "" ? new LocalNetworks([q.network]) : undefined;
  const { local, application: app, node, sinceMs, untilMs } = q;
  return (h) => {
    if (local !== undefined && (t.networks[h] != null) !== local) return false;
    if (net !== undefined && !net.isLocal(t.ip(h))) return false;
    if (app !== undefined && app !== "" && !hostHasApplication(t, apps, h, app)) return false;
    if (node !== undefined && node !== "" && !t.hasNode(h, node)) return false;
    if (sinceMs !== undefined && t.lastSeenMs(h) < sinceMs) return false;
    if (untilMs !== undefined && t.firstSeenMs(h) > untilMs) return false;
    return true;
  };
}

function hostHasApplication(t: HostTable, apps: ApplicationTable, h: number, app: string): boolean {
  const names = t.apps(h).map((c) => apps.byIndex(c.key as number)?.name ?? "");
  if (names.includes(app)) return true;
  for (const name of names) if (applicationMatches(name, app)) return true;
  return false;
}

function hostOrder(t: HostTable, sort: HostSortKey, order: "asc" | "desc"): (a: number, b: number) => number {
  const sign = order === "asc" ? 1 : -1;
  const d = t.f64;
  const byIp = (a: number, b: number) => {
    const x = t.ip(a);
    const y = t.ip(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };
  if (sort === "ip") return (a, b) => sign * byIp(a, b);
  const field = (f: number) => (h: number) => d[h * R_STRIDE + f] as number;
  const sum = (f: number, g: number) => (h: number) =>
    (d[h * R_STRIDE + f] as number) + (d[h * R_STRIDE + g] as number);
  const value: (h: number) => number =
    sort === "bytesSent"
      ? field(R_BYTES_SENT)
      : sort === "bytesRcvd"
        ? field(R_BYTES_RCVD)
        : sort === "packets"
          ? sum(R_PACKETS_SENT, R_PACKETS_RCVD)
          : sort === "flows"
            ? sum(R_FLOWS_CLIENT, R_FLOWS_SERVER)
            : sort === "lastSeen"
              ? (h) => t.lastSeenMs(h)
              : sort === "firstSeen"
                ? (h) => t.firstSeenMs(h)
                : sum(R_BYTES_SENT, R_BYTES_RCVD);
  // Ties by address, so that pages neither overlap nor skip.
  return (a, b) => sign * (value(a) - value(b)) || byIp(a, b);
}
