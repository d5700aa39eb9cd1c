// Memory at 1M concurrent flows: a capture of 1M distinct flows (TCP SYNs and UDP, 10% IPv6)
// within one second, so every flow is open when the file ends. Peak RSS of the whole process:
// the native engine (with DPI) in Node.js vs softflowd tracking the same flows.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { softflowd } from "./peers.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const dir = process.env.FLOWLENS_BENCH_DIR ?? join(homedir(), ".cache/flowlens-bench");
const capture = join(dir, "flows-1m-v1.pcap");

export default {
  name: "memory-1m-flows",
  description: "peak RSS with 1M concurrent flows: native engine with DPI (in Node.js) vs softflowd",
  unit: "runs",
  peerName: "softflowd",
  rounds: 1,
  setup() {
    mkdirSync(dir, { recursive: true });
    if (!existsSync(capture)) execFileSync(process.execPath, [join(here, "../gen-flows-pcap.mjs"), capture, "1000000"]);
    return { capture };
  },
  ours: ({ capture }) => ({ cmd: process.execPath, args: [join(here, "../engine.mjs"), capture, "dpi", "1000000"] }),
  peer: ({ capture }) => softflowd(capture),
};
