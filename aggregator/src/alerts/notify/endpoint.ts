// What the dispatcher hands an endpoint, and what an endpoint promises back. Each endpoint kind
// is its own module implementing NotifyEndpoint; the dispatcher owns queueing, filters, rate
// limits, retries and counting, so an endpoint only formats and delivers one item.
import type { AlertNotification, AlertSeverity } from "./types.js";

/** Notifications an endpoint's rate limit held back since the last summary. */
export interface SuppressedSummary {
  count: number;
  bySeverity: Record<AlertSeverity, number>;
  /** Up to a few rule names, for the reader to know where to look. */
  rules: string[];
  fromMs: number;
  toMs: number;
}

export type Delivery =
  | { type: "alert"; n: AlertNotification }
  | { type: "summary"; summary: SuppressedSummary }
  /** Periodic re-post of what is engaged (Alertmanager expects it). */
  | { type: "resend" };

export interface NotifyEndpoint {
  /** Can the format carry a "N notifications were suppressed" message? */
  readonly summarises: boolean;
  /** When set, the dispatcher queues a resend delivery at this interval. */
  readonly resendIntervalMs?: number;
  /** Called for every notification that passed the filters, delivered or rate limited. */
  observe?(n: AlertNotification): void;
  /** Whether a resend has anything to post. */
  hasEngaged?(): boolean;
  /** Delivers one item or throws a DeliveryError; must give up when `signal` aborts. */
  deliver(d: Delivery, signal: AbortSignal): Promise<void>;
  /** Releases connections. */
  close(): Promise<void>;
}

/** A failed delivery; `retryable` says whether trying again can help. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    /** The receiver asked to wait this long (HTTP Retry-After). */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "DeliveryError";
  }
}

/** Runs `fn` with a signal that aborts at `timeoutMs` or when `outer` aborts. */
export async function withTimeout<T>(
  outer: AbortSignal,
  timeoutMs: number,
  what: string,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const ctrl = new AbortController();
  const timer = setTimeout(
    () => ctrl.abort(new DeliveryError(`${what}: timed out after ${timeoutMs} ms`, true)),
    timeoutMs,
  );
  const onOuter = () => ctrl.abort(new DeliveryError(`${what}: aborted (dispatcher stopping)`, false));
  if (outer.aborted) onOuter();
  else outer.addEventListener("abort", onOuter, { once: true });
  try {
    return await fn(ctrl.signal);
  } catch (err) {
    if (ctrl.signal.aborted && ctrl.signal.reason instanceof DeliveryError) throw ctrl.signal.reason;
    throw err;
  } finally {
    clearTimeout(timer);
    outer.removeEventListener("abort", onOuter);
  }
}

/** Rejects when the signal aborts, with its reason. */
export function abortPromise(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

export const SEVERITY_ORDER: readonly AlertSeverity[] = ["critical", "error", "warning", "info"];

export function summaryText(s: SuppressedSummary): string {
  const parts = SEVERITY_ORDER.filter((sev) => s.bySeverity[sev] > 0).map((sev) => `${s.bySeverity[sev]} ${sev}`);
  const rules = s.rules.length > 0 ? ` (rules: ${s.rules.join(", ")})` : "";
  const secs = Math.max(1, Math.round((s.toMs - s.fromMs) / 1000));
  return `${s.count} notification(s) suppressed by this endpoint's rate limit in the last ${secs}s: ${parts.join(", ")}${rules}`;
}

export function maxSeverity(s: SuppressedSummary): AlertSeverity {
  return SEVERITY_ORDER.find((sev) => s.bySeverity[sev] > 0) ?? "info";
}

/** A one-line headline of a notification, used by the human-readable formats. */
export function headline(n: AlertNotification): string {
  const what = n.event === "released" ? "released" : n.event === "flow" ? "flow alert" : "engaged";
  return `${n.severity.toUpperCase()} ${what}: ${n.rule} on ${n.entity.kind} ${n.entity.value}`;
}
