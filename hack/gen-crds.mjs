#!/usr/bin/env node
// Writes crds/*.yaml, the CustomResourceDefinitions, from their TypeScript schemas in
// operator/src/crds (typed against contracts/src/crd.ts, so the YAML, the types and the
// reconcilers' defaults all come from one place), and the same files into the Helm chart's
// charts/flowlens/crds/ (Helm installs CRDs only from there). `--check` compares instead of
// writing and fails on any drift, so CI catches a schema edited without regenerating, or a
// hand-edited YAML in either place.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDirs = ["crds", "charts/flowlens/crds"];
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

// Generated files are the only YAML directly in each directory (samples live in crds/samples/).
const yamlFiles = (dir) => (existsSync(dir) ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)) : []);

if (check) {
  const drift = outDirs.flatMap((rel) => {
    const dir = join(root, rel);
    const have = yamlFiles(dir);
    return [...new Set([...want.keys(), ...have])]
      .filter((f) => !want.has(f) || !have.includes(f) || readFileSync(join(dir, f), "utf8") !== want.get(f))
      .map((f) => `${rel}/${f}`);
  });
  if (drift.length > 0) {
    console.error(`gen-crds: out of date with operator/src/crds: ${drift.sort().join(", ")}; run \`make gen\``);
    process.exit(1);
  }
  console.log(`gen-crds: ${outDirs.join(" and ")} match the schemas`);
} else {
  for (const rel of outDirs) {
    const dir = join(root, rel);
    mkdirSync(dir, { recursive: true });
    for (const f of yamlFiles(dir)) if (!want.has(f)) rmSync(join(dir, f));
    for (const [f, text] of want) writeFileSync(join(dir, f), text);
  }
  console.log(`gen-crds: wrote ${outDirs.flatMap((rel) => [...want.keys()].map((f) => `${rel}/${f}`)).join(", ")}`);
}
