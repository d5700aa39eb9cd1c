#!/usr/bin/env node
// make bench: every benchmark in hack/bench/benches (or those named on the command line).
// Usage: node hack/bench/run.mjs [--rounds N] [name...]
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { formatTable, runBenchmark } from "./runner.mjs";

const dir = join(dirname(fileURLToPath(import.meta.url)), "benches");
const argv = process.argv.slice(2);
let rounds;
const names = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === "--rounds") rounds = Number(argv[++i]);
  else names.push(argv[i]);
}

const all = [];
for (const f of readdirSync(dir)
  .filter((f) => f.endsWith(".mjs"))
  .sort()) {
  const mod = await import(pathToFileURL(join(dir, f)).href);
  if (mod.default === undefined) continue; // shared helpers (peers.mjs), not a benchmark
  all.push(...(Array.isArray(mod.default) ? mod.default : [mod.default]));
}
const chosen = names.length ? all.filter((b) => names.includes(b.name)) : all;
if (chosen.length === 0) {
  console.error(`bench: no benchmark named ${names.join(", ")}; have: ${all.map((b) => b.name).join(", ")}`);
  process.exit(2);
}
const results = [];
for (const b of chosen) {
  console.error(`== ${b.name}: ${b.description}`);
  results.push(await runBenchmark(b, { rounds, log: (l) => console.error(`   ${l}`) }));
}
console.log(formatTable(results));
