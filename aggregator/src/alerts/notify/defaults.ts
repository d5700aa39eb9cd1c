// Endpoint defaults of the aggregator (--smtp-*, --webhook-secret-file): what an AlertRule's
// notify entry cannot carry (an AlertRule resource has only kind and target, and an SMTP
// password has no place in a rule anyway) is filled in from here. An option a rule does write
// wins over the default. The rules loader merges them, once, where notify entries become
// EndpointConfig; every merged entry is then validated by parseEndpoint as any other.
import type { EndpointKind } from "./types.js";

/** Options per endpoint kind, as parseEndpoint reads them (strings). */
export type EndpointDefaults = Partial<Record<EndpointKind, Readonly<Record<string, string>>>>;

/** The aggregator options endpoint defaults come from, as given (already read from files). */
export interface EndpointDefaultsInput {
  /** HOST:PORT of the SMTP server ([v6]:PORT). */
  smtpServer?: string;
  smtpFrom?: string;
  smtpUser?: string;
  smtpPassword?: string;
  /** starttls (default), tls (implicit TLS, port 465 style) or none. */
  smtpTls?: string;
  smtpCaFile?: string;
  /** HMAC secret of webhook endpoints that set none. */
  webhookSecret?: string;
}

export class EndpointDefaultsError extends Error {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`${option}: ${message}`);
  }
}

const SMTP_TLS: Readonly<Record<string, string>> = { starttls: "starttls", tls: "implicit", none: "none" };

/** Typed defaults from the options; throws EndpointDefaultsError naming the bad option. */
export function endpointDefaults(input: EndpointDefaultsInput): EndpointDefaults {
  const email: Record<string, string> = {};
  if (input.smtpServer !== undefined) {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]/\s]+)):(\d{1,5})$/.exec(input.smtpServer);
    const port = Number(m?.[3]);
    if (!m || !(port >= 1 && port <= 65535))
      throw new EndpointDefaultsError("smtp-server", `"${input.smtpServer}" is not HOST:PORT`);
    email.smtpHost = (m[1] ?? m[2]) as string;
    email.smtpPort = String(port);
  }
  if (input.smtpFrom !== undefined) email.from = input.smtpFrom;
  if ((input.smtpUser === undefined) !== (input.smtpPassword === undefined))
    throw new EndpointDefaultsError("smtp-user", "--smtp-user and --smtp-password-file go together");
  if (input.smtpUser !== undefined) email.user = input.smtpUser;
  if (input.smtpPassword !== undefined) email.password = input.smtpPassword;
  if (input.smtpTls !== undefined) {
    const tls = SMTP_TLS[input.smtpTls];
    if (tls === undefined)
      throw new EndpointDefaultsError("smtp-tls", `"${input.smtpTls}" is not starttls, tls or none`);
    email.tls = tls;
  }
  if (input.smtpCaFile !== undefined) email.caFile = input.smtpCaFile;
  const out: EndpointDefaults = {};
  if (Object.keys(email).length > 0) out.email = email;
  if (input.webhookSecret !== undefined) {
    if (input.webhookSecret.length < 16)
      throw new EndpointDefaultsError("webhook-secret-file", "at least 16 characters");
    out.webhook = { secret: input.webhookSecret };
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * A notify entry as written, with the defaults of its kind under its own options. Anything that
 * is not an object of a kind with defaults comes back as it was (parseEndpoint judges it).
 */
export function withEndpointDefaults(entry: unknown, defaults: EndpointDefaults): unknown {
  if (!isRecord(entry) || typeof entry.kind !== "string") return entry;
  const d = defaults[entry.kind as EndpointKind];
  if (d === undefined) return entry;
  if (entry.options !== undefined && !isRecord(entry.options)) return entry;
  const own = entry.options ?? {};
  // The port of --smtp-server goes with its host: a rule naming its own smtpHost keeps the
  // port it names, or the default port of its TLS mode.
  const base = { ...d };
  if ("smtpHost" in own) delete base.smtpPort;
  return { ...entry, options: { ...base, ...own } };
}
