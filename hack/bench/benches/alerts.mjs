// The alert engine (issue 7): 1,000 threshold rules (hosts, networks, local hosts,
// applications, categories, nodes; see ../alerts.mjs) plus the default checks over the ingest
// benchmarks' batches (1000 flows each, 100k hosts), on one core.
// - alerts-ingest: flows per CPU-second through pipeline + live state with the engine watching,
//   against the same ingest without it: the ratio is what the rules cost ingest.
// - alerts-eval: evaluation cycles per CPU-second of the 10 s timer over the state those
//   batches leave (1/rate is the time per cycle), against a GET /api/v1/hosts top-50 query of
//   the same state without rules (one pass over 100k hosts); the RSS column is the memory with
//   and without the rules. ../alerts.mjs prints the per-cycle median, the longest slice and the
//   check memory when run by hand.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cachedBatches } from "../ingest-batches.mjs";

const script = join(dirname(fileURLToPath(import.meta.url)), "../alerts.mjs");
const BATCHES = "900";
const node = (...args) => ({ cmd: process.execPath, args: [script, ...args] });
const setup = () => {
  cachedBatches(Number(BATCHES));
  return {};
};

export default [
  {
    name: "alerts-ingest",
    description: "ingest with 1,000 threshold rules + default checks, flows per CPU-second (peer: no alert engine)",
    unit: "flows",
    peerName: "no rules",
    setup,
    ours: () => node("ingest", "rules", BATCHES, "300"),
    peer: () => node("ingest", "none", BATCHES, "300"),
  },
  {
    name: "alerts-eval",
    description:
      "evaluation cycles of 1,000 rules over 100k hosts per CPU-second, RSS with rules (peer: top-50 hosts query, no rules)",
    unit: "cycles",
    peerName: "hosts query",
    rounds: 3,
    setup,
    ours: () => node("eval", "rules", BATCHES, "30"),
    peer: () => node("eval", "hosts-query", BATCHES, "30"),
  },
];
