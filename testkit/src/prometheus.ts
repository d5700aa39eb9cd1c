// Real Prometheus and Alertmanager (Debian packages) on free ports, temp storage.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Host } from "./netns.js";
import { freePort } from "./ports.js";
import { type ManagedProcess, makeTempDir, removeTempDir, startProcess, waitFor } from "./process.js";

export interface PromServer {
  url: string;
  /** Set when the server runs inside a network namespace: reach it from there. */
  host?: Host;
  dir: string;
  proc: ManagedProcess;
  stop(): Promise<void>;
}

async function startReady(
  name: string,
  bin: string,
  args: (port: number, dir: string) => string[],
  files: Record<string, string>,
  host?: Host,
): Promise<PromServer> {
  // Inside a fresh namespace every port is free; outside, ask the kernel for one.
  const port = host ? 9090 : await freePort();
  const dir = makeTempDir(name);
  for (const [f, content] of Object.entries(files)) writeFileSync(join(dir, f), content);
  const proc = host ? host.spawn(name, bin, args(port, dir)) : startProcess(name, bin, args(port, dir));
  const url = `http://127.0.0.1:${port}`;
  const get = (path: string) => httpGet(host, `${url}${path}`);
  const stop = async () => {
    await proc.stop();
    removeTempDir(dir);
  };
  try {
    await waitFor(`${name} /-/ready`, async () => (await get("/-/ready")).ok, {
      proc,
      timeoutMs: 30_000,
      intervalMs: 200,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, dir, proc, stop, ...(host ? { host } : {}) };
}

/** GET from the test process, or through curl inside the namespace a server runs in. */
async function httpGet(host: Host | undefined, url: string): Promise<{ ok: boolean; text: string }> {
  if (!host) {
    try {
      const res = await fetch(url);
      return { ok: res.ok, text: await res.text() };
    } catch {
      return { ok: false, text: "" };
    }
  }
  try {
    return { ok: true, text: host.exec("curl", ["-sS", "--fail", "--max-time", "10", url], { timeoutMs: 15_000 }) };
  } catch {
    return { ok: false, text: "" };
  }
}

/**
 * Prometheus with `config` as prometheus.yml; `rules` files are written beside it (refer to
 * them by bare name in rule_files).
 */
export function startPrometheus(config: string, rules: Record<string, string> = {}, host?: Host): Promise<PromServer> {
  return startReady(
    "prometheus",
    process.env.PROMETHEUS ?? "prometheus",
    (port, dir) => [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      "--web.enable-lifecycle",
      "--log.level=warn",
    ],
    { "prometheus.yml": config, ...rules },
    host,
  );
}

export function startAlertmanager(config: string): Promise<PromServer> {
  return startReady(
    "alertmanager",
    process.env.ALERTMANAGER ?? "prometheus-alertmanager",
    (port, dir) => [
      `--config.file=${join(dir, "alertmanager.yml")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--storage.path=${join(dir, "data")}`,
      "--cluster.listen-address=",
      "--log.level=warn",
    ],
    { "alertmanager.yml": config },
  );
}

/** An instant PromQL query; returns the result vector. */
export async function promQuery(
  server: PromServer,
  query: string,
): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await httpGet(server.host, `${server.url}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = JSON.parse(res.text || "{}") as {
    status: string;
    error?: string;
    data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== "success") throw new Error(`query ${query}: ${body.error}`);
  return body.data?.result ?? [];
}
