// A flow record as the live state takes it in: the protobuf Flow with every number a plain
// number (uint64 counters as Number() of the wire value, as the state always counted them) and
// the full record kept by reference, either as its encoded bytes or as the decoded message.
//
// The ingest hot path decodes batches straight into these (ingest/batch-decoder.ts), reusing
// the objects batch after batch, so that a record costs no BigInt and no object of its own;
// the in-process path (`flowlens up`) and tests fill them from ts-proto messages. Nothing may
// keep a reference to one past the applyBatch call it was given to.
import { Buffer } from "node:buffer";
import { pb } from "@flowlens/contracts";
import { count } from "./num.js";

/** Latency fields of a record that did not measure them. */
export const ABSENT = -1;

const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

interface Latin1Slice {
  latin1Slice(start: number, end: number): string;
}

/**
 * A protobuf string field's bytes as the string BinaryReader makes of them: UTF-8, U+FFFD for
 * bad sequences, a leading BOM kept.
 */
export function wireText(buf: Uint8Array, start: number, end: number): string {
  for (let i = start; i < end; i++) {
    if ((buf[i] as number) >= 0x80) return utf8.decode(buf.subarray(start, end));
  }
  // Buffer's own method behind toString("latin1"), without its argument checks.
  if (buf instanceof Buffer) return (buf as unknown as Latin1Slice).latin1Slice(start, end);
  return utf8.decode(buf.subarray(start, end));
}

export class IngestFlow {
  /**
   * Addresses as bytes [start, end) of `buf` when the record came encoded (-1 otherwise): the
   * host table looks hosts up by them, and their strings are only made when asked for.
   */
  srcAddrStart = -1;
  srcAddrEnd = -1;
  dstAddrStart = -1;
  dstAddrEnd = -1;
  private srcAddrText: string | null = "";
  private dstAddrText: string | null = "";
  srcPort = 0;
  dstPort = 0;
  proto = 0;
  ipVersion = 0;
  vlan = 0;
  firstSeenMs = 0;
  lastSeenMs = 0;
  srcToDstPackets = 0;
  srcToDstBytes = 0;
  dstToSrcPackets = 0;
  dstToSrcBytes = 0;
  srcTcpFlags = 0;
  dstTcpFlags = 0;
  l7 = "";
  l7Category = "";
  /** ABSENT when the record does not carry it; otherwise >= 0. */
  clientNwLatencyUs = ABSENT;
  serverNwLatencyUs = ABSENT;
  applLatencyUs = ABSENT;
  srcRetransmits = 0;
  dstRetransmits = 0;
  srcOutOfOrder = 0;
  dstOutOfOrder = 0;
  endReason = 0;
  /** The Community ID as bytes [start, end) of `buf` when the record came encoded (-1 otherwise). */
  communityIdStart = -1;
  communityIdEnd = -1;
  private communityIdText: string | null = "";
  exporter = "";
  observationDomain = 0;
  exportVersion = 0;
  samplingRate = 0;
  rawPackets = 0;
  rawBytes = 0;
  inIf = 0;
  outIf = 0;
  /** FlowInfo's dnsRcode; ABSENT when the record has none. */
  dnsRcode = ABSENT;
  /**
   * FlowInfo's risks (nDPI names): the first `riskCount` entries. The array is reused record
   * after record, and its strings come from the decoder's name cache.
   */
  readonly risks: string[] = [];
  riskCount = 0;
  /**
   * The record has one direction of its flow only, by nature: a NetFlow v5/v9 or IPFIX record
   * without reverse elements, an sFlow packet sample. Its reply, if there was one, is another
   * record, so that "no packets back" says nothing about whether it was answered. Not on the
   * wire: the collector knows it, and agents' flows are both directions.
   */
  oneWay = false;
  /**
   * The encoded record: bytes [start, end) of `buf` decode with pb.Flow.decode to the message
   * the record is. Null when the record came as a message.
   */
  buf: Uint8Array | null = null;
  start = 0;
  end = 0;
  /** The record as a message, when it came as one. */
  message: pb.Flow | null = null;

  get srcAddr(): string {
    if (this.srcAddrText === null)
      this.srcAddrText = wireText(this.buf as Uint8Array, this.srcAddrStart, this.srcAddrEnd);
    return this.srcAddrText;
  }

  set srcAddr(s: string) {
    this.srcAddrText = s;
    this.srcAddrStart = -1;
    this.srcAddrEnd = -1;
  }

  get dstAddr(): string {
    if (this.dstAddrText === null)
      this.dstAddrText = wireText(this.buf as Uint8Array, this.dstAddrStart, this.dstAddrEnd);
    return this.dstAddrText;
  }

  set dstAddr(s: string) {
    this.dstAddrText = s;
    this.dstAddrStart = -1;
    this.dstAddrEnd = -1;
  }

  get communityId(): string {
    if (this.communityIdText === null) {
      this.communityIdText = wireText(this.buf as Uint8Array, this.communityIdStart, this.communityIdEnd);
    }
    return this.communityIdText;
  }

  set communityId(s: string) {
    this.communityIdText = s;
    this.communityIdStart = -1;
    this.communityIdEnd = -1;
  }

  setCommunityIdBytes(start: number, end: number): void {
    this.communityIdStart = start;
    this.communityIdEnd = end;
    this.communityIdText = null;
  }

  /** The source address is buf[start, end), its string to be made only if asked for. */
  setSrcAddrBytes(start: number, end: number): void {
    this.srcAddrStart = start;
    this.srcAddrEnd = end;
    this.srcAddrText = null;
  }

  setDstAddrBytes(start: number, end: number): void {
    this.dstAddrStart = start;
    this.dstAddrEnd = end;
    this.dstAddrText = null;
  }

  /**
   * Whether the addresses are 1 to 64 characters, judged without making their strings when
   * possible: non-empty UTF-8 has at least one character and at most as many as bytes.
   */
  addressesValid(): boolean {
    const s = this.srcAddrText;
    const d = this.dstAddrText;
    const sn = this.srcAddrEnd - this.srcAddrStart;
    const dn = this.dstAddrEnd - this.dstAddrStart;
    const srcOk = s !== null ? s.length > 0 && s.length <= 64 : sn > 0 && (sn <= 64 || this.srcAddr.length <= 64);
    return srcOk && (d !== null ? d.length > 0 && d.length <= 64 : dn > 0 && (dn <= 64 || this.dstAddr.length <= 64));
  }

  /** The full record (decoded from its bytes when it came encoded). */
  toMessage(): pb.Flow {
    if (this.message !== null) return this.message;
    return pb.Flow.decode((this.buf as Uint8Array).subarray(this.start, this.end));
  }

  /** firstSeenMs exactly, as the wire has it (the number rounds beyond 2^53). */
  exactFirstSeenMs(): bigint {
    return Number.isSafeInteger(this.firstSeenMs) ? BigInt(this.firstSeenMs) : this.toMessage().firstSeenMs;
  }

  /** Fills this from a decoded message (kept by reference). */
  fromMessage(f: pb.Flow): this {
    this.oneWay = false;
    // A hand-made message may lack them: "" is no address either.
    this.srcAddr = f.srcAddr ?? "";
    this.srcPort = f.srcPort;
    this.dstAddr = f.dstAddr ?? "";
    this.dstPort = f.dstPort;
    this.proto = f.proto;
    this.ipVersion = f.ipVersion;
    this.vlan = f.vlan;
    this.firstSeenMs = Number(f.firstSeenMs);
    this.lastSeenMs = Number(f.lastSeenMs);
    this.srcToDstPackets = Number(f.srcToDstPackets);
    this.srcToDstBytes = Number(f.srcToDstBytes);
    this.dstToSrcPackets = Number(f.dstToSrcPackets);
    this.dstToSrcBytes = Number(f.dstToSrcBytes);
    this.srcTcpFlags = f.srcTcpFlags;
    this.dstTcpFlags = f.dstTcpFlags;
    this.l7 = f.l7;
    this.l7Category = f.l7Category;
    this.clientNwLatencyUs = f.clientNwLatencyUs === undefined ? ABSENT : count(f.clientNwLatencyUs);
    this.serverNwLatencyUs = f.serverNwLatencyUs === undefined ? ABSENT : count(f.serverNwLatencyUs);
    this.applLatencyUs = f.applLatencyUs === undefined ? ABSENT : count(f.applLatencyUs);
    this.srcRetransmits = f.srcRetransmits;
    this.dstRetransmits = f.dstRetransmits;
    this.srcOutOfOrder = f.srcOutOfOrder;
    this.dstOutOfOrder = f.dstOutOfOrder;
    this.endReason = f.endReason;
    this.communityId = f.communityId ?? "";
    this.exporter = f.exporter;
    this.observationDomain = f.observationDomain;
    this.exportVersion = f.exportVersion;
    this.samplingRate = Number(f.samplingRate);
    this.rawPackets = Number(f.rawPackets);
    this.rawBytes = Number(f.rawBytes);
    this.inIf = f.inIf;
    this.outIf = f.outIf;
    this.dnsRcode = f.info?.dnsRcode ?? ABSENT;
    const risks = f.info?.risks ?? [];
    for (let i = 0; i < risks.length; i++) this.risks[i] = risks[i] as string;
    this.riskCount = risks.length;
    this.buf = null;
    this.start = 0;
    this.end = 0;
    this.message = f;
    return this;
  }
}

/** Records filled from messages, reused from batch to batch (applyBatch, the pipeline). */
export class MessageViews {
  readonly views: IngestFlow[] = [];

  /** Fills a view per message (null and undefined entries skipped); returns how many. */
  fill(flows: readonly pb.Flow[]): number {
    const views = this.views;
    let n = 0;
    for (let i = 0; i < flows.length; i++) {
      const f = flows[i];
      if (f === undefined || f === null) continue;
      let v = views[n];
      if (v === undefined) {
        v = new IngestFlow();
        views.push(v);
      }
      v.fromMessage(f);
      n++;
    }
    return n;
  }

  /** Lets go of the messages, and of a huge batch's worth of views. */
  release(n: number): void {
    const views = this.views;
    for (let i = 0; i < n && i < views.length; i++) (views[i] as IngestFlow).message = null;
    if (views.length > 4096) views.length = 4096;
  }
}
