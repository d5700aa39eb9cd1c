// The contract between the alert engine (which decides what is engaged, released or a one-shot
// flow alert) and the notification endpoints (which deliver it). The engine never waits on an
// endpoint: it hands notifications to the dispatcher and goes on evaluating.

export type AlertSeverity = "info" | "warning" | "error" | "critical";

export const SEVERITY_RANK: Readonly<Record<AlertSeverity, number>> = { info: 0, warning: 1, error: 2, critical: 3 };

/** What an alert is about: a host (IP), a network (CIDR), an application, an exporter, an
 * interface (EXPORTER:IFINDEX), a node, or a flow (its Community ID or 5-tuple). */
export interface AlertEntity {
  kind: "host" | "network" | "application" | "category" | "interface" | "exporter" | "node" | "flow";
  value: string;
}

export interface AlertNotification {
  /** engaged: a threshold/check alert started; released: it ended; flow: a one-shot flow alert. */
  event: "engaged" | "released" | "flow";
  /** Stable id of the alert (same for engaged and released of one alert). */
  id: string;
  /** Rule name: namespace/name for AlertRule resources, the rule's own name otherwise. */
  rule: string;
  /** The check (port-scan, syn-flood, ...) or, for threshold rules, undefined. */
  check?: string;
  /** The metric of a threshold rule (bytes, packets, ...), undefined for checks. */
  metric?: string;
  severity: AlertSeverity;
  entity: AlertEntity;
  /** Current value when engaged, last value when released. */
  value: number;
  threshold?: number;
  /** Highest (or lowest, for < rules) value seen while engaged. */
  peak?: number;
  startedAtMs: number;
  /** Set on released. */
  endedAtMs?: number;
  /** A one-line human summary, e.g. "10.0.0.5 contacted 512 ports on 10.0.0.9 in 1m". */
  summary: string;
  /** Extra key/values (window, operator, peer, l7, ...) for endpoints that carry labels. */
  labels: Record<string, string>;
}

export type EndpointKind = "webhook" | "slack" | "email" | "alertmanager" | "syslog" | "nagios";

/** One notification endpoint, as validated from an AlertRule's notify list or a config file. */
export interface EndpointConfig {
  kind: EndpointKind;
  /**
   * webhook, slack, alertmanager: an http(s) URL; email: an address; syslog:
   * [udp|tcp|tls://]HOST:PORT; nagios: a command file path or nsca://HOST:PORT.
   */
  target: string;
  /** Only notifications at or above this severity are sent (default: info). */
  minSeverity?: AlertSeverity;
  /** Only notifications whose entity.kind is listed are sent (default: all). */
  entityKinds?: AlertEntity["kind"][];
  /** Kind-specific options (HMAC secret, SMTP server and credentials, syslog facility, ...). */
  options?: Record<string, string>;
}
