#!/usr/bin/env node
// Writes crds/*.yaml, the CustomResourceDefinitions, from their TypeScript schemas in
// operator/src/crds (typed against contracts/src/crd.ts, so the YAML, the types and the
// reconcilers' defaults all come from one place). `--check` compares instead of writing and
// fails on any drift, so CI catches a schema edited without regenerating, or a hand-edited YAML.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = join(root, "crds");
const check = process.argv.includes("--check");

// Build the operator first (incremental): the schemas are TypeScript, and a stale dist/ would
// make --check compare against old code. It runs before `make build` in `make test`.
const tsc = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-b", "operator"], {
  cwd: root,
  stdio: "inherit",
});
if (tsc.status !== 0) {
  console.error(`gen-crds: building operator/ failed with status ${tsc.status}`);
  process.exit(1);
}

const { renderCrdFiles } = await import(pathToFileURL(join(root, "operator/dist/crds/index.js")).href);
/** @type {Map<string, string>} */
const want = renderCrdFiles();
// Generated files are the only YAML directly in crds/ (samples live in crds/samples/).
const have = existsSync(outDir) ? readdirSync(outDir).filter((f) => /\.ya?ml$/.test(f)) : [];

if (check) {
  const drift = [...new Set([...want.keys(), ...have])].filter(
    (f) => !want.has(f) || !have.includes(f) || readFileSync(join(outDir, f), "utf8") !== want.get(f),
  );
  if (drift.length > 0) {
    console.error(
      `gen-crds: crds/ is out of date with operator/src/crds: ${drift.sort().join(", ")}; run \`make gen\``,
    );
    process.exit(1);
  }
  console.log("gen-crds: crds/ matches the schemas");
} else {
  mkdirSync(outDir, { recursive: true });
  for (const f of have) if (!want.has(f)) rmSync(join(outDir, f));
  for (const [f, text] of want) writeFileSync(join(outDir, f), text);
  console.log(`gen-crds: wrote ${[...want.keys()].map((f) => `crds/${f}`).join(", ")}`);
}
