// The chart's static checks, as `make chart-check` and the tests run them: helm lint, helm
// template with each value set, every rendered object (CRDs included) and crds/samples
// validated by kubeconform against the Kubernetes schemas and our CRDs' schemas, and values
// that values.schema.json must refuse.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "@flowlens/testkit";
import { Helm } from "./helm.js";
import { kubeconform } from "./kubeconform.js";
import { BAD_VALUE_SETS, VALUE_SETS } from "./value-sets.js";

export const samplesDir = join(repoRoot, "crds/samples");
export const crdsDir = join(repoRoot, "crds");

export interface ChartCheckResult {
  /** One line per check, for the log. */
  passed: string[];
  failures: string[];
}

export function checkChart(opts: {
  workDir: string;
  builtinSchemaDir: string;
  crdSchemaDir: string;
}): ChartCheckResult {
  const helm = new Helm(opts.workDir);
  const schemas = [opts.builtinSchemaDir, opts.crdSchemaDir];
  const passed: string[] = [];
  const failures: string[] = [];

  for (const set of VALUE_SETS) {
    const lint = helm.lint(set.values);
    if (lint.status !== 0) failures.push(`helm lint (${set.name}): ${(lint.stdout + lint.stderr).trim()}`);
    else passed.push(`helm lint --strict (${set.name})`);

    const rendered = helm.template(set.values, { includeCrds: true });
    if (rendered.status !== 0) {
      failures.push(`helm template (${set.name}): ${rendered.stderr.trim()}`);
      continue;
    }
    const report = kubeconform(schemas, { stdin: rendered.stdout });
    if (report.valid === 0) failures.push(`kubeconform (${set.name}): no resource validated`);
    for (const p of report.problems) failures.push(`kubeconform (${set.name}): ${p}`);
    if (report.problems.length === 0 && report.valid > 0) {
      passed.push(
        `helm template (${set.name}): ${report.valid} objects valid${report.skipped.length > 0 ? `, ${report.skipped.length} without a schema here (Prometheus Operator kinds)` : ""}`,
      );
    }
  }

  const samples = readdirSync(samplesDir)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => join(samplesDir, f));
  const crds = readdirSync(crdsDir)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => join(crdsDir, f));
  const report = kubeconform(schemas, { files: [...crds, ...samples] });
  for (const p of report.problems) failures.push(`kubeconform (crds and samples): ${p}`);
  if (report.valid !== crds.length + samples.length) {
    failures.push(`kubeconform (crds and samples): ${report.valid} valid of ${crds.length + samples.length}`);
  } else {
    passed.push(`kubeconform: ${crds.length} CRDs and ${samples.length} samples valid`);
  }

  for (const bad of BAD_VALUE_SETS) {
    const r = helm.template(bad.values);
    if (r.status === 0) failures.push(`values.schema.json accepted bad values (${bad.name})`);
    else if (!bad.error.test(r.stderr)) failures.push(`bad values (${bad.name}): unexpected error ${r.stderr.trim()}`);
    else passed.push(`values.schema.json refuses: ${bad.name}`);
  }
  return { passed, failures };
}
