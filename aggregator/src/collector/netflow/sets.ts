// What NetFlow v9 and IPFIX share below the message header: template and options-template
// records (parsed, checked, compiled, stored), and data sets (decoded with their plan, turned
// into flows or into sampling knowledge, or buffered until their template arrives).
import type { pb } from "@flowlens/contracts";
import type { FlowRecords } from "../flow-records.js";
import { addError, type ErrorCounts } from "./errors.js";
import { nativePlan } from "./native-set.js";
import { PendingBuffer, type PendingLimits } from "./pending.js";
import { RecordFields } from "./record.js";
import { ANY_SAMPLER, rateFromFields } from "./sampling.js";
import { compileTemplate, type FieldSpec, type Plan } from "./template.js";
import { type Source, TemplateCache, type TemplateCacheLimits } from "./template-cache.js";
import { type RecordContext, toFlow } from "./to-flow.js";

/** What an options data record taught the decoder. */
export interface OptionsRecord {
  exporter: string;
  exportVersion: 9 | 10;
  observationDomain: number;
  templateId: number;
  /** samplerId (48) or selectorId (302) of the record, if it has one. */
  samplerId: number | null;
  /** 1-in-N sampling rate the record describes, if any. */
  samplingRate: number | null;
  /** IPFIX systemInitTimeMilliseconds, if the record carries it. */
  systemInitTimeMs: number | null;
}

/** What one datagram taught the decoder besides its flows. */
export interface DecodeReport {
  options: OptionsRecord[];
  /** Templates new or changed in this datagram (options templates included). */
  templatesLearned: number;
  templatesWithdrawn: number;
  /** Records decoded from data sets that had been waiting for their template. */
  releasedRecords: number;
  /** Change to the exporter's lost NetFlow v9 datagrams (by packet sequence numbers). */
  datagramsLost: number;
  /** Change to the exporter's lost IPFIX data records (by message sequence numbers). */
  recordsLost: number;
  errors: ErrorCounts;
}

/** The output of one decode() call: the flows as messages. */
export interface DecodeResult extends DecodeReport {
  flows: pb.Flow[];
}

/** Where the sets of a datagram are decoded to: its flows go to `records`. */
export interface DecodeOutput extends DecodeReport {
  records: FlowRecords;
}

export interface SetDecoderLimits extends TemplateCacheLimits, PendingLimits {
  maxFieldsPerTemplate: number;
  communityId: boolean;
}

/** The per-message state a set needs: where its bytes are and what its times are relative to. */
export interface MessageContext extends RecordContext {
  view: DataView;
  version: 9 | 10;
  source: Source;
  receivedMs: number;
  nowMs: number;
}

export class SetDecoder {
  readonly cache: TemplateCache;
  readonly pending: PendingBuffer;
  private readonly scratch = new RecordFields();
  /** What FlowRecords.addSet found no flow in: no address, bad values. */
  private readonly setCounts = new Int32Array(2);
  /** Unknown enterprise elements by "pen.id", counted per template definition (bounded). */
  readonly unknownFields = new Map<string, number>();
  recordsDecoded = 0;
  optionsRecords = 0;
  /**
   * Data records in the data sets of the message being decoded (what IPFIX sequence numbers
   * count), or -1 once one of its sets could not be counted (waiting for its template, cut).
   */
  messageRecords = 0;
  /** The same, options data records left out (what some exporters count instead). */
  messageFlowRecords = 0;
  /** Records cut short by the end of their set, ever. */
  private truncations = 0;
  private evictedErrors: ErrorCounts = {};
  private evicted = false;

  constructor(private readonly limits: SetDecoderLimits) {
    this.pending = new PendingBuffer(limits);
    this.cache = new TemplateCache(limits, (s) => {
      this.evicted = true;
      this.pending.dropSource(s.key, this.evictedErrors);
    });
  }

  /** Errors from source evictions, which happen outside any one set's bookkeeping. */
  drainEvictionErrors(into: ErrorCounts): void {
    if (!this.evicted) return;
    this.evicted = false;
    for (const [k, n] of Object.entries(this.evictedErrors)) addError(into, k as keyof ErrorCounts, n);
    this.evictedErrors = {};
  }

  private noteUnknown = (pen: number, id: number): void => {
    const k = `${pen}.${id}`;
    const n = this.unknownFields.get(k);
    if (n !== undefined) this.unknownFields.set(k, n + 1);
    else if (this.unknownFields.size < 1024) this.unknownFields.set(k, 1);
  };

  /**
   * A template set (v9 set 0, IPFIX set 2) or options template set (v9 set 1, IPFIX set 3)
   * spanning [start, end). Stops at the first record it cannot parse: without its length the
   * rest of the set cannot be found.
   */
  templateSet(ctx: MessageContext, start: number, end: number, options: boolean, out: DecodeOutput): void {
    const v = ctx.view;
    let pos = start;
    const ipfix = ctx.version === 10;
    // Each record starts with at least 4 bytes (IPFIX withdrawal) or 6 (v9 options); less is padding.
    while (end - pos >= 4) {
      const templateId = v.getUint16(pos);
      let total: number;
      let scopeCount = 0;
      let hdr: number;
      if (!options) {
        total = v.getUint16(pos + 2);
        hdr = 4;
      } else if (ipfix) {
        total = v.getUint16(pos + 2);
        if (total === 0) {
          hdr = 4;
        } else {
          if (end - pos < 6) {
            addError(out.errors, "truncated");
            return;
          }
          scopeCount = v.getUint16(pos + 4);
          hdr = 6;
        }
      } else {
        if (end - pos < 6) return; // padding
        const scopeLen = v.getUint16(pos + 2);
        const optLen = v.getUint16(pos + 4);
        if (scopeLen % 4 !== 0 || optLen % 4 !== 0) {
          addError(out.errors, "bad_template");
          return;
        }
        scopeCount = scopeLen / 4;
        total = scopeCount + optLen / 4;
        hdr = 6;
        if (templateId === 0 && total === 0) return; // zero padding
      }
      if (ipfix && total === 0) {
        this.withdraw(ctx, templateId, options, out);
        pos += 4;
        continue;
      }
      if (templateId < 256) {
        // v9 pads template sets with zeros; a zero id with zero fields is that padding.
        if (!ipfix && templateId === 0 && total === 0) return;
        addError(out.errors, "bad_template");
        return;
      }
      if (total === 0 || (options && ipfix && (scopeCount === 0 || scopeCount > total))) {
        addError(out.errors, "bad_template");
        return;
      }
      pos += hdr;
      const fields: FieldSpec[] = [];
      for (let i = 0; i < total; i++) {
        if (pos + 4 > end) {
          addError(out.errors, "truncated");
          return;
        }
        let id = v.getUint16(pos);
        const length = v.getUint16(pos + 2);
        pos += 4;
        let pen = 0;
        if (ipfix && id & 0x8000) {
          if (pos + 4 > end) {
            addError(out.errors, "truncated");
            return;
          }
          id &= 0x7fff;
          pen = v.getUint32(pos);
          pos += 4;
        }
        // Parsing goes on past the limit only to find where the next template starts.
        if (fields.length < this.limits.maxFieldsPerTemplate) fields.push({ id, length, pen, scope: i < scopeCount });
      }
      if (total > this.limits.maxFieldsPerTemplate) {
        addError(out.errors, "too_many_fields");
        continue;
      }
      const plan = compileTemplate(templateId, options, fields, ctx.version, out.errors, this.noteUnknown);
      this.learn(ctx, plan, out);
    }
  }

  private withdraw(ctx: MessageContext, templateId: number, options: boolean, out: DecodeOutput): void {
    // RFC 7011 8.1: the set's own id as template id withdraws every template of that kind.
    if (templateId === (options ? 3 : 2)) {
      out.templatesWithdrawn += this.cache.withdrawAll(ctx.source, options);
    } else if (templateId >= 256 && this.cache.withdraw(ctx.source, templateId)) {
      out.templatesWithdrawn++;
    } else if (templateId < 256) {
      addError(out.errors, "bad_template");
    }
  }

  private learn(ctx: MessageContext, plan: Plan, out: DecodeOutput): void {
    const r = this.cache.put(ctx.source, plan, out.errors);
    if (r !== "same") out.templatesLearned++;
    const waiting = this.pending.take(ctx.source.key, plan.templateId);
    for (const p of waiting) {
      const stored = this.cache.get(ctx.source, plan.templateId);
      if (!stored) break;
      const view = new DataView(p.data.buffer, p.data.byteOffset, p.data.byteLength);
      const pctx: MessageContext = {
        ...ctx,
        bytes: p.data,
        view,
        exportMs: p.exportMs,
        sysUptimeMs: p.sysUptimeMs,
      };
      out.releasedRecords += this.records(pctx, stored, 0, p.data.length, out);
    }
  }

  /** A data set (id >= 256) spanning [start, end) of the message. */
  dataSet(ctx: MessageContext, templateId: number, start: number, end: number, out: DecodeOutput): void {
    const plan = this.cache.get(ctx.source, templateId);
    if (plan === undefined) {
      addError(out.errors, "unknown_template");
      this.messageRecords = -1;
      this.pending.add(
        {
          sourceKey: ctx.source.key,
          templateId,
          exportMs: ctx.exportMs,
          sysUptimeMs: ctx.sysUptimeMs,
          addedAtMs: ctx.nowMs,
        },
        ctx.bytes.subarray(start, end),
        out.errors,
      );
      return;
    }
    const before = this.truncations;
    const n = this.records(ctx, plan, start, end, out);
    if (this.truncations !== before || plan.minRecordLength === 0) this.messageRecords = -1;
    else if (this.messageRecords >= 0) {
      this.messageRecords += n;
      if (!plan.options) this.messageFlowRecords += n;
    }
  }

  /** Decodes the records of a set; returns how many. Trailing bytes shorter than a record are padding. */
  private records(ctx: MessageContext, plan: Plan, start: number, end: number, out: DecodeOutput): number {
    if (plan.minRecordLength === 0) {
      if (end > start) addError(out.errors, "template_loop");
      return 0;
    }
    const v = ctx.view;
    const r = this.scratch;
    const source = ctx.source;
    ctx.systemInitMs = source.systemInitMs;
    if (plan.native === undefined) plan.native = nativePlan(plan.options, plan.kinds, plan.lens);
    if (plan.native !== null && out.records.setsNative) {
      // The exporter's rate for records without one of their own (the plan has no sampler id
      // to look one up by).
      const rate = source.sampling.rate(ANY_SAMPLER) || 1;
      const c = out.records.addSet(ctx, plan.native, plan.minRecordLength, start, end, rate, this.setCounts);
      const noAddress = this.setCounts[0] as number;
      const badValue = this.setCounts[1] as number;
      if (noAddress !== 0) addError(out.errors, "no_address", noAddress);
      if (badValue !== 0) addError(out.errors, "bad_value", badValue);
      this.recordsDecoded += c - noAddress - badValue;
      return c;
    }
    let pos = start;
    let n = 0;
    while (end - pos >= plan.minRecordLength) {
      r.reset();
      const next = plan.decode(v, pos, end, r);
      if (next < 0) {
        addError(out.errors, "truncated");
        this.truncations++;
        break;
      }
      pos = next;
      n++;
      if (plan.options) {
        this.optionsRecord(ctx, plan, r, out);
        continue;
      }
      let rate = rateFromFields(r);
      if (rate === 0) rate = source.sampling.rate(r.samplerId >= 0 ? r.samplerId : ANY_SAMPLER) || 1;
      const notAFlow = toFlow(r, ctx, rate, out.records);
      if (notAFlow !== undefined) addError(out.errors, notAFlow);
      else this.recordsDecoded++;
    }
    return n;
  }

  private optionsRecord(ctx: MessageContext, plan: Plan, r: RecordFields, out: DecodeOutput): void {
    this.optionsRecords++;
    const rate = rateFromFields(r);
    const samplerId = r.samplerId >= 0 ? r.samplerId : null;
    if (rate > 0) ctx.source.sampling.learn(samplerId ?? ANY_SAMPLER, rate);
    if (r.systemInitMs >= 0) {
      ctx.source.systemInitMs = r.systemInitMs;
      ctx.systemInitMs = r.systemInitMs;
    }
    out.options.push({
      exporter: ctx.exporter,
      exportVersion: ctx.version,
      observationDomain: ctx.domain,
      templateId: plan.templateId,
      samplerId,
      samplingRate: rate > 0 ? rate : null,
      systemInitTimeMs: r.systemInitMs >= 0 ? r.systemInitMs : null,
    });
  }
}
