#!/usr/bin/env node
// Generates TypeScript from contracts/proto with ts-proto, offline (protoc ships inside the
// `protoc` npm package). `--check` regenerates into a temp dir and fails on any drift from the
// committed code, so CI catches a .proto edited without regenerating.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const protoRoot = join(root, "contracts/proto");
const outDir = join(root, "contracts/src/gen");
const check = process.argv.includes("--check");

const protoFiles = (function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith(".proto") ? [join(dir, e.name)] : [],
  );
})(protoRoot).map((f) => relative(protoRoot, f));

const target = check ? mkdtempSync(join(tmpdir(), "flowlens-gen-")) : outDir;
if (!check) {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
}

const opts = [
  "outputServices=grpc-js",
  "forceLong=bigint",
  "esModuleInterop=true",
  "importSuffix=.js",
  "useOptionals=messages",
  "env=node",
  "oneof=unions-value",
].join(",");
const protoc = join(root, "node_modules/protoc/protoc.cjs");
const plugin = join(root, "node_modules/.bin/protoc-gen-ts_proto");
const res = spawnSync(
  process.execPath,
  [
    protoc,
    `--plugin=protoc-gen-ts_proto=${plugin}`,
    `--ts_proto_out=${target}`,
    `--ts_proto_opt=${opts}`,
    `-I${protoRoot}`,
    ...protoFiles,
  ],
  { stdio: "inherit" },
);
if (res.status !== 0) {
  console.error(`gen-proto: protoc failed with status ${res.status}`);
  process.exit(1);
}

if (check) {
  const list = (d) =>
    existsSync(d)
      ? (function walk(dir) {
          return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
            e.isDirectory() ? walk(join(dir, e.name)) : [relative(d, join(dir, e.name))],
          );
        })(d).sort()
      : [];
  const want = list(target);
  const have = list(outDir);
  const drift = [...new Set([...want, ...have])].filter(
    (f) =>
      !want.includes(f) ||
      !have.includes(f) ||
      readFileSync(join(target, f), "utf8") !== readFileSync(join(outDir, f), "utf8"),
  );
  rmSync(target, { recursive: true, force: true });
  if (drift.length > 0) {
    console.error(
      `gen-proto: generated code is out of date with the .proto files: ${drift.join(", ")}; run \`make gen\``,
    );
    process.exit(1);
  }
  console.log("gen-proto: generated code matches the .proto files");
}
