// Email over SMTP with nodemailer: STARTTLS required by default (a server that does not offer
// it is an error, not a silent downgrade), AUTH when credentials are set, a plain-text and an
// HTML part. SMTP 4xx replies and network errors are retried, 5xx and authentication failures
// are not.
import { readFile } from "node:fs/promises";
import nodemailer, { type Transporter } from "nodemailer";
import { abortPromise, type Delivery, DeliveryError, headline, type NotifyEndpoint, summaryText } from "./endpoint.js";
import type { KindSettings } from "./settings.js";
import type { AlertNotification } from "./types.js";

type EmailSettings = Extract<KindSettings, { kind: "email" }>;

const RETRYABLE_CODES = new Set(["ECONNECTION", "ETIMEDOUT", "ESOCKET", "EDNS", "ECONNRESET", "ECONNREFUSED"]);

export function htmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Header-safe: no line breaks (header injection), bounded. */
function oneLine(s: string, max = 200): string {
  const t = s.replace(/[\r\n]+/g, " ");
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

function rows(n: AlertNotification): [string, string][] {
  const r: [string, string][] = [
    ["Event", n.event],
    ["Rule", n.rule],
    ["Severity", n.severity],
    ["Entity", `${n.entity.kind} ${n.entity.value}`],
  ];
  if (n.check) r.push(["Check", n.check]);
  if (n.metric) r.push(["Metric", n.metric]);
  r.push(["Value", String(n.value)]);
  if (n.threshold !== undefined) r.push(["Threshold", String(n.threshold)]);
  if (n.peak !== undefined) r.push(["Peak", String(n.peak)]);
  r.push(["Started", new Date(n.startedAtMs).toISOString()]);
  if (n.endedAtMs !== undefined) r.push(["Ended", new Date(n.endedAtMs).toISOString()]);
  for (const [k, v] of Object.entries(n.labels)) r.push([k, v]);
  r.push(["Alert id", n.id]);
  return r;
}

export function emailContent(d: Delivery, prefix: string): { subject: string; text: string; html: string } {
  if (d.type === "resend") throw new DeliveryError("email: no resend", false);
  if (d.type === "summary") {
    const t = summaryText(d.summary);
    return {
      subject: oneLine(`${prefix} rate limit: ${d.summary.count} notification(s) suppressed`),
      text: `${t}\n`,
      html: `<p>${htmlEscape(t)}</p>`,
    };
  }
  const n = d.n;
  const r = rows(n);
  const width = Math.max(...r.map(([k]) => k.length));
  const text = `${n.summary}\n\n${r.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n")}\n`;
  const html =
    `<h2>${htmlEscape(headline(n))}</h2><p>${htmlEscape(n.summary)}</p>` +
    `<table>${r.map(([k, v]) => `<tr><th align="left">${htmlEscape(k)}</th><td>${htmlEscape(v)}</td></tr>`).join("")}</table>`;
  return { subject: oneLine(`${prefix} ${headline(n)}`), text, html };
}

export class EmailEndpoint implements NotifyEndpoint {
  readonly summarises = true;
  private transport: Promise<Transporter> | undefined;

  constructor(
    private readonly s: EmailSettings,
    private readonly timeoutMs: number,
  ) {}

  private getTransport(): Promise<Transporter> {
    this.transport ??= (async () => {
      const ca = this.s.caFile ? await readFile(this.s.caFile) : undefined;
      // Pooled (one connection): reused between alerts, and close() really ends it, which
      // is how an abort reaches a connection nodemailer is still waiting on.
      return nodemailer.createTransport({
        pool: true,
        maxConnections: 1,
        host: this.s.smtpHost,
        port: this.s.smtpPort,
        secure: this.s.tls === "implicit",
        requireTLS: this.s.tls === "starttls",
        ignoreTLS: this.s.tls === "none",
        ...(this.s.user !== undefined ? { auth: { user: this.s.user, pass: this.s.password ?? "" } } : {}),
        tls: { ...(ca ? { ca } : {}), servername: this.s.smtpHost },
        connectionTimeout: this.timeoutMs,
        greetingTimeout: this.timeoutMs,
        socketTimeout: this.timeoutMs,
      });
    })().catch((err: unknown) => {
      this.transport = undefined;
      throw new DeliveryError(`email: reading caFile: ${(err as Error).message}`, false, undefined, { cause: err });
    });
    return this.transport;
  }

  async deliver(d: Delivery, signal: AbortSignal): Promise<void> {
    const content = emailContent(d, this.s.subjectPrefix);
    const transport = await this.getTransport();
    try {
      const sending = transport.sendMail({ from: this.s.from, to: this.s.to, ...content });
      // nodemailer takes no AbortSignal; its own socket timeouts end the connection.
      sending.catch(() => {});
      await Promise.race([sending, abortPromise(signal)]);
    } catch (err) {
      if (signal.aborted) {
        transport.close();
        this.transport = undefined;
      }
      if (err instanceof DeliveryError) throw err;
      const e = err as Error & { code?: string; responseCode?: number };
      // ETLS: STARTTLS refused or failed even when the server says "454 try later": a server
      // without TLS stays so, and sending in the clear instead is not ours to decide.
      const retryable =
        e.code !== "ETLS" &&
        ((e.responseCode !== undefined && e.responseCode >= 400 && e.responseCode < 500) ||
          (e.responseCode === undefined && RETRYABLE_CODES.has(e.code ?? "")));
      throw new DeliveryError(
        `email via ${this.s.smtpHost}:${this.s.smtpPort}: ${e.code ?? "error"}${e.responseCode ? ` ${e.responseCode}` : ""}: ${e.message}`,
        retryable,
        undefined,
        { cause: err },
      );
    }
  }

  async close(): Promise<void> {
    const t = await this.transport?.catch(() => undefined);
    t?.close();
  }
}
