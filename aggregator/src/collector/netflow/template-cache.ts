// Templates per source (exporter, protocol version, source id / observation domain), with
// every dimension bounded: sources (LRU), templates per source (LRU) and template fields in
// total (the oldest sources give theirs up first), so no sequence of datagrams grows memory
// without limit. Map insertion order is the LRU order: a use moves an entry to the end.
import { addError, type ErrorCounts } from "./errors.js";
import { SamplingTable } from "./sampling.js";
import { type Plan, sameFields } from "./template.js";

export type SourceVersion = 5 | 9 | 10;

export class Source {
  readonly templates = new Map<number, Plan>();
  readonly sampling = new SamplingTable();
  /** Template fields held by this source. */
  fields = 0;
  /** IPFIX systemInitTimeMilliseconds from options data, for flow*SysUpTime; -1 if unknown. */
  systemInitMs = -1;
  lastSeenMs = 0;
  constructor(
    readonly key: string,
    readonly exporter: string,
    readonly version: SourceVersion,
    readonly domain: number,
  ) {}
}

export interface TemplateCacheLimits {
  maxSources: number;
  maxTemplatesPerSource: number;
  maxTemplateFieldsTotal: number;
}

export type PutResult = "added" | "changed" | "same";

export function sourceKey(exporter: string, version: SourceVersion, domain: number): string {
  return `${exporter}|${version}|${domain}`;
}

export class TemplateCache {
  private readonly sources = new Map<string, Source>();
  private totalFields = 0;
  private totalTemplates = 0;
  /** The most recently used source: consecutive datagrams nearly always share it. */
  private last: Source | undefined;

  constructor(
    private readonly limits: TemplateCacheLimits,
    /** Told when a source is evicted (its buffered data goes with it). */
    private readonly onEvict: (s: Source) => void = () => {},
  ) {}

  /** The source of a message, created (and the oldest evicted) if new; marks it recently used. */
  source(exporter: string, version: SourceVersion, domain: number, nowMs: number, errors: ErrorCounts): Source {
    const l = this.last;
    if (l !== undefined && l.domain === domain && l.version === version && l.exporter === exporter) {
      // Already the newest entry of the LRU order.
      l.lastSeenMs = nowMs;
      return l;
    }
    const key = sourceKey(exporter, version, domain);
    let s = this.sources.get(key);
    if (s) {
      this.sources.delete(key);
    } else {
      s = new Source(key, exporter, version, domain);
      while (this.sources.size >= this.limits.maxSources) {
        const oldest = this.sources.values().next();
        if (oldest.done) break;
        this.dropSource(oldest.value);
        addError(errors, "too_many_sources");
      }
    }
    this.sources.set(key, s);
    s.lastSeenMs = nowMs;
    this.last = s;
    return s;
  }

  /** A template of a source, marked recently used. */
  get(s: Source, templateId: number): Plan | undefined {
    const p = s.templates.get(templateId);
    if (p !== undefined && s.templates.size > 1) {
      s.templates.delete(templateId);
      s.templates.set(templateId, p);
    }
    return p;
  }

  /** Stores a template (new or refreshed); evicts to stay within the limits. */
  put(s: Source, plan: Plan, errors: ErrorCounts): PutResult {
    const old = s.templates.get(plan.templateId);
    if (old && old.options === plan.options && sameFields(old.fields, plan.fields)) {
      this.get(s, plan.templateId);
      return "same";
    }
    if (old) this.remove(s, plan.templateId, old);
    while (s.templates.size >= this.limits.maxTemplatesPerSource) {
      const oldest = s.templates.entries().next();
      if (oldest.done) break;
      this.remove(s, oldest.value[0], oldest.value[1]);
      addError(errors, "too_many_templates");
    }
    s.templates.set(plan.templateId, plan);
    s.fields += plan.fieldCount;
    this.totalFields += plan.fieldCount;
    this.totalTemplates++;
    this.enforceFieldBudget(s, plan.templateId, errors);
    return old ? "changed" : "added";
  }

  /** Drops templates, least recently used sources first, until the field budget holds. */
  private enforceFieldBudget(current: Source, keepId: number, errors: ErrorCounts): void {
    if (this.totalFields <= this.limits.maxTemplateFieldsTotal) return;
    for (const s of this.sources.values()) {
      for (const [id, p] of s.templates) {
        if (this.totalFields <= this.limits.maxTemplateFieldsTotal) return;
        if (s === current && id === keepId) continue;
        this.remove(s, id, p);
        addError(errors, "too_many_templates");
      }
    }
    // Only the new template is left and it alone is over budget.
    const p = current.templates.get(keepId);
    if (this.totalFields > this.limits.maxTemplateFieldsTotal && p) {
      this.remove(current, keepId, p);
      addError(errors, "too_many_templates");
    }
  }

  /** IPFIX withdrawal of one template; false if it was not known. */
  withdraw(s: Source, templateId: number): boolean {
    const p = s.templates.get(templateId);
    if (!p) return false;
    this.remove(s, templateId, p);
    return true;
  }

  /** IPFIX "withdraw all" (template id 2 or 3): every data template, or every options template. */
  withdrawAll(s: Source, options: boolean): number {
    let n = 0;
    for (const [id, p] of s.templates) {
      if (p.options === options) {
        this.remove(s, id, p);
        n++;
      }
    }
    return n;
  }

  private remove(s: Source, id: number, p: Plan): void {
    s.templates.delete(id);
    s.fields -= p.fieldCount;
    this.totalFields -= p.fieldCount;
    this.totalTemplates--;
  }

  private dropSource(s: Source): void {
    for (const [id, p] of s.templates) this.remove(s, id, p);
    this.sources.delete(s.key);
    if (this.last === s) this.last = undefined;
    this.onEvict(s);
  }

  get templateCount(): number {
    return this.totalTemplates;
  }

  get fieldCount(): number {
    return this.totalFields;
  }

  get sourceCount(): number {
    return this.sources.size;
  }

  allSources(): IterableIterator<Source> {
    return this.sources.values();
  }
}
