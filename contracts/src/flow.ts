// The flow record of DESIGN.md: the JSON form of the protobuf Flow, as `flowlens pcap`,
// `flowlens collect` and the API emit it. Counters are plain numbers here (exact to 2^53, i.e.
// 9 PB per flow); the wire form keeps uint64.
import { EndReason, ExportVersion, type Flow, type FlowInfo, type K8sMeta } from "./gen/flowlens/v1/flow.js";

export type EndReasonName = "idle" | "active" | "fin" | "rst" | "eof" | "evicted";
export type ExportVersionName = 5 | 9 | 10 | "sflow5";

export interface FlowInfoRecord {
  host?: string;
  url?: string;
  userAgent?: string;
  sni?: string;
  dnsQuery?: string;
  dnsRcode?: number;
  ja3c?: string;
  ja4c?: string;
  risks?: string[];
}

export interface K8sMetaRecord {
  node?: string;
  namespace?: string;
  pod?: string;
  workload?: string;
  service?: string;
}

export interface FlowRecord {
  srcAddr: string;
  srcPort: number;
  dstAddr: string;
  dstPort: number;
  proto: number;
  ipVersion: 4 | 6;
  vlan: number;
  firstSeenMs: number;
  lastSeenMs: number;
  srcToDstPackets: number;
  srcToDstBytes: number;
  dstToSrcPackets: number;
  dstToSrcBytes: number;
  srcTcpFlags: number;
  dstTcpFlags: number;
  l7: string;
  l7Category: string;
  info?: FlowInfoRecord;
  clientNwLatencyUs?: number;
  serverNwLatencyUs?: number;
  applLatencyUs?: number;
  srcRetransmits: number;
  dstRetransmits: number;
  srcOutOfOrder: number;
  dstOutOfOrder: number;
  endReason: EndReasonName;
  communityId: string;
  exporter?: string;
  observationDomain?: number;
  exportVersion?: ExportVersionName;
  samplingRate?: number;
  rawPackets?: number;
  rawBytes?: number;
  inIf?: number;
  outIf?: number;
  srcK8s?: K8sMetaRecord;
  dstK8s?: K8sMetaRecord;
}

const endReasonNames: ReadonlyMap<EndReason, EndReasonName> = new Map<EndReason, EndReasonName>([
  [EndReason.END_REASON_IDLE, "idle"],
  [EndReason.END_REASON_ACTIVE, "active"],
  [EndReason.END_REASON_FIN, "fin"],
  [EndReason.END_REASON_RST, "rst"],
  [EndReason.END_REASON_EOF, "eof"],
  [EndReason.END_REASON_EVICTED, "evicted"],
]);
const endReasonValues = new Map<EndReasonName, EndReason>([...endReasonNames].map(([k, v]) => [v, k]));

const exportVersionNames: ReadonlyMap<ExportVersion, ExportVersionName> = new Map<ExportVersion, ExportVersionName>([
  [ExportVersion.EXPORT_VERSION_NETFLOW_V5, 5],
  [ExportVersion.EXPORT_VERSION_NETFLOW_V9, 9],
  [ExportVersion.EXPORT_VERSION_IPFIX, 10],
  [ExportVersion.EXPORT_VERSION_SFLOW_V5, "sflow5"],
]);
const exportVersionValues = new Map<ExportVersionName, ExportVersion>([...exportVersionNames].map(([k, v]) => [v, k]));

export class FlowConversionError extends Error {
  readonly code = "FLOW_CONVERSION";
}

function num(v: bigint, field: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new FlowConversionError(`flow field ${field}=${v} exceeds 2^53`);
  }
  return Number(v);
}

function infoRecord(i: FlowInfo): FlowInfoRecord | undefined {
  const r: FlowInfoRecord = {};
  if (i.host) r.host = i.host;
  if (i.url) r.url = i.url;
  if (i.userAgent) r.userAgent = i.userAgent;
  if (i.sni) r.sni = i.sni;
  if (i.dnsQuery) r.dnsQuery = i.dnsQuery;
  if (i.dnsRcode !== undefined) r.dnsRcode = i.dnsRcode;
  if (i.ja3c) r.ja3c = i.ja3c;
  if (i.ja4c) r.ja4c = i.ja4c;
  if (i.risks.length > 0) r.risks = [...i.risks];
  return Object.keys(r).length > 0 ? r : undefined;
}

function k8sRecord(k: K8sMeta): K8sMetaRecord | undefined {
  const r: K8sMetaRecord = {};
  for (const f of ["node", "namespace", "pod", "workload", "service"] as const) if (k[f]) r[f] = k[f];
  return Object.keys(r).length > 0 ? r : undefined;
}

/** Wire Flow -> flow record. Throws FlowConversionError on values a record cannot hold. */
export function flowToRecord(f: Flow): FlowRecord {
  if (f.ipVersion !== 4 && f.ipVersion !== 6) {
    throw new FlowConversionError(`flow ipVersion must be 4 or 6, got ${f.ipVersion}`);
  }
  const r: FlowRecord = {
    srcAddr: f.srcAddr,
    srcPort: f.srcPort,
    dstAddr: f.dstAddr,
    dstPort: f.dstPort,
    proto: f.proto,
    ipVersion: f.ipVersion,
    vlan: f.vlan,
    firstSeenMs: num(f.firstSeenMs, "firstSeenMs"),
    lastSeenMs: num(f.lastSeenMs, "lastSeenMs"),
    srcToDstPackets: num(f.srcToDstPackets, "srcToDstPackets"),
    srcToDstBytes: num(f.srcToDstBytes, "srcToDstBytes"),
    dstToSrcPackets: num(f.dstToSrcPackets, "dstToSrcPackets"),
    dstToSrcBytes: num(f.dstToSrcBytes, "dstToSrcBytes"),
    srcTcpFlags: f.srcTcpFlags,
    dstTcpFlags: f.dstTcpFlags,
    l7: f.l7 || "Unknown",
    l7Category: f.l7Category || "Unspecified",
    srcRetransmits: f.srcRetransmits,
    dstRetransmits: f.dstRetransmits,
    srcOutOfOrder: f.srcOutOfOrder,
    dstOutOfOrder: f.dstOutOfOrder,
    endReason: endReasonNames.get(f.endReason) ?? "idle",
    communityId: f.communityId,
  };
  const info = f.info && infoRecord(f.info);
  if (info) r.info = info;
  if (f.clientNwLatencyUs !== undefined) r.clientNwLatencyUs = num(f.clientNwLatencyUs, "clientNwLatencyUs");
  if (f.serverNwLatencyUs !== undefined) r.serverNwLatencyUs = num(f.serverNwLatencyUs, "serverNwLatencyUs");
  if (f.applLatencyUs !== undefined) r.applLatencyUs = num(f.applLatencyUs, "applLatencyUs");
  const version = exportVersionNames.get(f.exportVersion);
  if (version !== undefined) {
    r.exporter = f.exporter;
    r.observationDomain = f.observationDomain;
    r.exportVersion = version;
    r.samplingRate = f.samplingRate > 0n ? num(f.samplingRate, "samplingRate") : 1;
    r.rawPackets = num(f.rawPackets, "rawPackets");
    r.rawBytes = num(f.rawBytes, "rawBytes");
    r.inIf = f.inIf;
    r.outIf = f.outIf;
  } else if (f.samplingRate > 1n) {
    r.samplingRate = num(f.samplingRate, "samplingRate");
  }
  const src = f.srcK8s && k8sRecord(f.srcK8s);
  if (src) r.srcK8s = src;
  const dst = f.dstK8s && k8sRecord(f.dstK8s);
  if (dst) r.dstK8s = dst;
  return r;
}

/** Flow record -> wire Flow. */
export function recordToFlow(r: FlowRecord): Flow {
  const big = (v: number | undefined) => BigInt(Math.trunc(v ?? 0));
  return {
    srcAddr: r.srcAddr,
    srcPort: r.srcPort,
    dstAddr: r.dstAddr,
    dstPort: r.dstPort,
    proto: r.proto,
    ipVersion: r.ipVersion,
    vlan: r.vlan,
    firstSeenMs: big(r.firstSeenMs),
    lastSeenMs: big(r.lastSeenMs),
    srcToDstPackets: big(r.srcToDstPackets),
    srcToDstBytes: big(r.srcToDstBytes),
    dstToSrcPackets: big(r.dstToSrcPackets),
    dstToSrcBytes: big(r.dstToSrcBytes),
    srcTcpFlags: r.srcTcpFlags,
    dstTcpFlags: r.dstTcpFlags,
    l7: r.l7,
    l7Category: r.l7Category,
    info: r.info
      ? {
          host: r.info.host ?? "",
          url: r.info.url ?? "",
          userAgent: r.info.userAgent ?? "",
          sni: r.info.sni ?? "",
          dnsQuery: r.info.dnsQuery ?? "",
          dnsRcode: r.info.dnsRcode,
          ja3c: r.info.ja3c ?? "",
          ja4c: r.info.ja4c ?? "",
          risks: r.info.risks ?? [],
        }
      : undefined,
    clientNwLatencyUs: r.clientNwLatencyUs === undefined ? undefined : big(r.clientNwLatencyUs),
    serverNwLatencyUs: r.serverNwLatencyUs === undefined ? undefined : big(r.serverNwLatencyUs),
    applLatencyUs: r.applLatencyUs === undefined ? undefined : big(r.applLatencyUs),
    srcRetransmits: r.srcRetransmits,
    dstRetransmits: r.dstRetransmits,
    srcOutOfOrder: r.srcOutOfOrder,
    dstOutOfOrder: r.dstOutOfOrder,
    endReason: endReasonValues.get(r.endReason) ?? EndReason.END_REASON_UNSPECIFIED,
    communityId: r.communityId,
    exporter: r.exporter ?? "",
    observationDomain: r.observationDomain ?? 0,
    exportVersion:
      r.exportVersion === undefined
        ? ExportVersion.EXPORT_VERSION_UNSPECIFIED
        : (exportVersionValues.get(r.exportVersion) ?? ExportVersion.EXPORT_VERSION_UNSPECIFIED),
    samplingRate: big(r.samplingRate ?? 1),
    rawPackets: big(r.rawPackets),
    rawBytes: big(r.rawBytes),
    inIf: r.inIf ?? 0,
    outIf: r.outIf ?? 0,
    srcK8s: r.srcK8s ? { node: "", namespace: "", pod: "", workload: "", service: "", ...r.srcK8s } : undefined,
    dstK8s: r.dstK8s ? { node: "", namespace: "", pod: "", workload: "", service: "", ...r.dstK8s } : undefined,
  };
}
