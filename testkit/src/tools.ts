// Locates the Go-built tools (etcd, kube-apiserver, helm, kubeconform) in the cache that
// hack/build-tools.sh fills, building them on first use.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "../..");

export type GoTool = "etcd" | "kube-apiserver" | "helm" | "kubeconform";

export function toolsBinDir(): string {
  const base =
    process.env.FLOWLENS_TOOLS_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "flowlens-tools");
  return join(base, "bin");
}

/** Path of a Go-built tool; runs hack/build-tools.sh (cached by version) when it is missing. */
export function goTool(name: GoTool): string {
  const path = join(toolsBinDir(), name);
  if (existsSync(path)) return path;
  const r = spawnSync("bash", [join(repoRoot, "hack/build-tools.sh"), name], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (r.status !== 0 || !existsSync(path))
    throw new Error(`building ${name} with hack/build-tools.sh failed (status ${r.status})`);
  return path;
}
