// The notification dispatcher: the alert engine calls send() and goes on; everything that can
// be slow or fail happens behind it, per endpoint: filters (severity, entity kind), a token
// bucket (excess counted and, where the format can say so, summarised later), a bounded queue
// (oldest dropped and counted), one delivery in flight, retries with exponential backoff and
// jitter for what can heal, and counters for all of it.
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import { type Delivery, DeliveryError, type NotifyEndpoint, type SuppressedSummary, withTimeout } from "./endpoint.js";
import { createEndpoint } from "./factory.js";
import { BoundedQueue, TokenBucket } from "./limits.js";
import { type EndpointSettings, endpointId, endpointSettings, redactedTarget } from "./settings.js";
import { type AlertNotification, type EndpointConfig, type EndpointKind, SEVERITY_RANK } from "./types.js";

export type DropReason = "queue_full" | "invalid_config" | "too_many_endpoints" | "stopping";
const DROP_REASONS: readonly DropReason[] = ["queue_full", "invalid_config", "too_many_endpoints", "stopping"];

export interface DispatcherOptions {
  logger: Logger;
  /** Registers flowlens_notifications_* metrics here when given. */
  registry?: Registry;
  /** Clock (epoch ms) for rate limits and timestamps; tests pass their own. */
  now?: () => number;
  /** Endpoints kept at once (each has a queue); notifications for more are dropped and counted. */
  maxEndpoints?: number;
  /** How often resends, summaries and idle endpoints are looked at. */
  tickMs?: number;
  /** An endpoint unused this long (and with nothing queued or engaged) is closed. */
  idleEndpointMs?: number;
}

export interface EndpointMetricRow {
  endpoint: string;
  kind: EndpointKind;
  sent: number;
  failed: number;
  retried: number;
  rateLimited: number;
  filtered: number;
  dropped: Record<DropReason, number>;
  queued: number;
}

interface Counts {
  sent: number;
  failed: number;
  retried: number;
  rateLimited: number;
  filtered: number;
  dropped: Record<DropReason, number>;
}

const zeroCounts = (): Counts => ({
  sent: 0,
  failed: 0,
  retried: 0,
  rateLimited: 0,
  filtered: 0,
  dropped: { queue_full: 0, invalid_config: 0, too_many_endpoints: 0, stopping: 0 },
});

const SUMMARY_RULES = 5;
const LOG_EVERY_MS = 10_000;

interface EndpointState {
  id: string;
  label: string;
  kind: EndpointKind;
  settings: EndpointSettings;
  endpoint: NotifyEndpoint;
  queue: BoundedQueue<Delivery>;
  bucket: TokenBucket;
  suppressed: SuppressedSummary | undefined;
  resendQueued: boolean;
  lastResendMs: number;
  lastUsedMs: number;
  pumping: Promise<void> | undefined;
  counts: Counts;
  lastLogMs: number;
  logsSuppressed: number;
}

type Resolved = { ok: true; settings: EndpointSettings } | { ok: false; errors: string[]; id: string; label: string };

export class NotificationDispatcher {
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly maxEndpoints: number;
  private readonly idleEndpointMs: number;
  private readonly states = new Map<string, EndpointState>();
  private readonly labels = new Map<string, string>();
  // Settings of each config object seen, so a rule's endpoint is parsed once, not per alert.
  private readonly resolved = new WeakMap<EndpointConfig, Resolved>();
  /** Counts for notifications that never got an endpoint state (invalid config, too many). */
  private readonly orphanCounts = new Map<string, { label: string; kind: EndpointKind; counts: Counts }>();
  private readonly invalidLogged = new Set<string>();
  private readonly hardStop = new AbortController();
  private readonly tick: NodeJS.Timeout;
  private stopping = false;
  private stopDeadlineMs = Number.POSITIVE_INFINITY;

  constructor(opts: DispatcherOptions) {
    this.logger = opts.logger;
    this.now = opts.now ?? Date.now;
    this.maxEndpoints = opts.maxEndpoints ?? 256;
    this.idleEndpointMs = opts.idleEndpointMs ?? 3_600_000;
    this.tick = setInterval(() => this.onTick(), opts.tickMs ?? 1000);
    this.tick.unref();
    if (opts.registry) this.registerMetrics(opts.registry);
  }

  /** Hands `n` to every endpoint that wants it; returns at once, never throws. */
  send(endpoints: readonly EndpointConfig[], n: AlertNotification): void {
    for (const cfg of endpoints) {
      try {
        this.sendOne(cfg, n);
      } catch (err) {
        // A bug here must not reach the alert engine; it is logged and the notification lost.
        this.logger.error({ err, kind: cfg?.kind }, "notify: dispatching a notification failed");
      }
    }
  }

  private sendOne(cfg: EndpointConfig, n: AlertNotification): void {
    const r = this.resolve(cfg);
    if (!r.ok) {
      this.orphan(r.label, cfg.kind).dropped.invalid_config++;
      if (!this.invalidLogged.has(r.id) && this.invalidLogged.size < 1000) {
        this.invalidLogged.add(r.id);
        this.logger.warn({ endpoint: r.label, kind: cfg.kind, errors: r.errors }, "notify: invalid endpoint config");
      }
      return;
    }
    const st = this.stateFor(r.settings);
    if (!st) return;
    const now = this.now();
    st.lastUsedMs = now;
    if (this.stopping) {
      st.counts.dropped.stopping++;
      return;
    }
    if (
      SEVERITY_RANK[n.severity] < SEVERITY_RANK[cfg.minSeverity ?? "info"] ||
      (cfg.entityKinds && !cfg.entityKinds.includes(n.entity.kind))
    ) {
      st.counts.filtered++;
      return;
    }
    st.endpoint.observe?.(n);
    if (!st.bucket.take(now)) {
      st.counts.rateLimited++;
      if (st.endpoint.summarises) this.suppress(st, n, now);
      return;
    }
    if (st.suppressed) this.flushSummary(st);
    this.enqueue(st, { type: "alert", n });
  }

  private resolve(cfg: EndpointConfig): Resolved {
    let r = this.resolved.get(cfg);
    if (!r) {
      const s = endpointSettings(cfg);
      r = s.ok
        ? s
        : {
            ok: false,
            errors: s.errors,
            id: endpointId(cfg),
            label: `invalid:${redactedTarget(cfg.kind, cfg.target)}`,
          };
      this.resolved.set(cfg, r);
    }
    return r;
  }

  private orphan(label: string, kind: EndpointKind): Counts {
    const key = `${kind}\0${label}`;
    let o = this.orphanCounts.get(key);
    if (!o) {
      // Bounded like the endpoints: past the bound, every orphan of a kind shares one row.
      if (this.orphanCounts.size >= this.maxEndpoints && label !== "overflow") return this.orphan("overflow", kind);
      o = { label, kind, counts: zeroCounts() };
      this.orphanCounts.set(key, o);
    }
    return o.counts;
  }

  private stateFor(settings: EndpointSettings): EndpointState | undefined {
    const existing = this.states.get(settings.id);
    if (existing) return existing;
    if (this.states.size >= this.maxEndpoints) {
      this.orphan("overflow", settings.kind).dropped.too_many_endpoints++;
      return undefined;
    }
    let label = settings.common.name;
    const owner = this.labels.get(label);
    if (owner !== undefined && owner !== settings.id) label = `${label}#${settings.id.slice(-6)}`;
    this.labels.set(label, settings.id);
    const now = this.now();
    const st: EndpointState = {
      id: settings.id,
      label,
      kind: settings.kind,
      settings,
      endpoint: createEndpoint(settings, this.now),
      queue: new BoundedQueue(settings.common.queueSize),
      bucket: new TokenBucket(settings.common.ratePerMinute, settings.common.burst, now),
      suppressed: undefined,
      resendQueued: false,
      lastResendMs: now,
      lastUsedMs: now,
      pumping: undefined,
      counts: zeroCounts(),
      lastLogMs: 0,
      logsSuppressed: 0,
    };
    this.states.set(settings.id, st);
    return st;
  }

  private suppress(st: EndpointState, n: AlertNotification, now: number): void {
    st.suppressed ??= {
      count: 0,
      bySeverity: { info: 0, warning: 0, error: 0, critical: 0 },
      rules: [],
      fromMs: now,
      toMs: now,
    };
    const s = st.suppressed;
    s.count++;
    s.bySeverity[n.severity]++;
    s.toMs = now;
    if (s.rules.length < SUMMARY_RULES && !s.rules.includes(n.rule)) s.rules.push(n.rule);
  }

  private flushSummary(st: EndpointState): void {
    const summary = st.suppressed;
    st.suppressed = undefined;
    if (summary) this.enqueue(st, { type: "summary", summary });
  }

  private enqueue(st: EndpointState, d: Delivery): void {
    const evicted = st.queue.push(d);
    if (evicted) {
      st.counts.dropped.queue_full++;
      if (evicted.type === "resend") st.resendQueued = false;
    }
    st.pumping ??= this.pump(st);
  }

  private async pump(st: EndpointState): Promise<void> {
    // Leave the caller's stack first: send() must return before any delivery work starts.
    await Promise.resolve();
    try {
      for (let d = st.queue.shift(); d; d = st.queue.shift()) {
        if (d.type === "resend") st.resendQueued = false;
        if (this.hardStop.signal.aborted) {
          st.counts.dropped.stopping++;
          continue;
        }
        try {
          await this.deliverWithRetries(st, d);
        } catch (err) {
          st.counts.failed++;
          this.logger.error({ err, endpoint: st.label }, "notify: delivery loop error");
        }
      }
    } finally {
      // Cleared in the same microtask the queue was seen empty, so an enqueue cannot slip
      // between the last shift() and this line and find no pump running.
      st.pumping = undefined;
    }
  }

  private backoffMs(st: EndpointState, attempt: number, retryAfterMs: number | undefined): number {
    const { backoffMs, maxBackoffMs } = st.settings.common;
    const exp = Math.min(maxBackoffMs, backoffMs * 2 ** (attempt - 1));
    // Equal jitter: at least half the step, so retries spread out without collapsing to zero.
    const jittered = exp / 2 + Math.random() * (exp / 2);
    return Math.min(maxBackoffMs, Math.max(jittered, retryAfterMs ?? 0));
  }

  private async deliverWithRetries(st: EndpointState, d: Delivery): Promise<void> {
    const { maxAttempts, timeoutMs } = st.settings.common;
    for (let attempt = 1; ; attempt++) {
      try {
        await withTimeout(this.hardStop.signal, timeoutMs, `${st.kind} ${st.label}`, (signal) =>
          st.endpoint.deliver(d, signal),
        );
        st.counts.sent++;
        return;
      } catch (err) {
        const e =
          err instanceof DeliveryError
            ? err
            : new DeliveryError(`${st.kind} ${st.label}: ${(err as Error)?.message ?? String(err)}`, true);
        const delay = this.backoffMs(st, attempt, e.retryAfterMs);
        const giveUp =
          !e.retryable ||
          attempt >= maxAttempts ||
          this.hardStop.signal.aborted ||
          this.now() + delay > this.stopDeadlineMs;
        if (giveUp) {
          st.counts.failed++;
          this.logFailure(st, e, attempt, false);
          return;
        }
        st.counts.retried++;
        this.logFailure(st, e, attempt, true);
        try {
          await sleep(delay, undefined, { signal: this.hardStop.signal });
        } catch {
          st.counts.failed++;
          return;
        }
      }
    }
  }

  // One line per endpoint per LOG_EVERY_MS at most: a dead endpoint must not flood the log.
  private logFailure(st: EndpointState, e: DeliveryError, attempt: number, willRetry: boolean): void {
    const now = this.now();
    if (now - st.lastLogMs < LOG_EVERY_MS) {
      st.logsSuppressed++;
      return;
    }
    this.logger.warn(
      {
        endpoint: st.label,
        kind: st.kind,
        attempt,
        willRetry,
        retryable: e.retryable,
        err: e.message,
        similarSuppressed: st.logsSuppressed,
      },
      "notify: delivery failed",
    );
    st.lastLogMs = now;
    st.logsSuppressed = 0;
  }

  private onTick(): void {
    try {
      if (this.stopping) return;
      const now = this.now();
      for (const st of this.states.values()) {
        const interval = st.endpoint.resendIntervalMs;
        if (interval !== undefined && !st.resendQueued && now - st.lastResendMs >= interval) {
          st.lastResendMs = now;
          if (st.endpoint.hasEngaged?.()) {
            st.resendQueued = true;
            this.enqueue(st, { type: "resend" });
          }
        }
        if (st.suppressed && st.bucket.take(now)) this.flushSummary(st);
        const idle =
          now - st.lastUsedMs > this.idleEndpointMs &&
          st.queue.size === 0 &&
          !st.pumping &&
          !st.suppressed &&
          !st.endpoint.hasEngaged?.();
        if (idle) {
          this.states.delete(st.id);
          if (this.labels.get(st.label) === st.id) this.labels.delete(st.label);
          st.endpoint.close().catch(() => {});
        }
      }
    } catch (err) {
      this.logger.error({ err }, "notify: tick failed");
    }
  }

  /**
   * Stops taking notifications and delivers what is queued until `deadlineMs` (epoch ms);
   * then aborts what is in flight, counts the rest as dropped, and closes the endpoints.
   */
  async stop(deadlineMs: number): Promise<{ undelivered: number }> {
    if (!this.stopping) {
      this.stopping = true;
      this.stopDeadlineMs = deadlineMs;
      clearInterval(this.tick);
      for (const st of this.states.values()) if (st.suppressed && st.endpoint.summarises) this.flushSummary(st);
    }
    const pumps = () => [...this.states.values()].map((st) => st.pumping).filter(Boolean);
    const waitMs = Math.max(0, deadlineMs - this.now());
    const timer = new AbortController();
    await Promise.race([Promise.all(pumps()), sleep(waitMs, undefined, { signal: timer.signal }).catch(() => {})]);
    timer.abort();
    this.hardStop.abort();
    let undelivered = 0;
    for (const st of this.states.values()) {
      const left = st.queue.clear();
      st.counts.dropped.stopping += left;
      undelivered += left;
    }
    await Promise.all(pumps());
    await Promise.all([...this.states.values()].map((st) => st.endpoint.close().catch(() => {})));
    return { undelivered };
  }

  /** Counters by endpoint (for the API and tests; the metrics read the same numbers). */
  metricRows(): EndpointMetricRow[] {
    const rows: EndpointMetricRow[] = [];
    for (const st of this.states.values()) {
      rows.push({ endpoint: st.label, kind: st.kind, ...copyCounts(st.counts), queued: st.queue.size });
    }
    for (const o of this.orphanCounts.values())
      rows.push({ endpoint: o.label, kind: o.kind, ...copyCounts(o.counts), queued: 0 });
    return rows;
  }

  /** The counters of the endpoint a config maps to (undefined before its first notification). */
  rowFor(cfg: EndpointConfig): EndpointMetricRow | undefined {
    const r = this.resolve(cfg);
    const label = r.ok ? this.states.get(r.settings.id)?.label : r.label;
    return this.metricRows().find((row) => row.endpoint === label && row.kind === cfg.kind);
  }

  private registerMetrics(registry: Registry): void {
    const dispatcher = this;
    const counter = (name: string, help: string, pick: (r: EndpointMetricRow) => number) =>
      new Counter({
        name,
        help,
        labelNames: ["endpoint", "kind"],
        registers: [registry],
        collect() {
          this.reset();
          for (const r of dispatcher.metricRows()) {
            const v = pick(r);
            if (v > 0) this.inc({ endpoint: r.endpoint, kind: r.kind }, v);
          }
        },
      });
    counter("flowlens_notifications_sent_total", "Notifications delivered, by endpoint", (r) => r.sent);
    counter(
      "flowlens_notifications_failed_total",
      "Notifications given up on after their last attempt, by endpoint",
      (r) => r.failed,
    );
    counter("flowlens_notifications_retried_total", "Delivery attempts that were retried", (r) => r.retried);
    counter(
      "flowlens_notifications_rate_limited_total",
      "Notifications held back by an endpoint's rate limit",
      (r) => r.rateLimited,
    );
    counter(
      "flowlens_notifications_filtered_total",
      "Notifications an endpoint's severity or entity filter left out",
      (r) => r.filtered,
    );
    new Counter({
      name: "flowlens_notifications_dropped_total",
      help: "Notifications dropped before delivery, by endpoint and reason",
      labelNames: ["endpoint", "kind", "reason"],
      registers: [registry],
      collect() {
        this.reset();
        for (const r of dispatcher.metricRows()) {
          for (const reason of DROP_REASONS) {
            const v = r.dropped[reason];
            if (v > 0) this.inc({ endpoint: r.endpoint, kind: r.kind, reason }, v);
          }
        }
      },
    });
    new Gauge({
      name: "flowlens_notifications_queued",
      help: "Notifications waiting for delivery, by endpoint",
      labelNames: ["endpoint", "kind"],
      registers: [registry],
      collect() {
        this.reset();
        for (const r of dispatcher.metricRows()) this.set({ endpoint: r.endpoint, kind: r.kind }, r.queued);
      },
    });
  }
}

function copyCounts(c: Counts): Counts {
  return { ...c, dropped: { ...c.dropped } };
}
