// Real Prometheus and Alertmanager (Debian packages) on free ports, temp storage.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "./ports.js";
import { type ManagedProcess, makeTempDir, removeTempDir, startProcess, waitFor } from "./process.js";

export interface PromServer {
  url: string;
  dir: string;
  proc: ManagedProcess;
  stop(): Promise<void>;
}

async function startReady(
  name: string,
  bin: string,
  args: (port: number, dir: string) => string[],
  files: Record<string, string>,
): Promise<PromServer> {
  const port = await freePort();
  const dir = makeTempDir(name);
  for (const [f, content] of Object.entries(files)) writeFileSync(join(dir, f), content);
  const proc = startProcess(name, bin, args(port, dir));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await proc.stop();
    removeTempDir(dir);
  };
  try {
    await waitFor(`${name} /-/ready`, async () => (await fetch(`${url}/-/ready`)).ok, {
      proc,
      timeoutMs: 30_000,
      intervalMs: 200,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, dir, proc, stop };
}

/**
 * Prometheus with `config` as prometheus.yml; `rules` files are written beside it (refer to
 * them by bare name in rule_files).
 */
export function startPrometheus(config: string, rules: Record<string, string> = {}): Promise<PromServer> {
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
  const res = await fetch(`${server.url}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== "success") throw new Error(`query ${query}: ${body.error}`);
  return body.data?.result ?? [];
}
