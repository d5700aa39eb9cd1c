// Generic webhook: one JSON POST per notification.
//
// Body (schema version 1), UTF-8 JSON:
//   {"version": 1, "type": "alert", "sentAtMs": <epoch ms>, "alert": <AlertNotification>}
//   {"version": 1, "type": "suppressed", "sentAtMs": <epoch ms>,
//    "suppressed": {"count", "bySeverity": {severity: n}, "rules": [..], "fromMs", "toMs"},
//    "text": "<one line>"}
// AlertNotification is defined in ./types.ts; fields are only ever added.
//
// Signature (when options.secret is set): header
//   X-Flowlens-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
// A receiver recomputes the HMAC over the raw body bytes with the timestamp from the header,
// compares in constant time, and rejects timestamps more than a few minutes from its clock (so
// a captured request cannot be replayed later). verifyWebhookSignature() does exactly that.
import { createHmac, timingSafeEqual } from "node:crypto";
import { type Delivery, DeliveryError, type NotifyEndpoint, summaryText } from "./endpoint.js";
import { HttpPoster } from "./http.js";
import type { HttpTarget } from "./settings.js";

export const WEBHOOK_SCHEMA_VERSION = 1;
export const SIGNATURE_HEADER = "x-flowlens-signature";

export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac("sha256", secret).update(`${unixSeconds}.${body}`).digest("hex");
  return `t=${unixSeconds},v1=${mac}`;
}

/** Receiver side: whether `header` is a valid signature of `body` no older than `toleranceS`. */
export function verifyWebhookSignature(
  secret: string,
  body: string | Buffer,
  header: string | undefined,
  nowMs = Date.now(),
  toleranceS = 300,
): { ok: true } | { ok: false; reason: string } {
  if (!header) return { ok: false, reason: "no signature header" };
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header.trim());
  if (!m) return { ok: false, reason: "malformed signature header" };
  const t = Number(m[1]);
  if (Math.abs(nowMs / 1000 - t) > toleranceS) return { ok: false, reason: "timestamp outside tolerance" };
  const expected = createHmac("sha256", secret)
    .update(`${t}.`)
    .update(typeof body === "string" ? Buffer.from(body) : body)
    .digest();
  const given = Buffer.from(m[2] ?? "", "hex");
  return given.length === expected.length && timingSafeEqual(given, expected)
    ? { ok: true }
    : { ok: false, reason: "signature mismatch" };
}

export function webhookBody(d: Delivery, sentAtMs: number): string {
  switch (d.type) {
    case "alert":
      return JSON.stringify({ version: WEBHOOK_SCHEMA_VERSION, type: "alert", sentAtMs, alert: d.n });
    case "summary":
      return JSON.stringify({
        version: WEBHOOK_SCHEMA_VERSION,
        type: "suppressed",
        sentAtMs,
        suppressed: d.summary,
        text: summaryText(d.summary),
      });
    case "resend":
      throw new DeliveryError("webhook: no resend", false);
  }
}

export class WebhookEndpoint implements NotifyEndpoint {
  readonly summarises = true;
  private readonly poster: HttpPoster;

  constructor(
    target: HttpTarget,
    private readonly secret: string | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.poster = new HttpPoster(target, `webhook ${target.url.origin}`);
  }

  async deliver(d: Delivery, signal: AbortSignal): Promise<void> {
    const sentAtMs = this.now();
    const body = webhookBody(d, sentAtMs);
    const headers: Record<string, string> = {};
    if (this.secret) headers[SIGNATURE_HEADER] = signWebhook(this.secret, body, Math.floor(sentAtMs / 1000));
    await this.poster.post(body, headers, signal);
  }

  async close(): Promise<void> {
    this.poster.close();
  }
}
