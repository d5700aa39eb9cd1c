// The agent's small HTTP side: /metrics for Prometheus, /healthz for the kubelet.
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";
import { parseListenAddress } from "./config.js";

export async function startAgentHttp(
  address: string,
  registry: Registry,
  healthy: () => { ok: boolean; reason?: string },
): Promise<{ server: Server; port: number }> {
  const { host, port } = parseListenAddress(address);
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET") {
      res.writeHead(405, { "content-type": "text/plain" }).end("method not allowed\n");
    } else if (path === "/metrics") {
      registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
        (err: Error) => res.writeHead(500, { "content-type": "text/plain" }).end(`metrics failed: ${err.message}\n`),
      );
    } else if (path === "/healthz") {
      const h = healthy();
      res
        .writeHead(h.ok ? 200 : 503, { "content-type": "application/json" })
        .end(JSON.stringify(h.ok ? { status: "ok" } : { status: "failing", reason: h.reason }));
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  return { server, port: typeof bound === "object" && bound ? bound.port : port };
}
