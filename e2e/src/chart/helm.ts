// Runs the helm binary built by hack/build-tools.sh on charts/flowlens, with its cache, config
// and data directories in a temporary place so that nothing lands in the user's home.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { goTool, repoRoot } from "@flowlens/testkit";

export const chartDir = join(repoRoot, "charts/flowlens");

/**
 * The Kubernetes version charts are rendered and linted for without a cluster: the harness's
 * kube-apiserver. helm built from the module without the ldflags of helm's Makefile assumes
 * v1.20.0 there, below the chart's kubeVersion. `helm install` asks the API server instead.
 */
export const KUBE_VERSION = "1.34.4";

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

export class Helm {
  readonly bin = goTool("helm");
  private valuesCount = 0;

  constructor(private readonly workDir: string) {
    for (const d of ["cache", "config", "data"]) mkdirSync(join(workDir, d), { recursive: true });
  }

  run(args: string[], timeoutMs = 60_000): RunResult {
    const r = spawnSync(this.bin, args, {
      encoding: "utf8",
      timeout: timeoutMs,
      env: {
        PATH: process.env.PATH,
        HOME: this.workDir,
        HELM_CACHE_HOME: join(this.workDir, "cache"),
        HELM_CONFIG_HOME: join(this.workDir, "config"),
        HELM_DATA_HOME: join(this.workDir, "data"),
      },
    });
    if (r.error) throw new Error(`helm ${args[0]}: ${r.error.message}`);
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** A values file holding `values` (JSON is YAML); helm reads it like a user's -f file. */
  valuesFile(values: object): string {
    const file = join(this.workDir, `values-${++this.valuesCount}.json`);
    writeFileSync(file, JSON.stringify(values, null, 2));
    return file;
  }

  lint(values: object): RunResult {
    return this.run(["lint", "--strict", "--kube-version", KUBE_VERSION, chartDir, "-f", this.valuesFile(values)]);
  }

  template(values: object, opts: { release?: string; namespace?: string; includeCrds?: boolean } = {}): RunResult {
    return this.run([
      "template",
      opts.release ?? "flowlens",
      chartDir,
      "--namespace",
      opts.namespace ?? "flowlens-system",
      "--kube-version",
      KUBE_VERSION,
      ...(opts.includeCrds ? ["--include-crds"] : []),
      "-f",
      this.valuesFile(values),
    ]);
  }

  /** Renders or throws with helm's message. */
  render(values: object, opts: { release?: string; namespace?: string; includeCrds?: boolean } = {}): string {
    const r = this.template(values, opts);
    if (r.status !== 0) throw new Error(`helm template failed (${r.status}): ${r.stderr.trim()}`);
    return r.stdout;
  }
}
