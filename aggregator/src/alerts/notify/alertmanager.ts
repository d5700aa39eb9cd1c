// Prometheus Alertmanager, v2 API (POST /api/v2/alerts), used as Prometheus itself uses it:
// an engaged alert is posted with endsAt a few resend intervals ahead and re-posted every
// interval while it stays engaged (so Alertmanager keeps it active, and resolves it by itself
// if Flowlens disappears); a released alert is posted once more with endsAt = its end, which
// resolves it. The labels of an alert are fixed when it engages so the release matches it.
import { type Delivery, DeliveryError, type NotifyEndpoint } from "./endpoint.js";
import { HttpPoster } from "./http.js";
import type { KindSettings } from "./settings.js";
import type { AlertNotification } from "./types.js";

type AlertmanagerSettings = Extract<KindSettings, { kind: "alertmanager" }>;

/** Bound on alerts kept for re-posting; beyond it the oldest engaged alert is forgotten. */
export const MAX_TRACKED_ALERTS = 10_000;
/** Alertmanager keeps an alert active this many resend intervals past its last post. */
const ENDS_AT_INTERVALS = 4;
const RESERVED = new Set(["alertname", "severity", "rule", "check", "metric", "entity_kind", "entity", "alert_id"]);

export interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
}

/** A label name Alertmanager accepts ([a-zA-Z_][a-zA-Z0-9_]*), or undefined. */
export function labelName(k: string): string | undefined {
  const s = k.replace(/[^a-zA-Z0-9_]/g, "_");
  if (s === "" || s.startsWith("__")) return undefined;
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

export function amLabels(n: AlertNotification): Record<string, string> {
  const l: Record<string, string> = {};
  for (const [k, v] of Object.entries(n.labels)) {
    const name = labelName(k);
    if (name && !RESERVED.has(name) && v !== "") l[name] = v;
  }
  Object.assign(l, {
    alertname: n.rule,
    severity: n.severity,
    rule: n.rule,
    entity_kind: n.entity.kind,
    entity: n.entity.value,
    alert_id: n.id,
  });
  if (n.check) l.check = n.check;
  if (n.metric) l.metric = n.metric;
  return l;
}

function annotations(n: AlertNotification): Record<string, string> {
  const a: Record<string, string> = { summary: n.summary, value: String(n.value) };
  if (n.threshold !== undefined) a.threshold = String(n.threshold);
  if (n.peak !== undefined) a.peak = String(n.peak);
  return a;
}

export class AlertmanagerEndpoint implements NotifyEndpoint {
  readonly summarises = false;
  readonly resendIntervalMs: number;
  private readonly poster: HttpPoster;
  private readonly url: URL;
  /** Engaged alerts by id, in engagement order, with the labels they were first posted with. */
  private readonly engaged = new Map<string, { n: AlertNotification; labels: Record<string, string> }>();
  /** Labels of released alerts whose release is not posted yet. */
  private readonly releasing = new Map<string, Record<string, string>>();
  private forgotten = 0;

  constructor(
    private readonly s: AlertmanagerSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.resendIntervalMs = s.resendIntervalMs;
    const base = s.http.url.href.replace(/\/+$/, "");
    this.url = new URL(`${base}/api/v2/alerts`);
    this.poster = new HttpPoster(s.http, `alertmanager ${s.http.url.origin}`);
  }

  /** Engaged alerts forgotten because more than MAX_TRACKED_ALERTS were engaged. */
  get forgottenCount(): number {
    return this.forgotten;
  }

  observe(n: AlertNotification): void {
    if (n.event === "released") {
      // Stop re-posting at once, even if the release itself is rate limited or dropped: then
      // Alertmanager resolves the alert at its last endsAt.
      const e = this.engaged.get(n.id);
      if (e) {
        this.engaged.delete(n.id);
        this.releasing.set(n.id, e.labels);
        if (this.releasing.size > MAX_TRACKED_ALERTS) {
          const oldest = this.releasing.keys().next().value;
          if (oldest !== undefined) this.releasing.delete(oldest);
        }
      }
    } else if (n.event === "engaged") {
      const prev = this.engaged.get(n.id);
      this.engaged.set(n.id, { n, labels: prev?.labels ?? amLabels(n) });
      if (!prev && this.engaged.size > MAX_TRACKED_ALERTS) {
        const oldest = this.engaged.keys().next().value;
        if (oldest !== undefined) this.engaged.delete(oldest);
        this.forgotten++;
      }
    }
  }

  hasEngaged(): boolean {
    return this.engaged.size > 0;
  }

  private alert(n: AlertNotification, labels: Record<string, string>, endsAtMs: number): AmAlert {
    return {
      labels,
      annotations: annotations(n),
      startsAt: new Date(n.startedAtMs).toISOString(),
      endsAt: new Date(endsAtMs).toISOString(),
      ...(this.s.generatorURL ? { generatorURL: this.s.generatorURL } : {}),
    };
  }

  /** The alerts a delivery posts (exported for tests of the format). */
  alertsFor(d: Delivery): AmAlert[] {
    const now = this.now();
    const activeUntil = now + ENDS_AT_INTERVALS * this.s.resendIntervalMs;
    switch (d.type) {
      case "resend":
        return [...this.engaged.values()].map((e) => this.alert(e.n, e.labels, activeUntil));
      case "summary":
        throw new DeliveryError("alertmanager: no summaries", false);
      case "alert": {
        const n = d.n;
        if (n.event === "engaged") {
          return [this.alert(n, this.engaged.get(n.id)?.labels ?? amLabels(n), activeUntil)];
        }
        if (n.event === "released") {
          const labels = this.releasing.get(n.id) ?? this.engaged.get(n.id)?.labels ?? amLabels(n);
          this.releasing.delete(n.id);
          return [this.alert(n, labels, n.endedAtMs ?? now)];
        }
        return [this.alert(n, amLabels(n), now + this.s.flowAlertTtlMs)];
      }
    }
  }

  async deliver(d: Delivery, signal: AbortSignal): Promise<void> {
    const alerts = this.alertsFor(d);
    if (alerts.length === 0) return;
    await this.poster.post(JSON.stringify(alerts), {}, signal, this.url);
  }

  async close(): Promise<void> {
    this.poster.close();
  }
}
