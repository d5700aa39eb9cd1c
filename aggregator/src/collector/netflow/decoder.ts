// The NetFlow v5 / v9 / IPFIX decoder of the collector: datagram in, flows out. Pure (no I/O,
// time from an injected clock), bounded in memory by its limits, and total: any byte sequence
// yields a result with counted errors, never an exception.

import { FlowRecords } from "../flow-records.js";
import { SequenceTracker } from "../sflow/sequence.js";
import { DECODE_ERROR_REASONS, type DecodeErrorReason, NetflowConfigError } from "./errors.js";
import { fieldName } from "./fields.js";
import { decodeIpfix, IPFIX_HEADER } from "./ipfix.js";
import { RecordFields } from "./record.js";
import { RecordSequenceTracker } from "./record-sequence.js";
import { type DecodeOutput, type DecodeReport, type DecodeResult, type MessageContext, SetDecoder } from "./sets.js";
import type { RecordContext } from "./to-flow.js";
import { decodeV5Records, readV5Header } from "./v5.js";
import { decodeV9, V9_HEADER } from "./v9.js";

export interface NetflowLimits {
  /** Exporter/domain pairs whose templates and sampling rates are kept (LRU beyond). */
  maxSources: number;
  /** Templates (data and options) per source (LRU beyond). */
  maxTemplatesPerSource: number;
  /** Field specifiers in one template; a larger template is refused. */
  maxFieldsPerTemplate: number;
  /** Field specifiers over all templates: the memory bound of the template cache. */
  maxTemplateFieldsTotal: number;
  /** Data sets buffered while their template is unknown (each holds one or more records). */
  pendingSetsMax: number;
  /** Bytes of buffered data sets. */
  pendingBytesMax: number;
  /** How long a buffered data set waits for its template, by the decoder's clock. */
  pendingMs: number;
  /** Compute the Community ID of every flow. */
  communityId: boolean;
}

export const DEFAULT_NETFLOW_LIMITS: Readonly<NetflowLimits> = Object.freeze({
  maxSources: 4096,
  maxTemplatesPerSource: 512,
  maxFieldsPerTemplate: 512,
  maxTemplateFieldsTotal: 1 << 20,
  pendingSetsMax: 1024,
  pendingBytesMax: 4 << 20,
  pendingMs: 30_000,
  communityId: true,
});

/** Milliseconds since the epoch (Date.now, or the capture clock when replaying a file). */
export type Clock = () => number;

export interface SourceStats {
  exporter: string;
  exportVersion: 5 | 9 | 10;
  observationDomain: number;
  templates: number;
  optionsTemplates: number;
  samplingRates: { samplerId: number | null; rate: number }[];
  lastSeenMs: number;
}

export interface NetflowStats {
  datagrams: number;
  /** Flows produced (v5, v9 and IPFIX data records with addresses). */
  recordsDecoded: number;
  /** Options data records decoded. */
  optionsRecords: number;
  templates: number;
  templateFields: number;
  /** NetFlow v9 datagrams lost on the way, by the exporters' packet sequence numbers. */
  datagramsLost: number;
  /** IPFIX data records lost on the way, by the exporters' message sequence numbers. */
  recordsLost: number;
  pendingSets: number;
  pendingBytes: number;
  errors: Record<DecodeErrorReason, number>;
  /** Enterprise elements this decoder does not interpret, counted once per template definition. */
  unknownFields: { pen: number; id: number; name: string; templates: number }[];
  sources: SourceStats[];
}

export type { DecodeReport, DecodeResult, OptionsRecord } from "./sets.js";

function checkLimits(l: NetflowLimits): void {
  for (const k of ["maxSources", "maxTemplatesPerSource", "maxFieldsPerTemplate", "maxTemplateFieldsTotal"] as const) {
    if (!Number.isInteger(l[k]) || l[k] < 1) throw new NetflowConfigError(`netflow limit ${k} must be an integer >= 1`);
  }
  for (const k of ["pendingSetsMax", "pendingBytesMax", "pendingMs"] as const) {
    if (!Number.isFinite(l[k]) || l[k] < 0) throw new NetflowConfigError(`netflow limit ${k} must be >= 0`);
  }
}

export class NetflowDecoder {
  readonly limits: Readonly<NetflowLimits>;
  private readonly sets: SetDecoder;
  private readonly scratch = new RecordFields();
  /** decode()'s records, made into messages before it returns. */
  private readonly messageRecords = new FlowRecords();
  /** decodeInto()'s output, reused datagram after datagram. */
  private readonly out: DecodeOutput = {
    records: this.messageRecords,
    options: [],
    templatesLearned: 0,
    templatesWithdrawn: 0,
    releasedRecords: 0,
    datagramsLost: 0,
    recordsLost: 0,
    errors: {},
  };
  private errorsUsed = false;
  /** NetFlow v9 packet sequences per exporter and source id. */
  private readonly v9Sequences: SequenceTracker;
  /** IPFIX message sequences per exporter and observation domain. */
  private readonly ipfixSequences: RecordSequenceTracker;
  private readonly errorTotals: Record<DecodeErrorReason, number>;
  private datagrams = 0;
  private v5Records = 0;
  /** Exceptions caught at the top: a decoder bug, not bad input. Kept apart so tests see them. */
  private internalErrors = 0;
  private lastInternal: unknown;

  constructor(
    limits: Partial<NetflowLimits> = {},
    private readonly clock: Clock = Date.now,
  ) {
    this.limits = Object.freeze({ ...DEFAULT_NETFLOW_LIMITS, ...limits });
    checkLimits(this.limits);
    this.sets = new SetDecoder(this.limits);
    this.v9Sequences = new SequenceTracker(this.limits.maxSources);
    this.ipfixSequences = new RecordSequenceTracker(this.limits.maxSources);
    this.errorTotals = Object.fromEntries(DECODE_ERROR_REASONS.map((r) => [r, 0])) as Record<DecodeErrorReason, number>;
  }

  /**
   * Decodes one UDP payload from `exporter` (its IP address as text) into messages, for what
   * wants them (`flowlens collect`, tests): decodeInto() and each record's message.
   */
  decode(datagram: Uint8Array, exporter: string, receivedMs: number): DecodeResult {
    const records = this.messageRecords;
    records.clear();
    const report = this.decodeInto(datagram, exporter, receivedMs, records);
    const flows = records.messages();
    records.clear();
    return {
      flows,
      options: [...report.options],
      templatesLearned: report.templatesLearned,
      templatesWithdrawn: report.templatesWithdrawn,
      releasedRecords: report.releasedRecords,
      datagramsLost: report.datagramsLost,
      recordsLost: report.recordsLost,
      errors: { ...report.errors },
    };
  }

  /**
   * Decodes one UDP payload from `exporter` (its IP address as text), adding its flows to
   * `records`. receivedMs is when it arrived; it anchors nothing in the records (their times
   * come from the export headers). The report is reused by the next call.
   */
  decodeInto(datagram: Uint8Array, exporter: string, receivedMs: number, records: FlowRecords): DecodeReport {
    const out = this.out;
    out.records = records;
    out.options.length = 0;
    out.templatesLearned = 0;
    out.templatesWithdrawn = 0;
    out.releasedRecords = 0;
    out.datagramsLost = 0;
    out.recordsLost = 0;
    if (this.errorsUsed) {
      out.errors = {};
      this.errorsUsed = false;
    }
    this.datagrams++;
    const now = this.clock();
    try {
      this.sets.pending.expire(now, out.errors);
      this.dispatch(datagram, exporter, receivedMs, now, out);
      this.sets.drainEvictionErrors(out.errors);
    } catch (e) {
      // Every path above checks its bounds; reaching this is a bug. Keep the collector alive
      // and make it visible. (A record is added whole or not at all.)
      this.internalErrors++;
      this.lastInternal = e;
    }
    for (const k in out.errors) {
      const r = k as DecodeErrorReason;
      this.errorTotals[r] += out.errors[r] ?? 0;
      this.errorsUsed = true;
    }
    return out;
  }

  private dispatch(d: Uint8Array, exporter: string, receivedMs: number, now: number, out: DecodeOutput): void {
    if (d.length < 2) {
      out.errors.truncated = 1;
      return;
    }
    const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const version = view.getUint16(0);
    if (version === 5) this.decodeV5(d, view, exporter, now, out);
    else if (version === 9) this.decodeV9(d, view, exporter, receivedMs, now, out);
    else if (version === 10) this.decodeIpfixMessages(d, exporter, receivedMs, now, out);
    else out.errors.bad_version = 1;
  }

  private decodeV5(d: Uint8Array, view: DataView, exporter: string, now: number, out: DecodeOutput): void {
    const h = readV5Header(d, view, out.errors);
    if (!h) return;
    // engine_type/engine_id identify the flow cache that exported: v5's observation domain.
    const domain = (h.engineType << 8) | h.engineId;
    const source = this.sets.cache.source(exporter, 5, domain, now, out.errors);
    source.sampling.learn(-1, h.samplingRate);
    const ctx: RecordContext = {
      bytes: d,
      exporter,
      version: 5,
      domain,
      exportMs: h.exportMs,
      sysUptimeMs: h.sysUptimeMs,
      systemInitMs: -1,
      communityId: this.limits.communityId,
    };
    this.v5Records += decodeV5Records(h, view, ctx, this.scratch, out.records, out.errors);
  }

  private decodeV9(
    d: Uint8Array,
    view: DataView,
    exporter: string,
    receivedMs: number,
    now: number,
    out: DecodeOutput,
  ): void {
    if (d.length < V9_HEADER) {
      out.errors.truncated = 1;
      return;
    }
    const domain = view.getUint32(16);
    const ctx: MessageContext = {
      bytes: d,
      view,
      exporter,
      version: 9,
      domain,
      exportMs: view.getUint32(8) * 1000,
      sysUptimeMs: view.getUint32(4),
      systemInitMs: -1,
      communityId: this.limits.communityId,
      source: this.sets.cache.source(exporter, 9, domain, now, out.errors),
      receivedMs,
      nowMs: now,
    };
    decodeV9(this.sets, ctx, out);
    out.datagramsLost += this.v9Sequences.observe(`${exporter}/${domain}`, view.getUint32(12));
  }

  /** One IPFIX message per datagram is the rule; several back to back are decoded in turn. */
  private decodeIpfixMessages(
    d: Uint8Array,
    exporter: string,
    receivedMs: number,
    now: number,
    out: DecodeOutput,
  ): void {
    let off = 0;
    while (off < d.length) {
      const rest = d.subarray(off);
      if (rest.length < IPFIX_HEADER) {
        out.errors.truncated = (out.errors.truncated ?? 0) + 1;
        return;
      }
      const view = new DataView(rest.buffer, rest.byteOffset, rest.byteLength);
      if (view.getUint16(0) !== 10) {
        out.errors.bad_version = (out.errors.bad_version ?? 0) + 1;
        return;
      }
      const len = view.getUint16(2);
      if (len < IPFIX_HEADER) {
        out.errors.bad_length = (out.errors.bad_length ?? 0) + 1;
        return;
      }
      if (len > rest.length) {
        out.errors.truncated = (out.errors.truncated ?? 0) + 1;
        return;
      }
      const msg = rest.subarray(0, len);
      const domain = view.getUint32(12);
      const ctx: MessageContext = {
        bytes: msg,
        view: new DataView(msg.buffer, msg.byteOffset, msg.byteLength),
        exporter,
        version: 10,
        domain,
        exportMs: view.getUint32(4) * 1000,
        sysUptimeMs: -1,
        systemInitMs: -1,
        communityId: this.limits.communityId,
        source: this.sets.cache.source(exporter, 10, domain, now, out.errors),
        receivedMs,
        nowMs: now,
      };
      const sets = this.sets;
      sets.messageRecords = 0;
      sets.messageFlowRecords = 0;
      decodeIpfix(sets, ctx, len, out);
      const known = sets.messageRecords >= 0;
      out.recordsLost += this.ipfixSequences.observe(
        `${exporter}/${domain}`,
        view.getUint32(8),
        sets.messageRecords,
        known ? sets.messageFlowRecords : -1,
      );
      off += len;
    }
  }

  stats(): NetflowStats {
    const sources: SourceStats[] = [];
    for (const s of this.sets.cache.allSources()) {
      let options = 0;
      for (const p of s.templates.values()) if (p.options) options++;
      sources.push({
        exporter: s.exporter,
        exportVersion: s.version,
        observationDomain: s.domain,
        templates: s.templates.size - options,
        optionsTemplates: options,
        samplingRates: s.sampling.entries(),
        lastSeenMs: s.lastSeenMs,
      });
    }
    const unknownFields = [...this.sets.unknownFields].map(([k, templates]) => {
      const [pen, id] = k.split(".").map(Number) as [number, number];
      return { pen, id, name: fieldName(pen, id), templates };
    });
    return {
      datagrams: this.datagrams,
      recordsDecoded: this.sets.recordsDecoded + this.v5Records,
      optionsRecords: this.sets.optionsRecords,
      templates: this.sets.cache.templateCount,
      templateFields: this.sets.cache.fieldCount,
      datagramsLost: this.v9Sequences.lost,
      recordsLost: this.ipfixSequences.lost,
      pendingSets: this.sets.pending.sets,
      pendingBytes: this.sets.pending.byteCount,
      errors: { ...this.errorTotals },
      unknownFields,
      sources,
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
