// Offline flow building on the same large capture (real traffic, rewritten into ~2.3M packets
// and ~209k flows by gen-bench-pcap.mjs): Flowlens vs ndpiReader (both with DPI, one thread)
// and vs softflowd (no DPI). Wall time of the whole command on both sides.
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { softflowd as softflowdCmd } from "./peers.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../../..");
const cli = join(root, "cli/dist/main.js");
const engine = join(here, "../engine.mjs");
let capture;
const setup = () => {
  capture ??= execFileSync(process.execPath, [join(here, "../gen-bench-pcap.mjs"), "110"], { encoding: "utf8" }).trim();
  return { capture };
};
const softflowd = ({ capture }) => softflowdCmd(capture);
const ndpiReader = ({ capture }) => ({ cmd: "ndpiReader", args: ["-q", "-i", capture, "-v", "0"] });

export default [
  {
    name: "pcap-dpi",
    description: "flowlens pcap (NDJSON out) vs ndpiReader -i (no flow output), both with nDPI 4.2",
    unit: "runs",
    peerName: "ndpiReader",
    rounds: 3,
    setup,
    ours: ({ capture }) => ({ cmd: process.execPath, args: [cli, "pcap", capture] }),
    peer: ndpiReader,
  },
  {
    name: "engine-dpi",
    description: "the native engine alone (no output) vs ndpiReader -i, both with nDPI 4.2",
    unit: "runs",
    peerName: "ndpiReader",
    rounds: 3,
    setup,
    ours: ({ capture }) => ({ cmd: process.execPath, args: [engine, capture, "dpi"] }),
    peer: ndpiReader,
  },
  {
    name: "pcap-nodpi",
    description: "flowlens pcap --no-dpi (NDJSON out) vs softflowd -r (NetFlow out)",
    unit: "runs",
    peerName: "softflowd",
    rounds: 3,
    setup,
    ours: ({ capture }) => ({ cmd: process.execPath, args: [cli, "pcap", "--no-dpi", capture] }),
    peer: softflowd,
  },
  {
    name: "engine-nodpi",
    description: "the native engine alone, no DPI, vs softflowd -r",
    unit: "runs",
    peerName: "softflowd",
    rounds: 3,
    setup,
    ours: ({ capture }) => ({ cmd: process.execPath, args: [engine, capture, "nodpi"] }),
    peer: softflowd,
  },
];
