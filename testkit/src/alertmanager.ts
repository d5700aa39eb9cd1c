// Helpers for a real Alertmanager (started by startAlertmanager() in prometheus.ts: Debian's
// prometheus-alertmanager on a free port with temp config and storage): a config builder with
// fast timers and an optional webhook receiver, and a client for its v2 alert list.
import type { PromServer } from "./prometheus.js";
import { startAlertmanager } from "./prometheus.js";

export interface AlertmanagerTestConfig {
  /** Alertmanager sends its notifications (firing, resolved) here as webhook JSON. */
  webhookUrl?: string;
  groupWait?: string;
  groupInterval?: string;
  repeatInterval?: string;
}

/** An alertmanager.yml with short timers, one route, and a webhook receiver or none. */
export function alertmanagerConfig(c: AlertmanagerTestConfig = {}): string {
  const receiver = c.webhookUrl
    ? `{ name: "test", webhook_configs: [{ url: ${JSON.stringify(c.webhookUrl)}, send_resolved: true }] }`
    : `{ name: "test" }`;
  return `
route:
  receiver: test
  group_by: ["alert_id"]
  group_wait: ${c.groupWait ?? "1s"}
  group_interval: ${c.groupInterval ?? "1s"}
  repeat_interval: ${c.repeatInterval ?? "1h"}
receivers:
  - ${receiver}
`;
}

export function startTestAlertmanager(c: AlertmanagerTestConfig = {}): Promise<PromServer> {
  return startAlertmanager(alertmanagerConfig(c));
}

/** One alert as GET /api/v2/alerts returns it (the fields tests look at). */
export interface AmListedAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  generatorURL?: string;
  fingerprint: string;
  status: { state: "active" | "suppressed" | "unprocessed"; silencedBy: string[]; inhibitedBy: string[] };
}

/**
 * The alerts Alertmanager holds that are not resolved (its API leaves resolved ones out),
 * optionally narrowed by label matchers such as `alert_id="a1"`.
 */
export async function listAlertmanagerAlerts(am: PromServer, matchers: string[] = []): Promise<AmListedAlert[]> {
  const q = new URLSearchParams();
  for (const m of matchers) q.append("filter", m);
  const res = await fetch(`${am.url}/api/v2/alerts?${q}`);
  if (!res.ok) throw new Error(`GET /api/v2/alerts: HTTP ${res.status}: ${await res.text()}`);
  return (await res.json()) as AmListedAlert[];
}
