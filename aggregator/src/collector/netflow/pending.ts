// Data sets that arrived before their template (an exporter restarted, or sends templates
// only every few minutes). They wait here, copied, for a short time and within a count and
// byte bound, and are decoded when the template comes. Oldest first out, whichever bound
// is hit.
import { addError, type ErrorCounts } from "./errors.js";

export interface PendingSet {
  sourceKey: string;
  templateId: number;
  /** A copy of the data set body (records and padding, no set header). */
  data: Uint8Array;
  /** The header fields the records' times are relative to. */
  exportMs: number;
  sysUptimeMs: number;
  addedAtMs: number;
}

export interface PendingLimits {
  pendingSetsMax: number;
  pendingBytesMax: number;
  pendingMs: number;
}

export class PendingBuffer {
  /** In arrival order. Bounded by pendingSetsMax, so scans stay cheap. */
  private queue: PendingSet[] = [];
  private bytes = 0;
  /** Buffered sets per "sourceKey|templateId": a template with nothing waiting costs one lookup. */
  private readonly waiting = new Map<string, number>();

  constructor(private readonly limits: PendingLimits) {}

  get sets(): number {
    return this.queue.length;
  }

  get byteCount(): number {
    return this.bytes;
  }

  /** Buffers a set (copying it); drops the oldest to make room. */
  add(p: Omit<PendingSet, "data">, body: Uint8Array, errors: ErrorCounts): void {
    const { pendingSetsMax, pendingBytesMax } = this.limits;
    // Buffering switched off: unknown_template alone tells what happened.
    if (pendingSetsMax <= 0) return;
    if (body.length > pendingBytesMax) {
      addError(errors, "pending_overflow");
      return;
    }
    while (this.queue.length >= pendingSetsMax || this.bytes + body.length > pendingBytesMax) {
      const dropped = this.queue.shift();
      if (!dropped) break;
      this.forget(dropped);
      addError(errors, "pending_overflow");
    }
    // A real copy: body may be a Buffer (a socket's), whose slice() is a view.
    const entry: PendingSet = { ...p, data: new Uint8Array(body) };
    this.queue.push(entry);
    this.bytes += entry.data.length;
    const k = `${p.sourceKey}|${p.templateId}`;
    this.waiting.set(k, (this.waiting.get(k) ?? 0) + 1);
  }

  /** Removes and returns the sets waiting for this template, oldest first. */
  take(sourceKey: string, templateId: number): PendingSet[] {
    if (this.waiting.size === 0 || !this.waiting.has(`${sourceKey}|${templateId}`)) return [];
    const out: PendingSet[] = [];
    const keep: PendingSet[] = [];
    for (const e of this.queue) {
      if (e.sourceKey === sourceKey && e.templateId === templateId) out.push(e);
      else keep.push(e);
    }
    this.queue = keep;
    for (const e of out) this.forget(e);
    return out;
  }

  /** Drops what has waited longer than pendingMs (and anything from the future: a clock step). */
  expire(nowMs: number, errors: ErrorCounts): void {
    const q = this.queue;
    let n = 0;
    while (n < q.length) {
      const age = nowMs - (q[n] as PendingSet).addedAtMs;
      if (age <= this.limits.pendingMs && age >= 0) break;
      n++;
    }
    if (n === 0) return;
    for (const e of q.splice(0, n)) this.forget(e);
    addError(errors, "pending_expired", n);
  }

  /** Drops everything of a source (evicted from the template cache). */
  dropSource(sourceKey: string, errors: ErrorCounts): void {
    const before = this.queue.length;
    const keep = this.queue.filter((e) => e.sourceKey !== sourceKey);
    if (keep.length === before) return;
    for (const e of this.queue) if (e.sourceKey === sourceKey) this.forget(e);
    this.queue = keep;
    addError(errors, "pending_expired", before - keep.length);
  }

  private forget(e: PendingSet): void {
    this.bytes -= e.data.length;
    const k = `${e.sourceKey}|${e.templateId}`;
    const n = (this.waiting.get(k) ?? 1) - 1;
    if (n <= 0) this.waiting.delete(k);
    else this.waiting.set(k, n);
  }
}
