// One HTTP POST with a deadline, shared by the webhook, Slack and Alertmanager endpoints:
// 2xx is success, 408/429/5xx and network errors are worth retrying, other 4xx are not (the
// request itself is wrong and will stay wrong).
import { readFile } from "node:fs/promises";
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { abortPromise, DeliveryError } from "./endpoint.js";
import type { HttpTarget } from "./settings.js";

const MAX_ERROR_BODY = 512;
const MAX_RETRY_AFTER_MS = 3_600_000;

export interface HttpResult {
  status: number;
  body: string;
}

/** Retry-After as delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Math.min(Number(value) * 1000, MAX_RETRY_AFTER_MS);
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : Math.min(Math.max(0, t - nowMs), MAX_RETRY_AFTER_MS);
}

export class HttpPoster {
  private agent: HttpAgent | HttpsAgent | undefined;
  private agentReady: Promise<HttpAgent | HttpsAgent> | undefined;

  constructor(
    private readonly target: HttpTarget,
    private readonly what: string,
  ) {}

  // The CA file is read on first use, asynchronously: endpoints are created on the path that
  // must never block.
  private getAgent(): Promise<HttpAgent | HttpsAgent> {
    this.agentReady ??= (async () => {
      if (this.target.url.protocol === "http:") this.agent = new HttpAgent({ keepAlive: true, maxSockets: 2 });
      else {
        const ca = this.target.caFile ? await readFile(this.target.caFile) : undefined;
        this.agent = new HttpsAgent({ keepAlive: true, maxSockets: 2, ...(ca ? { ca } : {}) });
      }
      return this.agent;
    })().catch((err: unknown) => {
      this.agentReady = undefined;
      throw new DeliveryError(`${this.what}: reading caFile: ${(err as Error).message}`, false, undefined, {
        cause: err,
      });
    });
    return this.agentReady;
  }

  /** POSTs `body` to `url` (default: the target); resolves on 2xx, throws DeliveryError otherwise. */
  async post(
    body: string,
    headers: Record<string, string>,
    signal: AbortSignal,
    url: URL = this.target.url,
  ): Promise<HttpResult> {
    const agent = await this.getAgent();
    const req = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, {
      method: "POST",
      agent,
      headers: {
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(body)),
        "user-agent": "flowlens-notify/1",
        ...(this.target.bearerToken ? { authorization: `Bearer ${this.target.bearerToken}` } : {}),
        ...headers,
      },
    });
    const response = new Promise<IncomingMessage>((resolve, reject) => {
      req.once("response", resolve);
      req.once("error", (err) =>
        reject(new DeliveryError(`${this.what}: ${err.message}`, true, undefined, { cause: err })),
      );
    });
    // Raced below: when the abort wins, its later rejection must not go unhandled.
    response.catch(() => {});
    const onAbort = () => req.destroy(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      req.end(body);
      const res = await Promise.race([response, abortPromise(signal)]);
      const text = await Promise.race([readBounded(res), abortPromise(signal)]);
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) return { status, body: text };
      const retryable = status === 408 || status === 429 || status >= 500;
      throw new DeliveryError(
        `${this.what}: HTTP ${status}${text ? `: ${text.slice(0, MAX_ERROR_BODY)}` : ""}`,
        retryable,
        parseRetryAfter(res.headers["retry-after"], Date.now()),
      );
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  close(): void {
    this.agent?.destroy();
  }
}

/** The response body, at most 64 KiB kept (the rest is read and discarded so the socket is reusable). */
function readBounded(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on("data", (c: Buffer) => {
      if (size < 65536) chunks.push(c);
      size += c.length;
    });
    res.once("end", () => resolve(Buffer.concat(chunks).toString("utf8").slice(0, 65536)));
    res.once("error", (err) => reject(new DeliveryError(`reading response: ${err.message}`, true)));
  });
}
