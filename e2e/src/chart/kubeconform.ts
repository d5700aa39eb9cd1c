// Validates manifests with kubeconform (built by hack/build-tools.sh) against local schema
// directories only: nothing is downloaded.
import { spawnSync } from "node:child_process";
import { goTool } from "@flowlens/testkit";
import { schemaLocation } from "./kube-schemas.js";

/**
 * Kinds no schema is made for here: the Prometheus Operator's CRDs are not part of this
 * repository or of the harness's API server. Everything else must have a schema.
 */
export const KINDS_WITHOUT_SCHEMA = ["monitoring.coreos.com/v1/ServiceMonitor", "monitoring.coreos.com/v1/PodMonitor"];

export interface KubeconformResource {
  filename: string;
  kind: string;
  name: string;
  version: string;
  status: "statusValid" | "statusInvalid" | "statusError" | "statusSkipped" | "statusEmpty";
  msg: string;
}

export interface KubeconformReport {
  resources: KubeconformResource[];
  valid: number;
  /** Invalid, errored (no schema, unparsable) resources, each as `kind name: message`. */
  problems: string[];
  skipped: string[];
}

/** Runs kubeconform -strict on the files, or on `stdin` when files is empty. */
export function kubeconform(schemaDirs: string[], input: { files?: string[]; stdin?: string }): KubeconformReport {
  const args = [
    "-strict",
    "-verbose",
    "-output",
    "json",
    "-skip",
    KINDS_WITHOUT_SCHEMA.join(","),
    ...schemaDirs.flatMap((d) => ["-schema-location", schemaLocation(d)]),
    ...(input.files && input.files.length > 0 ? input.files : ["-"]),
  ];
  const r = spawnSync(goTool("kubeconform"), args, {
    input: input.stdin ?? "",
    encoding: "utf8",
    timeout: 60_000,
    maxBuffer: 64 << 20,
  });
  if (r.error) throw new Error(`kubeconform: ${r.error.message}`);
  let parsed: { resources?: KubeconformResource[] };
  try {
    parsed = JSON.parse(r.stdout) as { resources?: KubeconformResource[] };
  } catch {
    throw new Error(`kubeconform (status ${r.status}) printed no JSON report: ${r.stderr || r.stdout}`);
  }
  const resources = parsed.resources ?? [];
  const label = (x: KubeconformResource) => `${x.version}/${x.kind} ${x.name} (${x.filename})`;
  return {
    resources,
    valid: resources.filter((x) => x.status === "statusValid").length,
    problems: resources
      .filter((x) => x.status === "statusInvalid" || x.status === "statusError")
      .map((x) => `${label(x)}: ${x.msg}`),
    skipped: resources.filter((x) => x.status === "statusSkipped").map(label),
  };
}
