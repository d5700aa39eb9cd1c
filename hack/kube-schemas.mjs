#!/usr/bin/env node
// Writes the JSON schemas kubeconform validates against, without the internet: the built-in
// kinds from the /openapi/v2 of the harness's own kube-apiserver (cached beside the Go tools by
// its version; a control plane is started only the first time), and the custom resources from
// the CRDs in crds/. Prints the two directories.
// Usage: hack/kube-schemas.mjs [CRD_SCHEMA_DIR]   (default: a fresh temporary directory)
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const lib = await import(pathToFileURL(join(root, "e2e/dist/chart/kube-schemas.js")).href).catch((err) => {
  console.error(`kube-schemas: e2e/dist is not built (run \`make build\`): ${err.message}`);
  process.exit(1);
});

const builtin = await lib.ensureBuiltinSchemas((line) => console.error(line));
const crdDir = process.argv[2] ?? mkdtempSync(join(tmpdir(), "flowlens-crd-schemas-"));
lib.writeSchemas(crdDir, lib.crdSchemasFromDir(join(root, "crds")));
console.log(builtin);
console.log(crdDir);
