// The aggregator's live state as the rest of the aggregator sees it: what goes in (flows with
// the identity of whoever sent them) and the typed answers the API, metrics and alerts read.
// Everything here is bounded by configuration, whatever the traffic.
import type { pb } from "@flowlens/contracts";

/** Who a batch of flows came from: an agent (node) or, for collected flows, an exporter. */
export interface FlowOrigin {
  node: string;
  agentId: string;
}

/**
 * Top-talker windows over ingest time, each the current bucket plus whole ones before it: "1m"
 * covers the last 60 to 70 s, "5m" 5 to 6 min, "1h" 60 to 61 min (see top-talkers.ts).
 */
export type Window = "1m" | "5m" | "1h";
export const WINDOWS: readonly Window[] = ["1m", "5m", "1h"];
export type Resolution = "10s" | "1m" | "1h";
export const RESOLUTIONS: readonly Resolution[] = ["10s", "1m", "1h"];

export interface StateConfig {
  /** Hosts tracked individually; beyond it the least recently seen host is evicted (counted). */
  maxHosts: number;
  /** Distinct peers and applications remembered per host (the rest counted as "other"). */
  maxPeersPerHost: number;
  /** Heavy-hitter counters per window (Space-Saving capacity); top-K answers come from these. */
  topKCapacity: number;
  /** Hosts whose time series are kept (the top talkers of the last hour, re-chosen every minute). */
  topKSeries: number;
  /** Flows kept as active (last record was an active-timeout update) and as recently ended. */
  maxActiveFlows: number;
  maxRecentFlows: number;
  /** A flow with no update for this long is no longer active (missed final record). */
  activeFlowTtlMs: number;
  maxApplications: number;
  maxNodes: number;
  maxExporters: number;
  maxInterfacesPerExporter: number;
}

export interface Counters {
  bytes: number;
  packets: number;
  flows: number;
}

export interface HostSummary {
  ip: string;
  local: boolean;
  /** The local network (CIDR) it belongs to, if any. */
  network?: string;
  bytesSent: number;
  bytesRcvd: number;
  packetsSent: number;
  packetsRcvd: number;
  flowsAsClient: number;
  flowsAsServer: number;
  /** When the aggregator first and last received a record with this host (ingest wall clock). */
  firstSeenMs: number;
  lastSeenMs: number;
  /** Nodes (agents) or exporters that reported this host (at most 8). */
  nodes: string[];
}

export interface HostDetail extends HostSummary {
  applications: Array<{ name: string; category: string; bytes: number; packets: number; flows: number }>;
  peers: Array<{ ip: string; bytes: number; packets: number; flows: number }>;
  /** Counted when the per-host caps were hit. */
  otherPeers: Counters;
  otherApplications: Counters;
  /** Retransmissions sent by this host (srcRetransmits as client, dstRetransmits as server). */
  retransmits: number;
  /**
   * Mean network latency over the flows that measured it, microseconds: the client half
   * (clientNwLatencyUs) of flows where this host was the client, the server half of flows where
   * it was the server.
   */
  meanClientNwLatencyUs?: number;
  meanServerNwLatencyUs?: number;
}

export type HostSortKey = "bytes" | "bytesSent" | "bytesRcvd" | "packets" | "flows" | "lastSeen" | "firstSeen" | "ip";

export interface HostQuery {
  /** Exact host IP, or a CIDR the hosts must be inside. */
  network?: string;
  local?: boolean;
  application?: string;
  node?: string;
  /** Only hosts seen in [sinceMs, untilMs] (by lastSeen/firstSeen overlap, ingest wall clock). */
  sinceMs?: number;
  untilMs?: number;
  sort: HostSortKey;
  order: "asc" | "desc";
  offset: number;
  limit: number;
}

export interface Page<T> {
  total: number;
  offset: number;
  limit: number;
  items: T[];
}

export interface TalkerEntry {
  ip: string;
  bytes: number;
  /** Space-Saving overestimation bound: true bytes are in [bytes - error, bytes]. */
  error: number;
}

export interface ApplicationSummary {
  name: string;
  category: string;
  bytes: number;
  packets: number;
  flows: number;
  hosts: number;
}

export interface CategorySummary {
  name: string;
  bytes: number;
  packets: number;
  flows: number;
}

export interface ProtocolSummary {
  proto: number;
  name: string;
  bytes: number;
  packets: number;
  flows: number;
}

export interface NetworkSummary {
  cidr: string;
  hosts: number;
  bytesSent: number;
  bytesRcvd: number;
  packetsSent: number;
  packetsRcvd: number;
  flows: number;
}

export interface NodeSummary {
  node: string;
  agentIds: string[];
  batches: number;
  /** Records received; flows counts each flow once, however many records it took. */
  records?: number;
  flows: number;
  bytes: number;
  packets: number;
  firstSeenMs: number;
  lastSeenMs: number;
}

export interface ExporterSummary {
  exporter: string;
  exportVersions: string[];
  flows: number;
  bytes: number;
  packets: number;
  interfaces: number;
  firstSeenMs: number;
  lastSeenMs: number;
  /** Export datagrams lost on the way, from the exporter's sequence numbers (sFlow, NetFlow v9). */
  datagramsLost?: number;
  /** IPFIX data records lost on the way, from the exporter's message sequence numbers. */
  recordsLost?: number;
}

/** Interface counters of an exporter, as ifTable/sFlow counter samples carry them. */
export interface InterfaceCounters {
  inOctets: number;
  outOctets: number;
  inPackets: number;
  outPackets: number;
  inErrors: number;
  outErrors: number;
  inDiscards: number;
  outDiscards: number;
  speedBps: number;
  operUp: boolean;
  atMs: number;
  /** IANA ifType (6 ethernetCsmacd, ...), where the source gives it (sFlow does). */
  ifType?: number;
  direction?: "unknown" | "full-duplex" | "half-duplex" | "in" | "out";
  adminUp?: boolean;
  inUnknownProtos?: number;
  promiscuous?: boolean;
  /** dot3Stats, from sFlow Ethernet counter records. */
  ethernet?: {
    alignmentErrors: number;
    fcsErrors: number;
    singleCollisionFrames: number;
    multipleCollisionFrames: number;
    sqeTestErrors: number;
    deferredTransmissions: number;
    lateCollisions: number;
    excessiveCollisions: number;
    internalMacTransmitErrors: number;
    carrierSenseErrors: number;
    frameTooLongs: number;
    internalMacReceiveErrors: number;
    symbolErrors: number;
  };
}

/**
 * What the interface counters moved between two samples, summed over all samples seen (so they
 * only grow, whatever the device's counters do: a 32-bit wrap is undone, a reset restarts from
 * the new value), and the latest step alone.
 */
export interface InterfaceCounterDeltas {
  inOctets: number;
  outOctets: number;
  inPackets: number;
  outPackets: number;
  inErrors: number;
  outErrors: number;
  inDiscards: number;
  outDiscards: number;
}

export interface InterfaceCounterHistory {
  /** Counter samples applied. */
  samples: number;
  /** Sum of every step since the interface was first seen. */
  totals: InterfaceCounterDeltas;
  /** The last step, and the milliseconds it spans (0 for the first sample). */
  last: InterfaceCounterDeltas;
  lastSpanMs: number;
  /** Samples whose counters went backwards beyond a 32-bit wrap (device reset). */
  resets: number;
}

export interface InterfaceSummary {
  exporter: string;
  ifIndex: number;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  flowsIn: number;
  flowsOut: number;
  topApplications: Array<{ name: string; bytes: number }>;
  counters?: InterfaceCounters;
  /** Movement of `counters` across samples (sFlow counter samples). */
  counterDeltas?: InterfaceCounterHistory;
}

export interface FlowQuery {
  state: "active" | "ended" | "all";
  /** Exact source or destination address. */
  host?: string;
  /** A CIDR (or one address) the source or destination must be inside. */
  network?: string;
  /** nDPI name; "TLS" and "Google" both find "TLS.Google". */
  application?: string;
  proto?: number;
  node?: string;
  /** Flows whose [firstSeenMs, lastSeenMs] (packet timestamps, as in the record) overlap these. */
  sinceMs?: number;
  untilMs?: number;
  sort: "bytes" | "packets" | "lastSeen" | "firstSeen";
  order: "asc" | "desc";
  offset: number;
  limit: number;
}

/**
 * A flow as the API shows it: the DESIGN.md record plus where it came from. The record is the
 * latest one received for the flow with its counters (bytes, packets, retransmits, TCP flags)
 * summed over all its records and firstSeenMs from the first one.
 */
export interface StoredFlow {
  node: string;
  state: "active" | "ended";
  flow: pb.Flow;
  /** When the latest record was received (ingest wall clock). */
  receivedMs?: number;
}

/**
 * What a series is kept for: the totals, every application (up to maxApplications, then
 * "(other)"), and the hosts currently among the top `topKSeries` talkers of the last hour,
 * re-chosen every minute; a host's series starts when it enters that set and ends when it leaves.
 */
export type SeriesEntity = { kind: "total" } | { kind: "application"; name: string } | { kind: "host"; ip: string };

export interface SeriesQuery {
  entity: SeriesEntity;
  resolution: Resolution;
  sinceMs?: number;
  untilMs?: number;
}

export interface SeriesPoint {
  /** Start of the bucket, epoch ms (wall clock of ingest). */
  t: number;
  bytes: number;
  packets: number;
  flows: number;
}

/** Size of each bounded structure, for the aggregator's own health metrics. */
export interface StructureStats {
  name: string;
  entries: number;
  capacity: number;
  evictions: number;
  approxBytes: number;
  /** Updates counted in an aggregate ("other") or dropped because the structure was full. */
  overflow?: number;
  /** Entries dropped for age (active flows with no update for activeFlowTtlMs). */
  expirations?: number;
}

export interface StateTotals extends Counters {
  batches: number;
  /** Records received; `flows` counts each flow once, however many records it took. */
  records?: number;
  /** Hosts ever evicted from the host table to stay within maxHosts. */
  hostsEvicted: number;
}
