#!/usr/bin/env node
// The native flow engine alone on a capture (no JSON output): what `flowlens pcap` costs
// before formatting. Usage: engine.mjs FILE [dpi|nodpi] [maxFlows]
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const { nativeEngine } = await import(join(root, "agent/dist/index.js"));
const [file, mode = "dpi", maxFlows = "1000000"] = process.argv.slice(2);
let flows = 0;
nativeEngine().readPcap(
  { files: [file], dpi: mode === "dpi", maxFlows: Number(maxFlows), idleTimeoutMs: 3_600_000 },
  (_buffer, count) => {
    flows += count;
  },
  (error, stats) => {
    if (error) {
      console.error(error);
      process.exitCode = 1;
    }
    console.error(
      `engine: ${stats.packets} packets, ${flows} flows, ${stats.elapsedMs.toFixed(0)} ms (reader thread CPU ${stats.cpuMs.toFixed(0)} ms)`,
    );
  },
);
