// Aggregator ingest, flows per CPU-second of the aggregator on one core (pinned with taskset),
// through a real transport into the real pipeline and live state, with batches of 1000 flows
// over 100k hosts; the peer is FlowBatch.decode alone of the same batches on the same core,
// the ceiling, so the ratio says how far ingest is from it. And the aggregator's peak RSS
// with 1M distinct hosts seen, next to 100k hosts: bounded by the state's sizes, not by the
// hosts seen. See ../ingest.mjs.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cachedBatches } from "../ingest-batches.mjs";

const script = join(dirname(fileURLToPath(import.meta.url)), "../ingest.mjs");
/** 600 measured batches after 1200 of warm-up, the transports' code optimised (see ../ingest.mjs). */
const BATCHES = "1800";
const WARMUP = "1200";
/** 1M distinct hosts: 900 new flows a batch, two new hosts each. */
const RSS_BATCHES = 560;

const node = (...args) => ({ cmd: process.execPath, args: [script, ...args] });
const setup = () => {
  cachedBatches(Number(BATCHES));
  return {};
};
const decode = () => node("decode", BATCHES, WARMUP);

export default [
  {
    name: "ingest-grpc",
    description:
      "gRPC -> pipeline -> live state, flows per aggregator CPU-second on one core (peer: FlowBatch.decode alone)",
    unit: "flows",
    peerName: "FlowBatch.decode",
    setup,
    ours: () => node("grpc", BATCHES, WARMUP),
    peer: decode,
  },
  {
    name: "ingest-nats",
    description:
      "NATS JetStream backlog -> pipeline -> live state, per aggregator CPU-second on one core (peer: decode alone)",
    unit: "flows",
    peerName: "FlowBatch.decode",
    setup,
    ours: () => node("nats", BATCHES, WARMUP),
    peer: decode,
  },
  {
    name: "aggregator-rss-1m-hosts",
    description: "aggregator peak RSS ingesting 1M distinct hosts over gRPC (peer: the same flows over 100k hosts)",
    unit: "flows",
    peerName: "100k hosts",
    rounds: 3,
    setup() {
      cachedBatches(RSS_BATCHES, { distinctHosts: true });
      cachedBatches(RSS_BATCHES, { hosts: 100_000 });
      return {};
    },
    ours: () => node("rss", "distinct", String(RSS_BATCHES)),
    peer: () => node("rss", "100000", String(RSS_BATCHES)),
  },
];
