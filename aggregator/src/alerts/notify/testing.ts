// Helpers the notification tests share (and the alert engine's tests may reuse): a sample
// notification and a real local HTTP receiver that records requests and answers as told.
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { AlertNotification } from "./types.js";

let seq = 0;

export function sampleNotification(over: Partial<AlertNotification> = {}): AlertNotification {
  seq++;
  return {
    event: "engaged",
    id: `alert-${process.pid}-${seq}`,
    rule: "default/port-scan",
    check: "port-scan",
    severity: "warning",
    entity: { kind: "host", value: "10.231.0.5" },
    value: 512,
    threshold: 100,
    peak: 512,
    startedAtMs: Date.now() - 60_000,
    summary: "10.231.0.5 contacted 512 ports on 10.231.0.9 in 1m",
    labels: { window: "1m", peer: "10.231.0.9" },
    ...over,
  };
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  atMs: number;
}

/** What the receiver does with a request: answer with a status (and body), or never answer. */
export type Reply = { status: number; body?: string; headers?: Record<string, string> } | "hang";

export interface HttpReceiver {
  url: string;
  requests: RecordedRequest[];
  /** Answers for the next requests, in order; after they run out, `fallback`. */
  replies: Reply[];
  fallback: Reply;
  waitForRequests(n: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  close(): Promise<void>;
}

export async function startHttpReceiver(fallback: Reply = { status: 200, body: "ok" }): Promise<HttpReceiver> {
  const requests: RecordedRequest[] = [];
  const hanging = new Set<ServerResponse>();
  const waiters: { n: number; resolve: () => void }[] = [];
  const r: HttpReceiver = {
    url: "",
    requests,
    replies: [],
    fallback,
    async waitForRequests(n, timeoutMs = 10_000) {
      if (requests.length >= n) return requests;
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`timed out waiting for ${n} request(s), got ${requests.length}`)),
          timeoutMs,
        );
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(t);
            resolve();
          },
        });
      });
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        atMs: Date.now(),
      });
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i];
        if (w && requests.length >= w.n) {
          waiters.splice(i, 1);
          w.resolve();
        }
      }
      const reply = r.replies.shift() ?? r.fallback;
      if (reply === "hang") {
        hanging.add(res);
        return;
      }
      res.writeHead(reply.status, reply.headers ?? {});
      res.end(reply.body ?? "");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return r;
}
