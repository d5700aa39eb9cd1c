// Endpoint configs as users write them (strings in an AlertRule or a config file) turned into
// typed settings, once, at the edge. parseEndpoint() is the validator the rule loader and the
// operator use; endpointSettings() is what the dispatcher builds an endpoint from.
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import {
  type AlertEntity,
  type AlertSeverity,
  type EndpointConfig,
  type EndpointKind,
  SEVERITY_RANK,
} from "./types.js";

export const ENDPOINT_KINDS: readonly EndpointKind[] = [
  "webhook",
  "slack",
  "email",
  "alertmanager",
  "syslog",
  "nagios",
];
const ENTITY_KINDS: readonly AlertEntity["kind"][] = [
  "host",
  "network",
  "application",
  "category",
  "interface",
  "exporter",
  "node",
  "flow",
];

/** Delivery settings every endpoint has: queueing, rate limit, retries, timeout. */
export interface CommonSettings {
  /** Metric label; defaults to the target without secrets. */
  name: string;
  queueSize: number;
  /** Token bucket: sustained notifications per minute and the burst above it. */
  ratePerMinute: number;
  burst: number;
  /** Attempts per notification, the first included. */
  maxAttempts: number;
  backoffMs: number;
  maxBackoffMs: number;
  timeoutMs: number;
}

export interface HttpTarget {
  url: URL;
  /** PEM file of a CA to trust besides the system's (https targets). */
  caFile?: string;
  bearerToken?: string;
}

export type KindSettings =
  | { kind: "webhook"; http: HttpTarget; secret?: string }
  | { kind: "slack"; http: HttpTarget; channel?: string; username?: string; iconEmoji?: string }
  | {
      kind: "email";
      to: string[];
      from: string;
      smtpHost: string;
      smtpPort: number;
      /** starttls: plain connection upgraded, required; implicit: TLS from the first byte (465). */
      tls: "starttls" | "implicit" | "none";
      user?: string;
      password?: string;
      caFile?: string;
      subjectPrefix: string;
    }
  | {
      kind: "alertmanager";
      http: HttpTarget;
      resendIntervalMs: number;
      /** How long a one-shot flow alert stays active in Alertmanager. */
      flowAlertTtlMs: number;
      generatorURL?: string;
    }
  | {
      kind: "syslog";
      transport: "udp" | "tcp" | "tls";
      host: string;
      port: number;
      facility: number;
      appName: string;
      hostname: string;
      sdId: string;
      caFile?: string;
      maxMessageBytes: number;
    }
  | {
      kind: "nagios";
      mode: "command-file";
      path: string;
      host: string;
      /** Fixed service description; defaults to the rule name. */
      service?: string;
    }
  | {
      kind: "nagios";
      mode: "nsca";
      host: string;
      port: number;
      nagiosHost: string;
      service?: string;
      password: string;
      /** 0 none, 1 XOR: the two methods NSCA has without libmcrypt. */
      encryption: 0 | 1;
    };

export interface EndpointSettings {
  id: string;
  kind: EndpointKind;
  common: CommonSettings;
  specific: KindSettings;
  minSeverityRank: number;
  entityKinds?: ReadonlySet<AlertEntity["kind"]>;
}

const COMMON_OPTIONS = [
  "name",
  "queueSize",
  "ratePerMinute",
  "burst",
  "maxAttempts",
  "backoffMs",
  "maxBackoffMs",
  "timeoutMs",
] as const;

const KIND_OPTIONS: Record<EndpointKind, readonly string[]> = {
  webhook: ["secret", "caFile", "bearerToken"],
  slack: ["channel", "username", "iconEmoji", "caFile"],
  email: ["from", "smtpHost", "smtpPort", "tls", "user", "password", "caFile", "subjectPrefix"],
  alertmanager: ["resendIntervalMs", "flowAlertTtlMs", "generatorURL", "caFile", "bearerToken"],
  syslog: ["facility", "appName", "hostname", "sdId", "caFile", "maxMessageBytes"],
  nagios: ["host", "service", "password", "encryption"],
};

export const SYSLOG_FACILITIES: Readonly<Record<string, number>> = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  ntp: 12,
  security: 13,
  console: 14,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
};

// RFC 5424 PRINTUSASCII (33..126) without the characters SD-NAME excludes.
const SD_NAME = /^[!#-<>-\\^-~]{1,32}$/;
const APP_NAME = /^[!-~]{1,48}$/;
const HOSTNAME = /^[!-~]{1,255}$/;
// Deliberately simple: a local part and a domain, no spaces or angle brackets. The SMTP server
// is the judge of the rest.
const EMAIL = /^[^\s@<>,;]+@[^\s@<>,;]+$/;
const NAGIOS_NAME = /^[^;\n\r\t]{1,}$/;

class Errors {
  readonly list: string[] = [];
  add(msg: string): void {
    this.list.push(msg);
  }
}

function intOption(
  opts: Record<string, string>,
  key: string,
  def: number,
  min: number,
  max: number,
  errors: Errors,
): number {
  const raw = opts[key];
  if (raw === undefined) return def;
  if (!/^\d+$/.test(raw.trim())) {
    errors.add(`options.${key}: "${raw}" is not a whole number`);
    return def;
  }
  const v = Number(raw);
  if (v < min || v > max) {
    errors.add(`options.${key}: ${v} is outside ${min}..${max}`);
    return def;
  }
  return v;
}

function parseHttpUrl(target: string, errors: Errors): URL | undefined {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    errors.add(`target: "${target}" is not a URL`);
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    errors.add(`target: "${target}" must be an http:// or https:// URL`);
    return undefined;
  }
  if (url.username || url.password) {
    errors.add("target: credentials in the URL are not allowed (use options.bearerToken)");
    return undefined;
  }
  return url;
}

/** HOST:PORT with an IPv6 host in brackets. */
function parseHostPort(s: string, what: string, errors: Errors): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]/\s]+)):(\d{1,5})$/.exec(s);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || !host || !(port >= 1 && port <= 65535)) {
    errors.add(`${what}: "${s}" is not HOST:PORT`);
    return undefined;
  }
  if (m[1] !== undefined && isIP(host) !== 6) {
    errors.add(`${what}: "${host}" is not an IPv6 address`);
    return undefined;
  }
  return { host, port };
}

function httpTarget(target: string, opts: Record<string, string>, errors: Errors): HttpTarget | undefined {
  const url = parseHttpUrl(target, errors);
  if (!url) return undefined;
  return {
    url,
    ...(opts.caFile ? { caFile: opts.caFile } : {}),
    ...(opts.bearerToken ? { bearerToken: opts.bearerToken } : {}),
  };
}

function kindSettings(cfg: EndpointConfig, opts: Record<string, string>, errors: Errors): KindSettings | undefined {
  switch (cfg.kind) {
    case "webhook": {
      const http = httpTarget(cfg.target, opts, errors);
      if (opts.secret !== undefined && opts.secret.length < 16) errors.add("options.secret: at least 16 characters");
      return http && { kind: "webhook", http, ...(opts.secret ? { secret: opts.secret } : {}) };
    }
    case "slack": {
      const http = httpTarget(cfg.target, opts, errors);
      return (
        http && {
          kind: "slack",
          http,
          ...(opts.channel ? { channel: opts.channel } : {}),
          ...(opts.username ? { username: opts.username } : {}),
          ...(opts.iconEmoji ? { iconEmoji: opts.iconEmoji } : {}),
        }
      );
    }
    case "email": {
      const to = cfg.target
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      if (to.length === 0) errors.add("target: no recipient address");
      for (const a of to) if (!EMAIL.test(a)) errors.add(`target: "${a}" is not an email address`);
      const from = opts.from ?? "";
      // An AlertRule resource's notify entry has no options: the aggregator's --smtp-from and
      // --smtp-server supply them (see defaults.ts), and the message says so.
      if (!EMAIL.test(from))
        errors.add(
          `options.from: ${from ? `"${from}" is not an email address` : "required (or the aggregator's --smtp-from)"}`,
        );
      const smtpHost = opts.smtpHost ?? "";
      if (!smtpHost || /[\s/]/.test(smtpHost))
        errors.add("options.smtpHost: required, a host name or address (or the aggregator's --smtp-server)");
      const tls = opts.tls ?? "starttls";
      if (tls !== "starttls" && tls !== "implicit" && tls !== "none") {
        errors.add(`options.tls: "${tls}" is not starttls, implicit or none`);
      }
      if ((opts.user === undefined) !== (opts.password === undefined)) {
        errors.add("options.user and options.password go together");
      }
      const smtpPort = intOption(opts, "smtpPort", tls === "implicit" ? 465 : 587, 1, 65535, errors);
      return {
        kind: "email",
        to,
        from,
        smtpHost,
        smtpPort,
        tls: tls as "starttls" | "implicit" | "none",
        ...(opts.user !== undefined ? { user: opts.user } : {}),
        ...(opts.password !== undefined ? { password: opts.password } : {}),
        ...(opts.caFile ? { caFile: opts.caFile } : {}),
        subjectPrefix: opts.subjectPrefix ?? "[Flowlens]",
      };
    }
    case "alertmanager": {
      const http = httpTarget(cfg.target, opts, errors);
      const resendIntervalMs = intOption(opts, "resendIntervalMs", 60_000, 100, 3_600_000, errors);
      const flowAlertTtlMs = intOption(opts, "flowAlertTtlMs", 300_000, 1000, 86_400_000, errors);
      if (opts.generatorURL !== undefined) parseHttpUrl(opts.generatorURL, errors);
      return (
        http && {
          kind: "alertmanager",
          http,
          resendIntervalMs,
          flowAlertTtlMs,
          ...(opts.generatorURL ? { generatorURL: opts.generatorURL } : {}),
        }
      );
    }
    case "syslog": {
      const m = /^(?:(udp|tcp|tls):\/\/)?(.+)$/.exec(cfg.target);
      const transport = (m?.[1] ?? "udp") as "udp" | "tcp" | "tls";
      const hp = parseHostPort(m?.[2] ?? "", "target", errors);
      const fac = opts.facility ?? "local0";
      const facility = /^\d+$/.test(fac) ? Number(fac) : SYSLOG_FACILITIES[fac];
      if (facility === undefined || facility > 23) errors.add(`options.facility: "${fac}" is not a syslog facility`);
      const appName = opts.appName ?? "flowlens";
      if (!APP_NAME.test(appName)) errors.add("options.appName: 1 to 48 printable ASCII characters");
      const hostname = opts.hostname ?? "";
      if (opts.hostname !== undefined && !HOSTNAME.test(hostname)) {
        errors.add("options.hostname: 1 to 255 printable ASCII characters");
      }
      const sdId = opts.sdId ?? "flowlens@32473";
      if (!SD_NAME.test(sdId)) errors.add(`options.sdId: "${sdId}" is not an RFC 5424 SD-ID`);
      const maxMessageBytes = intOption(opts, "maxMessageBytes", transport === "udp" ? 2048 : 8192, 480, 65000, errors);
      return (
        hp && {
          kind: "syslog",
          transport,
          host: hp.host,
          port: hp.port,
          facility: facility ?? 16,
          appName,
          hostname,
          sdId,
          ...(opts.caFile ? { caFile: opts.caFile } : {}),
          maxMessageBytes,
        }
      );
    }
    case "nagios": {
      const host = opts.host ?? "flowlens";
      if (!NAGIOS_NAME.test(host) || host.length > 63) errors.add("options.host: 1 to 63 characters, no ; or newline");
      const service = opts.service;
      if (service !== undefined && (!NAGIOS_NAME.test(service) || service.length > 127)) {
        errors.add("options.service: 1 to 127 characters, no ; or newline");
      }
      if (cfg.target.startsWith("nsca://")) {
        const hp = parseHostPort(cfg.target.slice("nsca://".length), "target", errors);
        const enc = opts.encryption ?? "1";
        if (enc !== "0" && enc !== "1")
          errors.add(`options.encryption: "${enc}" (only 0 none and 1 XOR are supported)`);
        const password = opts.password ?? "";
        if (password.length > 511) errors.add("options.password: at most 511 characters");
        return (
          hp && {
            kind: "nagios",
            mode: "nsca",
            host: hp.host,
            port: hp.port,
            nagiosHost: host,
            ...(service ? { service } : {}),
            password,
            encryption: enc === "0" ? 0 : 1,
          }
        );
      }
      if (!cfg.target.startsWith("/")) {
        errors.add(`target: "${cfg.target}" is neither an absolute command file path nor nsca://HOST:PORT`);
        return undefined;
      }
      return { kind: "nagios", mode: "command-file", path: cfg.target, host, ...(service ? { service } : {}) };
    }
  }
}

/** The target as it may appear in logs and metric labels: no path tokens, no credentials. */
export function redactedTarget(kind: EndpointKind, target: string): string {
  if (kind === "webhook" || kind === "slack" || kind === "alertmanager") {
    try {
      return new URL(target).origin;
    } catch {
      return "invalid-url";
    }
  }
  return target;
}

/** Endpoint identity: kind + target + a hash of the options (so a changed secret is a new endpoint). */
export function endpointId(cfg: EndpointConfig): string {
  const opts = cfg.options ?? {};
  const keys = Object.keys(opts).sort();
  const h = createHash("sha256");
  for (const k of keys) h.update(`${k}\0${opts[k]}\0`);
  return `${cfg.kind}|${cfg.target}|${h.digest("hex").slice(0, 16)}`;
}

/** Typed settings of a config whose shape is already an EndpointConfig, or every problem found. */
export function endpointSettings(
  cfg: EndpointConfig,
): { ok: true; settings: EndpointSettings } | { ok: false; errors: string[] } {
  const errors = new Errors();
  const opts = cfg.options ?? {};
  const known = new Set<string>([...COMMON_OPTIONS, ...KIND_OPTIONS[cfg.kind]]);
  for (const k of Object.keys(opts)) {
    if (!known.has(k)) errors.add(`options.${k}: unknown option for ${cfg.kind} (known: ${[...known].join(", ")})`);
  }
  const ratePerMinute = intOption(opts, "ratePerMinute", 60, 1, 60_000, errors);
  const backoffMs = intOption(opts, "backoffMs", 1000, 10, 600_000, errors);
  const common: CommonSettings = {
    name: opts.name ?? redactedTarget(cfg.kind, cfg.target),
    queueSize: intOption(opts, "queueSize", 1000, 1, 100_000, errors),
    ratePerMinute,
    burst: intOption(opts, "burst", 20, 1, 10_000, errors),
    maxAttempts: intOption(opts, "maxAttempts", 5, 1, 100, errors),
    backoffMs,
    maxBackoffMs: intOption(opts, "maxBackoffMs", 60_000, backoffMs, 3_600_000, errors),
    timeoutMs: intOption(opts, "timeoutMs", 10_000, 50, 300_000, errors),
  };
  if (opts.name !== undefined && !/^[\w.:@/-]{1,64}$/.test(opts.name)) {
    errors.add("options.name: 1 to 64 of letters, digits and . : @ / - _");
  }
  const specific = kindSettings(cfg, opts, errors);
  if (errors.list.length > 0 || !specific) return { ok: false, errors: errors.list };
  return {
    ok: true,
    settings: {
      id: endpointId(cfg),
      kind: cfg.kind,
      common,
      specific,
      minSeverityRank: SEVERITY_RANK[cfg.minSeverity ?? "info"],
      ...(cfg.entityKinds ? { entityKinds: new Set(cfg.entityKinds) } : {}),
    },
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Validates an endpoint config from outside (an AlertRule's notify list, a config file).
 * Returns the config in its typed form, or every problem found, each naming its field.
 */
export function parseEndpoint(
  input: unknown,
): { ok: true; endpoint: EndpointConfig } | { ok: false; errors: string[] } {
  if (!isRecord(input)) return { ok: false, errors: ["endpoint: expected an object"] };
  const errors: string[] = [];
  for (const k of Object.keys(input)) {
    if (!["kind", "target", "minSeverity", "entityKinds", "options"].includes(k)) errors.push(`${k}: unknown field`);
  }
  const kind = input.kind;
  if (typeof kind !== "string" || !ENDPOINT_KINDS.includes(kind as EndpointKind)) {
    errors.push(`kind: ${JSON.stringify(kind)} is not one of ${ENDPOINT_KINDS.join(", ")}`);
  }
  const target = input.target;
  if (typeof target !== "string" || target.length === 0 || target.length > 2048) {
    errors.push("target: required, a string of at most 2048 characters");
  }
  const minSeverity = input.minSeverity;
  if (minSeverity !== undefined && (typeof minSeverity !== "string" || !(minSeverity in SEVERITY_RANK))) {
    errors.push(`minSeverity: ${JSON.stringify(minSeverity)} is not one of ${Object.keys(SEVERITY_RANK).join(", ")}`);
  }
  const entityKinds = input.entityKinds;
  if (
    entityKinds !== undefined &&
    (!Array.isArray(entityKinds) ||
      entityKinds.length === 0 ||
      !entityKinds.every((k) => ENTITY_KINDS.includes(k as AlertEntity["kind"])))
  ) {
    errors.push(`entityKinds: a non-empty list of ${ENTITY_KINDS.join(", ")}`);
  }
  const options = input.options;
  const opts: Record<string, string> = {};
  if (options !== undefined) {
    if (!isRecord(options)) errors.push("options: expected an object of strings");
    else {
      for (const [k, v] of Object.entries(options)) {
        // Numbers and booleans are accepted as written in YAML; everything is a string inside.
        if (typeof v === "string") opts[k] = v;
        else if (typeof v === "number" || typeof v === "boolean") opts[k] = String(v);
        else errors.push(`options.${k}: expected a string`);
      }
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  const endpoint: EndpointConfig = {
    kind: kind as EndpointKind,
    target: target as string,
    ...(minSeverity !== undefined ? { minSeverity: minSeverity as AlertSeverity } : {}),
    ...(entityKinds !== undefined ? { entityKinds: [...new Set(entityKinds as AlertEntity["kind"][])] } : {}),
    ...(options !== undefined ? { options: opts } : {}),
  };
  const typed = endpointSettings(endpoint);
  return typed.ok ? { ok: true, endpoint } : { ok: false, errors: typed.errors };
}
