#!/usr/bin/env node
// `make chart-check`: helm lint and helm template of charts/flowlens with several value sets,
// every rendered object, the CRDs and crds/samples validated by kubeconform against schemas
// made offline (hack/kube-schemas.mjs), and values that values.schema.json must refuse.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const load = (m) =>
  import(pathToFileURL(join(root, "e2e/dist/chart", m)).href).catch((err) => {
    console.error(`chart-check: e2e/dist is not built (run \`make build\`): ${err.message}`);
    process.exit(1);
  });
const schemas = await load("kube-schemas.js");
const { checkChart } = await load("check.js");

const work = mkdtempSync(join(tmpdir(), "flowlens-chart-check-"));
try {
  const builtinSchemaDir = await schemas.ensureBuiltinSchemas((line) => console.log(line));
  const crdSchemaDir = join(work, "crd-schemas");
  schemas.writeSchemas(crdSchemaDir, schemas.crdSchemasFromDir(join(root, "crds")));
  const { passed, failures } = checkChart({ workDir: join(work, "helm"), builtinSchemaDir, crdSchemaDir });
  for (const line of passed) console.log(`chart-check: ok   ${line}`);
  for (const line of failures) console.error(`chart-check: FAIL ${line}`);
  console.log(`chart-check: ${passed.length} passed, ${failures.length} failed`);
  process.exitCode = failures.length > 0 ? 1 : 0;
} finally {
  rmSync(work, { recursive: true, force: true });
}
