// The operator's HTTP side: /metrics for Prometheus, /healthz (the process serves) and /readyz
// (it can do its job: leading with synced caches, or standing by with a working Lease loop).
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

/** `reason` says why not, or in what state when ok (e.g. a standby replica). */
export type Probe = () => { ok: boolean; reason?: string };

export interface HttpEndpoints {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/** `host:port`, `:port` or `[v6]:port`. */
export function parseAddress(addr: string): { host?: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new Error(`'${addr}' is not HOST:PORT or :PORT`);
  const host = m[1] ?? m[2];
  return { ...(host ? { host } : {}), port };
}

export async function startHttp(
  address: string,
  registry: Registry,
  healthz: Probe,
  readyz: Probe,
): Promise<HttpEndpoints> {
  const { host, port } = parseAddress(address);
  const answer = (res: import("node:http").ServerResponse, p: Probe) => {
    const r = p();
    res
      .writeHead(r.ok ? 200 : 503, { "content-type": "application/json" })
      .end(JSON.stringify({ status: r.ok ? "ok" : "failing", ...(r.reason ? { reason: r.reason } : {}) }));
  };
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET") res.writeHead(405, { "content-type": "text/plain" }).end("method not allowed\n");
    else if (path === "/metrics") {
      registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
        (err: Error) => res.writeHead(500, { "content-type": "text/plain" }).end(`metrics failed: ${err.message}\n`),
      );
    } else if (path === "/healthz") answer(res, healthz);
    else if (path === "/readyz") answer(res, readyz);
    else res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  return {
    server,
    port: typeof bound === "object" && bound ? bound.port : port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
