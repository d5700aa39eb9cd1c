// AlertRule validation beyond what the CRD schema can check: which metrics a target kind has,
// which parameters a check takes (with types and ranges), whether notify targets parse. The
// operator turns the errors into the AlertRule's ConfigurationIssue condition; the aggregator
// skips (and reports) a rule that does not parse. Both use this one function so that they never
// disagree about what a valid rule is.
import { isIP } from "node:net";
import type { AlertWindow, Severity } from "./crd.js";

export const ALERT_WINDOWS = ["1m", "5m", "1h", "1d"] as const satisfies readonly AlertWindow[];
export const ALERT_WINDOW_MS: Readonly<Record<AlertWindow, number>> = {
  "1m": 60_000,
  "5m": 300_000,
  "1h": 3_600_000,
  "1d": 86_400_000,
};
export const ALERT_SEVERITIES = ["info", "warning", "error", "critical"] as const satisfies readonly Severity[];
export const ALERT_OPERATORS = [">", ">=", "<", "<="] as const;
export type AlertOperator = (typeof ALERT_OPERATORS)[number];

/**
 * What a threshold rule measures. `local-hosts` is every local host (localNetworks), each its
 * own alert, optionally narrowed by a CIDR value; `category` is an nDPI category (Web, ...).
 */
export const ALERT_TARGET_KINDS = [
  "host",
  "network",
  "local-hosts",
  "application",
  "category",
  "interface",
  "exporter",
  "node",
] as const;
export type AlertTargetKind = (typeof ALERT_TARGET_KINDS)[number];

const HOST_LIKE: readonly AlertTargetKind[] = ["host", "network", "local-hosts"];
const TRAFFIC: readonly AlertTargetKind[] = ALERT_TARGET_KINDS;
const FLOW_QUALITY: readonly AlertTargetKind[] = ["host", "network", "local-hosts", "application", "category", "node"];

export interface AlertMetricInfo {
  description: string;
  unit: "bytes" | "packets" | "flows" | "seconds" | "ratio" | "ms" | "count" | "bps" | "pps";
  targets: readonly AlertTargetKind[];
}

/** The metrics of threshold rules, and the target kinds each applies to. */
export const ALERT_METRICS = {
  bytes: { description: "bytes sent and received in the window", unit: "bytes", targets: TRAFFIC },
  bytesSent: { description: "bytes sent in the window", unit: "bytes", targets: HOST_LIKE },
  bytesReceived: { description: "bytes received in the window", unit: "bytes", targets: HOST_LIKE },
  packets: { description: "packets sent and received in the window", unit: "packets", targets: TRAFFIC },
  flows: { description: "flows seen in the window", unit: "flows", targets: TRAFFIC },
  bps: { description: "average bits per second over the window", unit: "bps", targets: TRAFFIC },
  pps: { description: "average packets per second over the window", unit: "pps", targets: TRAFFIC },
  dnsBytes: { description: "bytes of DNS in the window", unit: "bytes", targets: HOST_LIKE },
  p2pBytes: {
    description: "bytes of peer-to-peer file sharing (nDPI category Download-FileTransfer-FileSharing) in the window",
    unit: "bytes",
    targets: HOST_LIKE,
  },
  activityTime: {
    description: "seconds of the window in which the target had traffic (10 s resolution)",
    unit: "seconds",
    targets: TRAFFIC,
  },
  idleTime: { description: "seconds since the target last had traffic", unit: "seconds", targets: TRAFFIC },
  retransmissionRatio: {
    description: "TCP retransmitted packets / TCP packets in the window (0..1)",
    unit: "ratio",
    targets: FLOW_QUALITY,
  },
  clientLatencyMs: {
    description: "mean client-side TCP handshake latency of the window's flows",
    unit: "ms",
    targets: FLOW_QUALITY,
  },
  serverLatencyMs: {
    description: "mean server-side TCP handshake latency of the window's flows",
    unit: "ms",
    targets: FLOW_QUALITY,
  },
  distinctPeers: { description: "distinct peer addresses in the window", unit: "count", targets: HOST_LIKE },
  distinctPorts: {
    description: "distinct server ports contacted or served in the window",
    unit: "count",
    targets: HOST_LIKE,
  },
} as const satisfies Record<string, AlertMetricInfo>;
export type AlertFixedMetric = keyof typeof ALERT_METRICS;

/**
 * `appBytes_<APP>`: bytes of one application (nDPI name, `.` written as `_`, e.g.
 * appBytes_BitTorrent, appBytes_TLS_Google); APP also matches the application's sub-protocols
 * (appBytes_TLS counts TLS.Google).
 */
export const APP_BYTES_METRIC_PREFIX = "appBytes_";
export const ALERT_METRIC_NAMES: readonly string[] = [...Object.keys(ALERT_METRICS), `${APP_BYTES_METRIC_PREFIX}<APP>`];

/** Distinct counts are kept exactly up to this many per target (and reported as this beyond). */
export const DISTINCT_COUNT_CAP = 4096;

/** nDPI flow risks as Flowlens names them (a slug of nDPI 4.2's name), and nDPI's own name. */
export const NDPI_RISKS = {
  "xss-attack": "XSS Attack",
  "sql-injection": "SQL Injection",
  "rce-injection": "RCE Injection",
  "binary-application-transfer": "Binary Application Transfer",
  "known-protocol-on-non-standard-port": "Known Protocol on Non Standard Port",
  "self-signed-certificate": "Self-signed Certificate",
  "obsolete-tls-version": "Obsolete TLS Version (1.1 or older)",
  "weak-tls-cipher": "Weak TLS Cipher",
  "tls-expired-certificate": "TLS Expired Certificate",
  "tls-certificate-mismatch": "TLS Certificate Mismatch",
  "http-suspicious-user-agent": "HTTP Suspicious User-Agent",
  "http-numeric-ip-address": "HTTP Numeric IP Address",
  "http-suspicious-url": "HTTP Suspicious URL",
  "http-suspicious-header": "HTTP Suspicious Header",
  "tls-not-carrying-https": "TLS (probably) Not Carrying HTTPS",
  "suspicious-dga-domain": "Suspicious DGA Domain name",
  "malformed-packet": "Malformed Packet",
  "ssh-obsolete-client": "SSH Obsolete Client Version/Cipher",
  "ssh-obsolete-server": "SSH Obsolete Server Version/Cipher",
  "smb-insecure-version": "SMB Insecure Version",
  "tls-suspicious-esni": "TLS Suspicious ESNI Usage",
  "unsafe-protocol": "Unsafe Protocol",
  "suspicious-dns-traffic": "Suspicious DNS Traffic",
  "missing-sni": "Missing SNI TLS Extension",
  "http-suspicious-content": "HTTP Suspicious Content",
  "risky-asn": "Risky ASN",
  "risky-domain": "Risky Domain Name",
  "malicious-ja3": "Possibly Malicious JA3 Fingerprint",
  "malicious-sha1-certificate": "Possibly Malicious SSL Cert. SHA1 Fingerprint",
  "desktop-file-sharing": "Desktop/File Sharing Session",
  "uncommon-tls-alpn": "Uncommon TLS ALPN",
  "tls-certificate-validity-too-long": "TLS Certificate Validity Too Long",
  "tls-suspicious-extension": "TLS Suspicious Extension",
  "tls-fatal-alert": "TLS Fatal Alert",
  "suspicious-entropy": "Suspicious Entropy",
  "clear-text-credentials": "Clear-Text Credentials",
  "large-dns-packet": "DNS Packet Larger Than 512 bytes",
  "fragmented-dns": "Fragmented DNS Message",
  "non-printable-characters": "Text Contains Non-Printable Characters",
  "possible-exploit": "Possible Exploit Detected",
  "tls-certificate-about-to-expire": "TLS Certificate About To Expire",
} as const;
export type NdpiRiskSlug = keyof typeof NDPI_RISKS;
export const NDPI_RISK_SLUGS = Object.keys(NDPI_RISKS) as NdpiRiskSlug[];

/** The TLS risks of the tls-risks check (the rest are flow-risks'). */
export const TLS_RISK_SLUGS: readonly NdpiRiskSlug[] = [
  "self-signed-certificate",
  "obsolete-tls-version",
  "weak-tls-cipher",
  "tls-expired-certificate",
  "tls-certificate-mismatch",
  "tls-not-carrying-https",
  "tls-suspicious-esni",
  "missing-sni",
  "uncommon-tls-alpn",
  "tls-certificate-validity-too-long",
  "tls-suspicious-extension",
  "tls-fatal-alert",
  "tls-certificate-about-to-expire",
  "malicious-ja3",
  "malicious-sha1-certificate",
];

export type CheckParamSpec =
  | { type: "integer"; min: number; max: number; default?: number; description: string }
  | { type: "number"; min: number; max: number; default?: number; description: string }
  | { type: "boolean"; default: boolean; description: string }
  | {
      type: "list";
      /** The allowed members; absent: any non-empty word (application names, ...). */
      values?: readonly string[];
      /** "cidr": each member is a CIDR or an address. */
      format?: "cidr" | "name";
      default?: readonly string[];
      description: string;
    }
  | { type: "path"; default?: string; description: string };

export interface AlertCheckInfo {
  description: string;
  /** host: engaged while the condition holds, per host; flow: one-shot per offending flow. */
  scope: "host" | "flow";
  params: Readonly<Record<string, CheckParamSpec>>;
}

const enabledParam = { type: "boolean", default: true, description: "false turns the check off" } as const;
const windowParam = (d: number) =>
  ({ type: "integer", min: 1, max: 3600, default: d, description: "window in seconds (flow time)" }) as const;

/** The built-in checks and their parameters (param values in a rule: integers or strings). */
export const ALERT_CHECKS = {
  "port-scan": {
    description:
      "a source contacting many distinct ports of one host (vertical) or many hosts (horizontal) in a window; by default only unanswered or refused attempts count (SYN scans), which needs both directions of a flow in one record (agents' flows, IPFIX biflows): set unansweredOnly to false for one-way exports (NetFlow v5/v9, uniflow IPFIX, sFlow)",
    scope: "host",
    params: {
      enabled: enabledParam,
      windowSeconds: windowParam(60),
      ports: { type: "integer", min: 0, max: 1000, default: 100, description: "distinct ports on one host; 0: off" },
      hosts: { type: "integer", min: 0, max: 1000, default: 100, description: "distinct hosts; 0: off" },
      unansweredOnly: { type: "boolean", default: true, description: "count only attempts that got no answer" },
    },
  },
  "syn-flood": {
    description:
      "a host receiving TCP SYNs that never complete a handshake, at a rate, from several sources (spoofed or distributed); judged on records with both directions of a flow (agents' flows, IPFIX biflows), never on one-way exports, where the reply is a record of its own",
    scope: "host",
    params: {
      enabled: enabledParam,
      windowSeconds: windowParam(10),
      rate: { type: "integer", min: 1, max: 1_000_000, default: 50, description: "incomplete handshakes per second" },
      minSources: { type: "integer", min: 1, max: 1000, default: 8, description: "distinct sources at least" },
    },
  },
  "icmp-flood": {
    description: "a host sending or receiving ICMP/ICMPv6 packets above a rate",
    scope: "host",
    params: {
      enabled: enabledParam,
      windowSeconds: windowParam(10),
      rate: { type: "integer", min: 1, max: 10_000_000, default: 500, description: "ICMP packets per second" },
    },
  },
  "flow-flood": {
    description: "a host opening (or receiving) new flows above a rate",
    scope: "host",
    params: {
      enabled: enabledParam,
      windowSeconds: windowParam(10),
      rate: { type: "integer", min: 1, max: 10_000_000, default: 256, description: "flows per second" },
    },
  },
  "dns-errors": {
    description: "a client getting DNS error answers (NXDOMAIN, SERVFAIL, ...) in a burst",
    scope: "host",
    params: {
      enabled: enabledParam,
      windowSeconds: windowParam(60),
      count: { type: "integer", min: 1, max: 1_000_000, default: 5, description: "error answers in the window" },
      rcodes: {
        type: "list",
        format: "name",
        default: ["2", "3", "5"],
        description: "DNS rcodes that count as errors (numbers: 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED)",
      },
    },
  },
  "blacklisted-host": {
    description:
      "a flow to or from an address on a blacklist (addresses and CIDRs in a file, reloaded on change, or at an http(s) URL, re-fetched periodically)",
    scope: "flow",
    params: {
      enabled: enabledParam,
      file: {
        type: "path",
        description: "the list (a path, or an http:// or https:// URL): one address or CIDR per line, # comments",
      },
      refreshSeconds: {
        type: "integer",
        min: 10,
        max: 86_400,
        default: 300,
        description: "how often a list at a URL is fetched again (a file is reloaded when it changes)",
      },
    },
  },
  "unexpected-application": {
    description: "an application that should not run on some hosts (e.g. BitTorrent on servers)",
    scope: "flow",
    params: {
      enabled: enabledParam,
      applications: {
        type: "list",
        format: "name",
        description: "nDPI applications or categories (BitTorrent, Download-FileTransfer-FileSharing)",
      },
      networks: { type: "list", format: "cidr", description: "where they are unexpected (default: everywhere)" },
    },
  },
  "tls-risks": {
    description: "TLS flows with nDPI risks: self-signed, expired or mismatched certificates, no SNI, old TLS, ...",
    scope: "flow",
    params: {
      enabled: enabledParam,
      risks: {
        type: "list",
        values: TLS_RISK_SLUGS,
        // Not on by default: common on healthy networks (ntopng scores them low too).
        default: TLS_RISK_SLUGS.filter(
          (r) => !["tls-not-carrying-https", "weak-tls-cipher", "uncommon-tls-alpn", "tls-fatal-alert"].includes(r),
        ),
        description: "risks that alert",
      },
    },
  },
  "flow-risks": {
    description: "other nDPI flow risks (injections, binary transfers, clear-text credentials, DGA domains, ...)",
    scope: "flow",
    params: {
      enabled: enabledParam,
      risks: {
        type: "list",
        values: NDPI_RISK_SLUGS,
        default: [
          "xss-attack",
          "sql-injection",
          "rce-injection",
          "binary-application-transfer",
          "suspicious-dga-domain",
          "smb-insecure-version",
          "risky-domain",
          "risky-asn",
          "clear-text-credentials",
          "possible-exploit",
          "http-suspicious-content",
        ],
        description: "risks that alert",
      },
    },
  },
  "high-rtt": {
    description: "TCP flows whose handshake latency (client or server side) exceeds a bound",
    scope: "flow",
    params: {
      enabled: enabledParam,
      clientMs: { type: "integer", min: 0, max: 600_000, default: 500, description: "client side; 0: off" },
      serverMs: { type: "integer", min: 0, max: 600_000, default: 500, description: "server side; 0: off" },
    },
  },
  retransmissions: {
    description: "TCP flows with a high ratio of retransmitted packets",
    scope: "flow",
    params: {
      enabled: enabledParam,
      ratio: { type: "number", min: 0, max: 1, default: 0.1, description: "retransmits / packets" },
      minPackets: { type: "integer", min: 1, max: 1_000_000_000, default: 50, description: "packets of the flow" },
    },
  },
  "long-lived-flow": {
    description: "flows lasting longer than a bound",
    scope: "flow",
    params: {
      enabled: enabledParam,
      seconds: { type: "integer", min: 1, max: 31_536_000, default: 3600, description: "duration" },
    },
  },
  "insecure-protocol": {
    description: "a remote host using a clear-text/insecure protocol on a local host (telnet, FTP, ...)",
    scope: "flow",
    params: {
      enabled: enabledParam,
      applications: {
        type: "list",
        format: "name",
        default: ["Telnet", "FTP_CONTROL", "TFTP", "Rlogin", "RSH", "POP3", "IMAP", "VNC", "SMBv1", "SNMP", "Rsync"],
        description: "nDPI applications considered insecure",
      },
    },
  },
} as const satisfies Record<string, AlertCheckInfo>;
export type AlertCheckName = keyof typeof ALERT_CHECKS;
export const ALERT_CHECK_NAMES = Object.keys(ALERT_CHECKS) as AlertCheckName[];

export const NOTIFY_KINDS = ["webhook", "slack", "email", "alertmanager", "syslog", "nagios"] as const;
export type NotifyKind = (typeof NOTIFY_KINDS)[number];

export interface AlertThresholdDefinition {
  target: { kind: AlertTargetKind; value: string };
  /** A key of ALERT_METRICS, or appBytes_<APP> (then `application` is set). */
  metric: string;
  /** For appBytes_<APP>: the nDPI name (dots restored). */
  application?: string;
  window: AlertWindow;
  windowMs: number;
  operator: AlertOperator;
  value: number;
  hysteresis: number;
}

export type CheckParamValue = number | boolean | string | readonly string[];

export interface AlertCheckDefinition {
  name: AlertCheckName;
  /** Every parameter of the check, defaults filled in. */
  params: Readonly<Record<string, CheckParamValue>>;
}

/** A validated rule: exactly one of threshold and check. */
export interface AlertRuleDefinition {
  /** namespace/name for resources, the name otherwise. */
  name: string;
  severity: Severity;
  threshold?: AlertThresholdDefinition;
  check?: AlertCheckDefinition;
  /** A check with enabled=false. */
  enabled: boolean;
  notify: { kind: NotifyKind; target: string }[];
}

export type ParseAlertRuleResult = { ok: true; rule: AlertRuleDefinition } | { ok: false; errors: string[] };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const HOSTNAME = /^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$/;
const NDPI_NAME = /^[A-Za-z0-9][A-Za-z0-9_.+\-/]{0,63}$/;

/** `a.b.c.d/n` or `v6/n` with the prefix in range; null when it is not one. */
export function parseCidrText(s: string): { addr: string; prefix: number } | null {
  const slash = s.indexOf("/");
  if (slash < 0) return null;
  const addr = s.slice(0, slash);
  const p = s.slice(slash + 1);
  const v = isIP(addr);
  if (v === 0 || !/^[0-9]{1,3}$/.test(p)) return null;
  const prefix = Number(p);
  return prefix <= (v === 4 ? 32 : 128) ? { addr, prefix } : null;
}

function checkTarget(t: unknown, errors: string[]): { kind: AlertTargetKind; value: string } | undefined {
  if (!isRecord(t)) {
    errors.push("spec.threshold.target: required, an object {kind, value}");
    return undefined;
  }
  const kind = t.kind;
  const value = t.value;
  if (typeof kind !== "string" || !(ALERT_TARGET_KINDS as readonly string[]).includes(kind)) {
    errors.push(`spec.threshold.target.kind: ${JSON.stringify(kind)} is not one of ${ALERT_TARGET_KINDS.join(", ")}`);
    return undefined;
  }
  if (typeof value !== "string" || value.length === 0 || value.length > 253) {
    errors.push("spec.threshold.target.value: required, a string of 1 to 253 characters");
    return undefined;
  }
  const k = kind as AlertTargetKind;
  const bad = (what: string) => errors.push(`spec.threshold.target.value: ${JSON.stringify(value)}: ${what}`);
  switch (k) {
    case "host":
    case "exporter":
      if (isIP(value) === 0) bad(`a ${k} target is an IP address`);
      break;
    case "network":
      if (parseCidrText(value) === null) bad("a network target is a CIDR such as 10.0.0.0/8");
      break;
    case "local-hosts":
      if (value !== "*" && parseCidrText(value) === null) bad("a local-hosts target is * (all) or a CIDR inside them");
      break;
    case "interface": {
      const colon = value.lastIndexOf(":");
      const ifIndex = value.slice(colon + 1);
      if (
        colon < 0 ||
        isIP(value.slice(0, colon)) === 0 ||
        !/^[0-9]{1,10}$/.test(ifIndex) ||
        Number(ifIndex) > 0xffffffff
      )
        bad("an interface target is EXPORTER:IFINDEX, e.g. 192.0.2.1:3");
      break;
    }
    case "application":
    case "category":
      if (!NDPI_NAME.test(value))
        bad(`an ${k} target is an nDPI name such as ${k === "application" ? "TLS.Google" : "Web"}`);
      break;
    case "node":
      if (!HOSTNAME.test(value)) bad("a node target is a node name");
      break;
  }
  return { kind: k, value };
}

function finiteNumber(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

function checkThreshold(t: Record<string, unknown>, errors: string[]): AlertThresholdDefinition | undefined {
  const n0 = errors.length;
  const target = checkTarget(t.target, errors);
  const metric = t.metric;
  let application: string | undefined;
  if (typeof metric !== "string" || metric.length === 0) {
    errors.push("spec.threshold.metric: required, a string");
  } else if (metric.startsWith(APP_BYTES_METRIC_PREFIX)) {
    const app = metric.slice(APP_BYTES_METRIC_PREFIX.length);
    if (!/^[A-Za-z0-9][A-Za-z0-9_]{0,62}$/.test(app)) {
      errors.push(`spec.threshold.metric: ${JSON.stringify(metric)}: appBytes_ is followed by an nDPI name (. as _)`);
    } else {
      application = app.replaceAll("_", ".");
      if (target && !HOST_LIKE.includes(target.kind))
        errors.push(`spec.threshold.metric: ${metric} applies to ${HOST_LIKE.join(", ")} targets, not ${target.kind}`);
    }
  } else if (!Object.hasOwn(ALERT_METRICS, metric)) {
    errors.push(
      `spec.threshold.metric: unknown metric ${JSON.stringify(metric)}; known: ${Object.keys(ALERT_METRICS).join(", ")}, ${APP_BYTES_METRIC_PREFIX}<APP>`,
    );
  } else if (target) {
    const info: AlertMetricInfo = ALERT_METRICS[metric as AlertFixedMetric];
    if (!info.targets.includes(target.kind))
      errors.push(
        `spec.threshold.metric: ${metric} is not measured for ${target.kind} targets (only ${info.targets.join(", ")})`,
      );
  }
  const window = t.window;
  if (typeof window !== "string" || !(ALERT_WINDOWS as readonly string[]).includes(window))
    errors.push(`spec.threshold.window: ${JSON.stringify(window)} is not one of ${ALERT_WINDOWS.join(", ")}`);
  const operator = t.operator;
  if (typeof operator !== "string" || !(ALERT_OPERATORS as readonly string[]).includes(operator))
    errors.push(`spec.threshold.operator: ${JSON.stringify(operator)} is not one of ${ALERT_OPERATORS.join(" ")}`);
  const value = finiteNumber(t.value);
  if (value === undefined) errors.push("spec.threshold.value: required, a finite number");
  else if (value < 0) errors.push(`spec.threshold.value: ${value}: metrics are never negative`);
  let hysteresis = 0;
  if (t.hysteresis !== undefined) {
    const h = finiteNumber(t.hysteresis);
    if (h === undefined || h < 0) errors.push("spec.threshold.hysteresis: a finite number >= 0");
    else hysteresis = h;
  }
  if (value !== undefined && typeof operator === "string") {
    if ((operator === ">" || operator === ">=") && hysteresis > value)
      errors.push(
        `spec.threshold.hysteresis: ${hysteresis} is larger than the value ${value}: the alert could never be released`,
      );
    if (operator === "<" && value === 0) errors.push("spec.threshold.value: < 0 can never hold (metrics are >= 0)");
  }
  if (value !== undefined && typeof metric === "string") {
    if (metric === "retransmissionRatio" && value > 1)
      errors.push(`spec.threshold.value: ${value}: retransmissionRatio is between 0 and 1`);
    if ((metric === "distinctPeers" || metric === "distinctPorts") && value >= DISTINCT_COUNT_CAP)
      errors.push(`spec.threshold.value: ${value}: distinct counts are kept up to ${DISTINCT_COUNT_CAP - 1}`);
    if (
      (metric === "idleTime" || metric === "activityTime") &&
      typeof window === "string" &&
      window in ALERT_WINDOW_MS
    ) {
      const max = ALERT_WINDOW_MS[window as AlertWindow] / 1000;
      if (metric === "activityTime" && value > max)
        errors.push(`spec.threshold.value: ${value}: activityTime is at most the window (${max} s)`);
    }
  }
  if (errors.length > n0 || target === undefined) return undefined;
  const w = window as AlertWindow;
  return {
    target,
    metric: metric as string,
    ...(application !== undefined ? { application } : {}),
    window: w,
    windowMs: ALERT_WINDOW_MS[w],
    operator: operator as AlertOperator,
    value: value as number,
    hysteresis,
  };
}

function paramValue(
  name: string,
  spec: CheckParamSpec,
  raw: unknown,
  field: string,
  errors: string[],
): CheckParamValue | undefined {
  switch (spec.type) {
    case "integer":
    case "number": {
      const n = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : Number.NaN;
      if (!Number.isFinite(n) || (spec.type === "integer" && !Number.isInteger(n))) {
        errors.push(`${field}: ${JSON.stringify(raw)} is not ${spec.type === "integer" ? "an integer" : "a number"}`);
        return undefined;
      }
      if (n < spec.min || n > spec.max) {
        errors.push(`${field}: ${n} is out of range [${spec.min}, ${spec.max}]`);
        return undefined;
      }
      return n;
    }
    case "boolean":
      if (raw === true || raw === "true") return true;
      if (raw === false || raw === "false") return false;
      errors.push(`${field}: ${JSON.stringify(raw)} is not "true" or "false"`);
      return undefined;
    case "path":
      if (typeof raw !== "string" || raw.length === 0 || raw.includes("\0")) {
        errors.push(`${field}: a file path`);
        return undefined;
      }
      return raw;
    case "list": {
      const items = Array.isArray(raw)
        ? raw
        : typeof raw === "string"
          ? raw
              .split(",")
              .map((s) => s.trim())
              .filter((s) => s !== "")
          : typeof raw === "number"
            ? [String(raw)]
            : null;
      if (items === null || items.length === 0 || items.some((s) => typeof s !== "string")) {
        errors.push(`${field}: a non-empty comma-separated list`);
        return undefined;
      }
      const list = items as string[];
      const bad: string[] = [];
      for (const item of list) {
        if (spec.values !== undefined) {
          if (!spec.values.includes(item)) bad.push(item);
        } else if (spec.format === "cidr") {
          if (isIP(item) === 0 && parseCidrText(item) === null) bad.push(item);
        } else if (!NDPI_NAME.test(item)) bad.push(item);
      }
      if (bad.length > 0) {
        const known = spec.values !== undefined ? `; known: ${spec.values.join(", ")}` : "";
        const what =
          spec.format === "cidr" ? "not an address or CIDR" : spec.values ? `not a known ${name} value` : "not a name";
        errors.push(`${field}: ${bad.map((b) => JSON.stringify(b)).join(", ")}: ${what}${known}`);
        return undefined;
      }
      return list;
    }
  }
}

function checkCheck(c: Record<string, unknown>, errors: string[]): AlertCheckDefinition | undefined {
  const name = c.name;
  if (typeof name !== "string" || !Object.hasOwn(ALERT_CHECKS, name)) {
    errors.push(`spec.check.name: unknown check ${JSON.stringify(name)}; known: ${ALERT_CHECK_NAMES.join(", ")}`);
    return undefined;
  }
  const info: AlertCheckInfo = ALERT_CHECKS[name as AlertCheckName];
  const raw = c.params ?? {};
  if (!isRecord(raw)) {
    errors.push("spec.check.params: an object of name: value");
    return undefined;
  }
  const n0 = errors.length;
  const params: Record<string, CheckParamValue> = {};
  for (const key of Object.keys(raw)) {
    if (!Object.hasOwn(info.params, key))
      errors.push(
        `spec.check.params.${key}: ${name} has no parameter ${key}; it takes ${Object.keys(info.params).join(", ")}`,
      );
  }
  for (const [key, spec] of Object.entries(info.params)) {
    const field = `spec.check.params.${key}`;
    if (raw[key] === undefined || raw[key] === null) {
      if (spec.default === undefined) {
        // Required unless the check is off anyway.
        if (raw.enabled !== false && raw.enabled !== "false" && key !== "networks")
          errors.push(`${field}: required by ${name}`);
        continue;
      }
      params[key] = spec.default;
      continue;
    }
    const v = paramValue(key, spec, raw[key], field, errors);
    if (v !== undefined) params[key] = v;
  }
  if (name === "port-scan" && params.ports === 0 && params.hosts === 0)
    errors.push("spec.check.params: port-scan with ports=0 and hosts=0 checks nothing");
  if (name === "high-rtt" && params.clientMs === 0 && params.serverMs === 0)
    errors.push("spec.check.params: high-rtt with clientMs=0 and serverMs=0 checks nothing");
  if (name === "blacklisted-host" && typeof params.file === "string") {
    const urlError = blacklistUrlError(params.file);
    if (urlError !== undefined) errors.push(`spec.check.params.file: ${urlError}`);
  }
  if (name === "dns-errors" && Array.isArray(params.rcodes)) {
    const bad = (params.rcodes as string[]).filter((r) => !/^[0-9]{1,2}$/.test(r) || Number(r) === 0 || Number(r) > 23);
    if (bad.length > 0) errors.push(`spec.check.params.rcodes: ${bad.join(", ")}: DNS error rcodes are 1 to 23`);
  }
  if (errors.length > n0) return undefined;
  return { name: name as AlertCheckName, params };
}

/** Whether a blacklist's `file` names a URL to fetch rather than a path to read. */
export function isListUrl(file: string): boolean {
  return /^https?:\/\//i.test(file);
}

/** Why a blacklist `file` that looks like a URL is not a usable one (a path is always fine). */
function blacklistUrlError(file: string): string | undefined {
  if (!isListUrl(file)) {
    // "ftp://..." or "s3://..." would otherwise be read as a relative path and fail much later.
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(file);
    return scheme ? `${JSON.stringify(file)}: only http:// and https:// URLs (or a file path)` : undefined;
  }
  let url: URL;
  try {
    url = new URL(file);
  } catch {
    return `${JSON.stringify(file)}: not a valid URL`;
  }
  if (url.hostname === "") return `${JSON.stringify(file)}: a URL without a host`;
  if (url.username !== "" || url.password !== "") return `${JSON.stringify(file)}: credentials do not belong in a rule`;
  return undefined;
}

function checkNotify(list: unknown, errors: string[]): AlertRuleDefinition["notify"] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) {
    errors.push("spec.notify: a list of {kind, target}");
    return [];
  }
  if (list.length > 16) errors.push(`spec.notify: ${list.length} endpoints, at most 16`);
  const out: AlertRuleDefinition["notify"] = [];
  list.forEach((n, i) => {
    const field = `spec.notify[${i}]`;
    if (!isRecord(n)) {
      errors.push(`${field}: an object {kind, target}`);
      return;
    }
    const { kind, target } = n;
    if (typeof kind !== "string" || !(NOTIFY_KINDS as readonly string[]).includes(kind)) {
      errors.push(`${field}.kind: ${JSON.stringify(kind)} is not one of ${NOTIFY_KINDS.join(", ")}`);
      return;
    }
    if (typeof target !== "string" || target.length === 0 || target.length > 2048) {
      errors.push(`${field}.target: required, a string of 1 to 2048 characters`);
      return;
    }
    const problem = notifyTargetProblem(kind as NotifyKind, target);
    if (problem !== null) {
      errors.push(`${field}.target: ${JSON.stringify(target)}: ${problem}`);
      return;
    }
    out.push({ kind: kind as NotifyKind, target });
  });
  return out;
}

function hostPortProblem(hp: string): string | null {
  const colon = hp.lastIndexOf(":");
  if (colon <= 0) return "no :PORT";
  let host = hp.slice(0, colon);
  const port = hp.slice(colon + 1);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) return `port ${port} is not 1 to 65535`;
  if (isIP(host) === 0 && !HOSTNAME.test(host)) return `${host} is not a host name or address`;
  return null;
}

/** Why a notify target does not parse for its kind, or null when it does. */
export function notifyTargetProblem(kind: NotifyKind, target: string): string | null {
  switch (kind) {
    case "webhook":
    case "slack":
    case "alertmanager": {
      let u: URL;
      try {
        u = new URL(target);
      } catch {
        return `a ${kind} target is an http(s) URL`;
      }
      if (u.protocol !== "http:" && u.protocol !== "https:")
        return `a ${kind} target is an http(s) URL, not ${u.protocol}`;
      if (u.hostname === "") return `a ${kind} target URL needs a host`;
      return null;
    }
    case "email":
      return /^[^@\s]+@[^@\s]+\.[^@\s]+$|^[^@\s]+@[^@\s.]+$/.test(target)
        ? null
        : "an email target is an address such as ops@example.com";
    case "syslog": {
      const m = /^(?:(udp|tcp|tls):\/\/)?(.+)$/.exec(target);
      const p = m ? hostPortProblem(m[2] as string) : "unparseable";
      return p === null ? null : `a syslog target is [udp|tcp|tls://]HOST:PORT (${p})`;
    }
    case "nagios": {
      if (target.startsWith("nsca://")) {
        const p = hostPortProblem(target.slice("nsca://".length));
        return p === null ? null : `an NSCA target is nsca://HOST:PORT (${p})`;
      }
      return target.startsWith("/") ? null : "a nagios target is a command file path (absolute) or nsca://HOST:PORT";
    }
  }
}

/**
 * Validates an AlertRule: a resource `{apiVersion, kind: AlertRule, metadata: {name,
 * namespace}, spec}` or a plain `{name, ...spec}`. `origin` (a file and index, a resource
 * name) starts every error message.
 */
export function parseAlertRule(input: unknown, origin: string): ParseAlertRuleResult {
  const errors: string[] = [];
  const fail = (): ParseAlertRuleResult => ({ ok: false, errors: errors.map((e) => `${origin}: ${e}`) });
  if (!isRecord(input)) {
    errors.push("an AlertRule is an object");
    return fail();
  }
  let name: string | undefined;
  let spec: unknown;
  if (isRecord(input.metadata) || input.spec !== undefined) {
    if (input.kind !== undefined && input.kind !== "AlertRule")
      errors.push(`kind: ${JSON.stringify(input.kind)}, expected AlertRule`);
    const md = isRecord(input.metadata) ? input.metadata : {};
    const n = md.name;
    const ns = md.namespace;
    if (typeof n !== "string" || !NAME.test(n)) errors.push("metadata.name: required, a DNS-1123 name");
    else if (ns !== undefined && (typeof ns !== "string" || !NAME.test(ns)))
      errors.push("metadata.namespace: a DNS-1123 name");
    else name = typeof ns === "string" ? `${ns}/${n}` : n;
    spec = input.spec;
  } else {
    const { name: n, ...rest } = input;
    if (typeof n !== "string" || !/^[a-z0-9]([-a-z0-9./]{0,251}[a-z0-9])?$/.test(n))
      errors.push("name: required, lower-case letters, digits, - . /");
    else name = n;
    spec = rest;
  }
  if (!isRecord(spec)) {
    errors.push("spec: required, an object");
    return fail();
  }
  const severity = spec.severity;
  if (typeof severity !== "string" || !(ALERT_SEVERITIES as readonly string[]).includes(severity))
    errors.push(`spec.severity: ${JSON.stringify(severity)} is not one of ${ALERT_SEVERITIES.join(", ")}`);
  const hasThreshold = spec.threshold !== undefined && spec.threshold !== null;
  const hasCheck = spec.check !== undefined && spec.check !== null;
  let threshold: AlertThresholdDefinition | undefined;
  let check: AlertCheckDefinition | undefined;
  if (hasThreshold === hasCheck) errors.push("spec: exactly one of threshold and check must be set");
  else if (hasThreshold) {
    if (!isRecord(spec.threshold)) errors.push("spec.threshold: an object");
    else threshold = checkThreshold(spec.threshold, errors);
  } else if (!isRecord(spec.check)) errors.push("spec.check: an object");
  else check = checkCheck(spec.check, errors);
  const notify = checkNotify(spec.notify, errors);
  for (const key of Object.keys(spec)) {
    if (!["collectorRef", "threshold", "check", "severity", "notify"].includes(key))
      errors.push(`spec.${key}: unknown field`);
  }
  if (errors.length > 0 || name === undefined) return fail();
  const enabled = check === undefined || check.params.enabled !== false;
  return {
    ok: true,
    rule: {
      name,
      severity: severity as Severity,
      ...(threshold ? { threshold } : {}),
      ...(check ? { check } : {}),
      enabled,
      notify,
    },
  };
}
