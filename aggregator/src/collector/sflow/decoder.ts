// The sFlow v5 decoder of the collector (sflow.org/sflow_version_5.txt): datagram in, flows and
// interface counters out. Flow samples (compact and expanded) become one Flow each; their raw
// packet headers go through the probe's own packet decoder (headers.ts), sampled IPv4/IPv6 data
// records stand in where there is no usable header. Counter samples give interface counters.
// Pure (no I/O), bounded in memory, and total: any byte sequence yields a result with counted
// errors, never an exception.
import { pb } from "@flowlens/contracts";
import { ipv4Text, ipv6Text } from "../address-text.js";
import { FlowRecords, resetProbeFields } from "../flow-records.js";
import {
  ETHERNET_COUNTERS_BYTES,
  GENERIC_COUNTERS_BYTES,
  type InterfaceCounterSample,
  readEthernetCounters,
  readGenericCounters,
} from "./counters.js";
import {
  addSflowError,
  SFLOW_ERROR_REASONS,
  SflowConfigError,
  type SflowErrorCounts,
  type SflowErrorReason,
} from "./errors.js";
import { HeaderBatch, linkTypeOf } from "./headers.js";
import { type SequenceSourceStats, SequenceTracker } from "./sequence.js";

export interface SflowLimits {
  /** Agent/sub-agent pairs whose sequence numbers are followed (LRU beyond). */
  maxSources: number;
  /** Raw headers decoded per native call (a datagram with more is decoded in several). */
  headerBatch: number;
  /** Compute the Community ID of every flow. */
  communityId: boolean;
}

export const DEFAULT_SFLOW_LIMITS: Readonly<SflowLimits> = Object.freeze({
  maxSources: 4096,
  headerBatch: 256,
  communityId: true,
});

/** What a datagram holds besides its flows. */
export interface SflowDecodeReport {
  counters: InterfaceCounterSample[];
  errors: SflowErrorCounts;
  /** The agent address of the datagram header ("" if the header was unreadable). */
  agent: string;
  subAgent: number;
  sequence: number;
  /** Change to the agent's lost-datagram count this datagram implies (see sequence.ts). */
  lost: number;
}

/** A datagram decoded into messages (decode()). */
export interface SflowDecodeResult extends SflowDecodeReport {
  flows: pb.Flow[];
}

/** Where a datagram is decoded to: its flows go to `records`. */
interface SflowDecodeOutput extends SflowDecodeReport {
  records: FlowRecords;
}

export interface SflowStats {
  datagrams: number;
  flowSamples: number;
  counterSamples: number;
  /** Flows produced. */
  flows: number;
  /** Interface counter records produced. */
  counterRecords: number;
  /** Flow samples whose packet was dropped by the agent (output interface "discard"). */
  discardedSamples: number;
  /** Packets the agents say they could not sample (the samples' `drops`, summed). */
  agentDrops: number;
  /** Export datagrams lost, by sequence numbers, over all agents. */
  datagramsLost: number;
  errors: Record<SflowErrorReason, number>;
  sources: SequenceSourceStats[];
}

const SAMPLE_FLOW = 1;
const SAMPLE_COUNTERS = 2;
const SAMPLE_FLOW_EXPANDED = 3;
const SAMPLE_COUNTERS_EXPANDED = 4;
const FLOW_RAW_HEADER = 1;
const FLOW_IPV4 = 3;
const FLOW_IPV6 = 4;
const FLOW_EXT_SWITCH = 1001;
const COUNTERS_GENERIC = 1;
const COUNTERS_ETHERNET = 2;

/** Interface value meaning "the agent itself" (sourced or delivered internally). */
const IF_LOCAL = 0x3fffffff;
const PROTO_ICMP = 1;
const PROTO_ICMP6 = 58;
const MAX = Number.MAX_SAFE_INTEGER;

/** Largest sample/record count a datagram of `bytes` left could hold (8-byte minimum each). */
function plausibleCount(count: number, bytes: number): boolean {
  return count <= bytes / 8;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * The ifIndex a flow record carries for an sFlow interface: the index for a single interface,
 * 0 (unknown) for "discard", "multiple" and the agent itself ("local").
 */
function ifIndexOf(format: number, value: number): number {
  return format === 0 && value !== IF_LOCAL ? value : 0;
}

/** One flow sample of the datagram being decoded, kept in parallel arrays until its header is decoded. */
class SampleSlots {
  count = 0;
  readonly rate: Float64Array;
  readonly inIf: Float64Array;
  readonly outIf: Float64Array;
  /** HeaderBatch slot of the sample's raw header, -1 if none. */
  readonly header: Int32Array;
  /** Datagram offset of a sampled IPv4 (type 3) or IPv6 (type 4) record body, -1 if none. */
  readonly ip4: Int32Array;
  readonly ip6: Int32Array;
  /** Extended switch source VLAN, -1 if none. */
  readonly vlan: Int32Array;
  constructor(readonly capacity: number) {
    this.rate = new Float64Array(capacity);
    this.inIf = new Float64Array(capacity);
    this.outIf = new Float64Array(capacity);
    this.header = new Int32Array(capacity);
    this.ip4 = new Int32Array(capacity);
    this.ip6 = new Int32Array(capacity);
    this.vlan = new Int32Array(capacity);
  }
}

/** What every flow of one datagram shares. */
interface DatagramContext {
  bytes: Uint8Array;
  view: DataView;
  agent: string;
  subAgent: number;
  receivedMs: number;
  out: SflowDecodeOutput;
}

function checkLimits(l: SflowLimits): void {
  for (const k of ["maxSources", "headerBatch"] as const) {
    if (!Number.isInteger(l[k]) || l[k] < 1) throw new SflowConfigError(`sflow limit ${k} must be an integer >= 1`);
  }
}

export class SflowDecoder {
  readonly limits: Readonly<SflowLimits>;
  private readonly headers: HeaderBatch;
  private readonly slots: SampleSlots;
  private readonly sequences: SequenceTracker;
  private readonly errorTotals: Record<SflowErrorReason, number>;
  private readonly counts = {
    datagrams: 0,
    flowSamples: 0,
    counterSamples: 0,
    flows: 0,
    counterRecords: 0,
    discardedSamples: 0,
    agentDrops: 0,
  };
  private internalErrors = 0;
  private lastInternal: unknown;
  /** decode()'s records, made into messages before it returns. */
  private readonly messageRecords = new FlowRecords();

  constructor(limits: Partial<SflowLimits> = {}) {
    this.limits = Object.freeze({ ...DEFAULT_SFLOW_LIMITS, ...limits });
    checkLimits(this.limits);
    this.headers = new HeaderBatch(this.limits.headerBatch);
    this.slots = new SampleSlots(this.limits.headerBatch);
    this.sequences = new SequenceTracker(this.limits.maxSources);
    this.errorTotals = Object.fromEntries(SFLOW_ERROR_REASONS.map((r) => [r, 0])) as Record<SflowErrorReason, number>;
  }

  /** Whether raw packet headers can be decoded (the native addon is built). */
  get headersAvailable(): boolean {
    return this.headers.available;
  }

  /**
   * Decodes one UDP payload into messages, for what wants them (`flowlens collect`, tests):
   * decodeInto() and each record's message.
   */
  decode(datagram: Uint8Array, from: string, receivedMs: number): SflowDecodeResult {
    const records = this.messageRecords;
    records.clear();
    const { records: _, ...report } = this.decodeInto(datagram, from, receivedMs, records) as SflowDecodeOutput;
    const flows = records.messages();
    records.clear();
    return { flows, ...report };
  }

  /**
   * Decodes one UDP payload, adding its flows to `records`. `from` is the UDP source address,
   * the exporter when the agent address is "unknown"; receivedMs (when it arrived) is the
   * flows' time: sFlow carries none.
   */
  decodeInto(datagram: Uint8Array, from: string, receivedMs: number, records: FlowRecords): SflowDecodeReport {
    const out: SflowDecodeOutput = {
      records,
      counters: [],
      errors: {},
      agent: "",
      subAgent: 0,
      sequence: 0,
      lost: 0,
    };
    const before = records.length;
    this.counts.datagrams++;
    const evictions = this.sequences.evictions;
    try {
      this.datagram(datagram, from, receivedMs, out);
    } catch (e) {
      // Every path above checks its bounds; reaching this is a bug. Keep the collector alive
      // and make it visible.
      this.internalErrors++;
      this.lastInternal = e;
    }
    this.slots.count = 0;
    this.headers.reset();
    if (this.sequences.evictions > evictions)
      addSflowError(out.errors, "too_many_sources", this.sequences.evictions - evictions);
    for (const k in out.errors) {
      const r = k as SflowErrorReason;
      this.errorTotals[r] += out.errors[r] ?? 0;
    }
    this.counts.flows += records.length - before;
    this.counts.counterRecords += out.counters.length;
    return out;
  }

  private datagram(d: Uint8Array, from: string, receivedMs: number, out: SflowDecodeOutput): void {
    const e = out.errors;
    if (d.length < 8) {
      addSflowError(e, "truncated");
      return;
    }
    const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
    if (v.getUint32(0) !== 5) {
      addSflowError(e, "bad_version");
      return;
    }
    const addrType = v.getUint32(4);
    const addrLen = addrType === 1 ? 4 : addrType === 2 ? 16 : addrType === 0 ? 0 : -1;
    if (addrLen < 0) {
      addSflowError(e, "bad_address_type");
      return;
    }
    let p = 8 + addrLen;
    if (d.length < p + 16) {
      addSflowError(e, "truncated");
      return;
    }
    out.agent = addrType === 1 ? ipv4Text(d, 8) : addrType === 2 ? ipv6Text(d, 8) : from;
    out.subAgent = v.getUint32(p);
    out.sequence = v.getUint32(p + 4);
    const samples = v.getUint32(p + 12);
    p += 16;
    out.lost = this.sequences.observe(`${out.agent}/${out.subAgent}`, out.sequence);
    if (!plausibleCount(samples, d.length - p)) addSflowError(e, "bad_count");
    const ctx: DatagramContext = { bytes: d, view: v, agent: out.agent, subAgent: out.subAgent, receivedMs, out };
    let i = 0;
    let cut = false;
    for (; i < samples && p + 8 <= d.length; i++) {
      const format = v.getUint32(p);
      const len = v.getUint32(p + 4);
      const body = p + 8;
      if (len > d.length - body) {
        addSflowError(e, "truncated");
        cut = true;
        break;
      }
      const end = body + len;
      if (format >>> 12 !== 0) addSflowError(e, "unknown_sample");
      else {
        const type = format & 0xfff;
        if (type === SAMPLE_FLOW || type === SAMPLE_FLOW_EXPANDED)
          this.flowSample(ctx, body, end, type === SAMPLE_FLOW_EXPANDED);
        else if (type === SAMPLE_COUNTERS || type === SAMPLE_COUNTERS_EXPANDED)
          this.counterSample(ctx, body, end, type === SAMPLE_COUNTERS_EXPANDED);
        else addSflowError(e, "unknown_sample");
      }
      p = Math.min(d.length, body + align4(len));
    }
    if (!cut && i < samples && plausibleCount(samples, d.length)) addSflowError(e, "truncated");
    this.emit(ctx);
  }

  private flowSample(ctx: DatagramContext, p: number, end: number, expanded: boolean): void {
    const v = ctx.view;
    const e = ctx.out.errors;
    const fixed = expanded ? 44 : 32;
    if (end - p < fixed) {
      addSflowError(e, "truncated");
      return;
    }
    this.counts.flowSamples++;
    let rate = v.getUint32(p + (expanded ? 12 : 8));
    const drops = v.getUint32(p + (expanded ? 20 : 16));
    let inFmt: number;
    let inVal: number;
    let outFmt: number;
    let outVal: number;
    if (expanded) {
      inFmt = v.getUint32(p + 24);
      inVal = v.getUint32(p + 28);
      outFmt = v.getUint32(p + 32);
      outVal = v.getUint32(p + 36);
    } else {
      const i = v.getUint32(p + 20);
      const o = v.getUint32(p + 24);
      inFmt = i >>> 30;
      inVal = i & 0x3fffffff;
      outFmt = o >>> 30;
      outVal = o & 0x3fffffff;
    }
    const records = v.getUint32(p + fixed - 4);
    this.counts.agentDrops += drops;
    if (outFmt === 1) this.counts.discardedSamples++;
    if (rate === 0) {
      addSflowError(e, "bad_sampling_rate");
      rate = 1;
    }
    if (this.slots.count >= this.slots.capacity || this.headers.full) this.emit(ctx);
    const s = this.slots;
    const k = s.count++;
    s.rate[k] = rate;
    s.inIf[k] = ifIndexOf(inFmt, inVal);
    s.outIf[k] = ifIndexOf(outFmt, outVal);
    s.header[k] = -1;
    s.ip4[k] = -1;
    s.ip6[k] = -1;
    s.vlan[k] = -1;

    p += fixed;
    if (!plausibleCount(records, end - p)) addSflowError(e, "bad_count");
    let r = 0;
    for (; r < records && p + 8 <= end; r++) {
      const format = v.getUint32(p);
      const len = v.getUint32(p + 4);
      const body = p + 8;
      if (len > end - body) {
        addSflowError(e, "truncated");
        return;
      }
      const type = format >>> 12 === 0 ? format & 0xfff : -1;
      if (type === FLOW_RAW_HEADER) this.rawHeader(ctx, k, body, len);
      else if (type === FLOW_IPV4) {
        if (len < 32) addSflowError(e, "bad_length");
        else s.ip4[k] = body;
      } else if (type === FLOW_IPV6) {
        if (len < 56) addSflowError(e, "bad_length");
        else s.ip6[k] = body;
      } else if (type === FLOW_EXT_SWITCH) {
        if (len < 16) addSflowError(e, "bad_length");
        else {
          // 802.1Q ids are 1..4094; agents say "none" with 0 or all ones.
          const id = v.getUint32(body);
          s.vlan[k] = id > 0 && id < 4095 ? id : -1;
        }
      } else if (type < 0 || type < 1001 || type > 1003) {
        // Extended router (1002) and gateway (1003) carry next hops, masks and AS paths: the
        // flow record has no fields for them, so they are skipped like unknown ones, uncounted.
        addSflowError(e, "unknown_flow_record");
      }
      p = Math.min(end, body + align4(len));
    }
    if (r < records && plausibleCount(records, end)) addSflowError(e, "truncated");
  }

  /** Queues a raw packet header record's header for the native decoder. */
  private rawHeader(ctx: DatagramContext, k: number, body: number, len: number): void {
    const e = ctx.out.errors;
    if ((this.slots.header[k] as number) >= 0) return; // one packet per sample: the first header is it
    if (len < 16) {
      addSflowError(e, "bad_length");
      return;
    }
    const v = ctx.view;
    const link = linkTypeOf(v.getUint32(body));
    const headerLen = v.getUint32(body + 12);
    if (headerLen > len - 16) {
      addSflowError(e, "bad_length");
      return;
    }
    if (link < 0) {
      addSflowError(e, "unsupported_header_protocol");
      return;
    }
    if (!this.headers.available) {
      addSflowError(e, "native_unavailable");
      return;
    }
    this.slots.header[k] = this.headers.add(body + 16, headerLen, link);
  }

  private counterSample(ctx: DatagramContext, p: number, end: number, expanded: boolean): void {
    const v = ctx.view;
    const e = ctx.out.errors;
    const fixed = expanded ? 16 : 12;
    if (end - p < fixed) {
      addSflowError(e, "truncated");
      return;
    }
    this.counts.counterSamples++;
    const records = v.getUint32(p + fixed - 4);
    p += fixed;
    if (!plausibleCount(records, end - p)) addSflowError(e, "bad_count");
    let generic: InterfaceCounterSample | null = null;
    let ethernet: ReturnType<typeof readEthernetCounters> | null = null;
    let r = 0;
    for (; r < records && p + 8 <= end; r++) {
      const format = v.getUint32(p);
      const len = v.getUint32(p + 4);
      const body = p + 8;
      if (len > end - body) break; // counted below
      const type = format >>> 12 === 0 ? format & 0xfff : -1;
      if (type === COUNTERS_GENERIC) {
        if (len < GENERIC_COUNTERS_BYTES) addSflowError(e, "bad_length");
        else {
          generic = readGenericCounters(v, body, ctx.receivedMs);
          if (generic === null) addSflowError(e, "bad_value");
        }
      } else if (type === COUNTERS_ETHERNET) {
        if (len < ETHERNET_COUNTERS_BYTES) addSflowError(e, "bad_length");
        else ethernet = readEthernetCounters(v, body);
      } else {
        addSflowError(e, "unknown_counter_record");
      }
      p = Math.min(end, body + align4(len));
    }
    if (r < records && plausibleCount(records, end)) addSflowError(e, "truncated");
    if (generic !== null) {
      generic.exporter = ctx.agent;
      if (ethernet !== null) generic.counters.ethernet = ethernet;
      ctx.out.counters.push(generic);
    }
  }

  /** Decodes the queued headers and turns every queued sample into a flow. */
  private emit(ctx: DatagramContext): void {
    const s = this.slots;
    const h = this.headers;
    if (s.count === 0) return;
    h.run(ctx.bytes);
    for (let k = 0; k < s.count; k++) {
      const slot = s.header[k] as number;
      let added = false;
      if (slot >= 0) {
        const r = h.result(slot);
        if (r === 0) added = this.headerFlow(ctx, k, slot);
        else addSflowError(ctx.out.errors, `header_${h.resultNames[r] ?? "not_ip"}` as SflowErrorReason);
      }
      if (!added && (s.ip4[k] as number) >= 0) added = this.dataFlow(ctx, k, s.ip4[k] as number, false);
      if (!added && (s.ip6[k] as number) >= 0) added = this.dataFlow(ctx, k, s.ip6[k] as number, true);
      if (!added && slot < 0) addSflowError(ctx.out.errors, "no_address");
    }
    s.count = 0;
    h.reset();
  }

  /** Adds the flow of a sample whose raw header decoded: addresses and ports as the probe reads them. */
  private headerFlow(ctx: DatagramContext, k: number, slot: number): boolean {
    const h = this.headers;
    const b = h.bytes;
    const base = h.base(slot);
    const ipv6 = h.ipVersion(slot) === 6;
    const src = base + h.oSrc;
    const dst = base + h.oDst;
    const vlan = h.vlan(slot);
    return this.flow(
      ctx,
      k,
      b,
      src,
      dst,
      ipv6,
      h.proto(slot),
      h.sport(slot),
      h.dport(slot),
      h.tcpFlags(slot),
      vlan !== 0 ? vlan : Math.max(this.slots.vlan[k] as number, 0),
      h.ipLen(slot),
    );
  }

  /** Adds the flow of a sampled IPv4 (type 3) or IPv6 (type 4) data record at `p`. */
  private dataFlow(ctx: DatagramContext, k: number, p: number, ipv6: boolean): boolean {
    const v = ctx.view;
    const alen = ipv6 ? 16 : 4;
    const proto = v.getUint32(p + 4) & 0xff;
    const ports = p + 8 + 2 * alen;
    let sport = v.getUint32(ports) & 0xffff;
    let dport = v.getUint32(ports + 4) & 0xffff;
    if (proto === PROTO_ICMP || proto === PROTO_ICMP6) {
      // Agents put the ICMP type and code where the ports would be: DESIGN.md wants type*256+code.
      dport = ((sport & 0xff) << 8) | (dport & 0xff);
      sport = 0;
    }
    return this.flow(
      ctx,
      k,
      ctx.bytes,
      p + 8,
      p + 8 + alen,
      ipv6,
      proto,
      sport,
      dport,
      v.getUint32(ports + 8) & 0xff,
      Math.max(this.slots.vlan[k] as number, 0),
      v.getUint32(p),
    );
  }

  private flow(
    ctx: DatagramContext,
    k: number,
    b: Uint8Array,
    srcOff: number,
    dstOff: number,
    ipv6: boolean,
    proto: number,
    srcPort: number,
    dstPort: number,
    tcpFlags: number,
    vlan: number,
    ipBytes: number,
  ): boolean {
    const rate = this.slots.rate[k] as number;
    if (ipBytes * rate > MAX) {
      addSflowError(ctx.out.errors, "bad_value");
      return false;
    }
    const icmp = proto === PROTO_ICMP || proto === PROTO_ICMP6;
    const records = ctx.out.records;
    const f = records.next();
    const t = Math.trunc(ctx.receivedMs) + 0;
    f.srcPort = srcPort;
    f.dstPort = dstPort;
    f.proto = proto;
    f.ipVersion = ipv6 ? 6 : 4;
    f.vlan = vlan;
    f.firstSeenMs = t;
    f.lastSeenMs = t;
    f.srcToDstPackets = rate;
    f.srcToDstBytes = ipBytes * rate;
    f.dstToSrcPackets = 0;
    f.dstToSrcBytes = 0;
    f.srcTcpFlags = proto === 6 ? tcpFlags : 0;
    f.dstTcpFlags = 0;
    f.l7 = "Unknown";
    resetProbeFields(f);
    // One sampled packet: its flow's other direction, if sampled, is another record.
    f.oneWay = true;
    f.endReason = pb.EndReason.END_REASON_UNSPECIFIED;
    f.exporter = ctx.agent;
    f.observationDomain = ctx.subAgent;
    f.exportVersion = pb.ExportVersion.EXPORT_VERSION_SFLOW_V5;
    f.samplingRate = rate;
    f.rawPackets = 1;
    f.rawBytes = ipBytes;
    f.inIf = this.slots.inIf[k] as number;
    f.outIf = this.slots.outIf[k] as number;
    const cid = this.limits.communityId
      ? records.communityId(
          b,
          srcOff,
          dstOff,
          ipv6,
          proto,
          icmp ? dstPort >>> 8 : srcPort,
          icmp ? dstPort & 0xff : dstPort,
        )
      : "";
    records.commit(f, b, srcOff, dstOff, ipv6, cid);
    return true;
  }

  stats(): SflowStats {
    return {
      ...this.counts,
      datagramsLost: this.sequences.lost,
      errors: { ...this.errorTotals },
      sources: this.sequences.stats(),
    };
  }

  /** Exceptions swallowed by decode(): always 0 unless the decoder has a bug. */
  get internalErrorCount(): number {
    return this.internalErrors;
  }

  /** The last exception swallowed by decode(), for the test or log that found a count above 0. */
  get lastInternalError(): unknown {
    return this.lastInternal;
  }
}
