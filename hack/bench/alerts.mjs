#!/usr/bin/env node
// The alert engine's cost, on one core (pinned with taskset when there is one), over the
// FlowBatches of the ingest benchmarks (ingest-batches.mjs: 1000 flows a batch, 100k hosts):
//
//   alerts.mjs ingest rules|defaults|none [batches=900] [warmup=300]
//       batches decoded and applied by the real pipeline into the real live state, with the alert
//       engine observing: 1,000 threshold rules plus the default checks (rules), the default
//       checks alone (defaults), or no engine (none). Result: flows per CPU-second.
//   alerts.mjs eval rules|hosts-query [batches=900] [cycles=30]
//       the state and the 1,000 rules after ingest of the batches, then evaluation cycles as the
//       10 s timer runs them (every sixth closes the rules' 1-minute window): evaluation cycles
//       per CPU-second; with the time per cycle, the longest slice (the most ingest ever waits),
//       the check memory and the peak RSS. The peer, hosts-query, is the same state without
//       rules answering GET /api/v1/hosts (sorted by bytes, top 50): a yardstick for one pass
//       over 100k hosts.
//
// Last stdout line: {"items": N, "seconds": CPU seconds} for hack/bench/run.mjs. Needs
// `npx tsc -b` first.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cachedBatches, hostAddress, readBatches } from "./ingest-batches.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const TASKSET = ["/usr/bin/taskset", "/bin/taskset"].find((p) => existsSync(p));
const LOCAL_NETWORKS = ["10.0.0.0/8", "fd00::/8"];
const HOSTS = 100_000;
const fmt = (n) => Math.round(n).toLocaleString("en-US");
const cpuSeconds = (c) => (c.user + c.system) / 1e6;

function pinSelf(core) {
  if (TASKSET) execFileSync(TASKSET, ["-a", "-p", "-c", String(core), String(process.pid)], { stdio: "ignore" });
}

const METRICS = [
  "bytes",
  "packets",
  "flows",
  "bps",
  "distinctPeers",
  "distinctPorts",
  "retransmissionRatio",
  "serverLatencyMs",
  "appBytes_TLS",
  "activityTime",
  "idleTime",
  "bytesSent",
];
const VALUES = {
  bytes: 5e6,
  packets: 5000,
  flows: 200,
  bps: 1e6,
  distinctPeers: 50,
  distinctPorts: 20,
  retransmissionRatio: 0.2,
  serverLatencyMs: 500,
  appBytes_TLS: 5e6,
  activityTime: 50,
  idleTime: 3600,
  bytesSent: 5e6,
};
const APPS = ["TLS", "TLS.Google", "HTTP", "DNS", "SSH", "QUIC", "NTP", "Unknown"];
const CATEGORIES = ["Web", "Cloud", "Network", "RemoteAccess", "Media", "System"];
const HOST_LIKE = new Set(["host", "network", "local-hosts"]);

/**
 * 1,000 threshold rules over the bench's hosts: 700 hosts (a spread over the 100k, IPv4 and
 * IPv6), 195 IPv4 networks (/24 and /16) and 5 IPv6 ones, 40 local-hosts (one on every local
 * host, 39 on /22s), 40 applications, 10 categories, 10 nodes; metrics in rotation. With
 * FLOWLENS_BENCH_RULES=apps, 500 hosts, 245 + 5 networks, 40 local-hosts, 150 applications,
 * 50 categories, 10 nodes instead: every record then counts for some 50 rules (each of the 8
 * applications of the batches has 19 rules, TLS.Google records also count for TLS's).
 */
export function benchRules() {
  const apps = process.env.FLOWLENS_BENCH_RULES === "apps";
  const out = [];
  const add = (kind, value, i) => {
    let metric = METRICS[i % METRICS.length];
    if (
      !HOST_LIKE.has(kind) &&
      (metric.startsWith("distinct") || metric.startsWith("appBytes") || metric === "bytesSent")
    )
      metric = "bytes";
    out.push({
      name: `bench-${out.length}`,
      severity: "warning",
      threshold: { target: { kind, value }, metric, window: "1m", operator: ">", value: VALUES[metric] },
    });
  };
  for (let i = 0; i < (apps ? 500 : 700); i++) add("host", hostAddress((i * 199 + 7) % HOSTS), i);
  for (let i = 0; i < (apps ? 200 : 150); i++) add("network", `10.${i % 2}.${(i * 7) % 256}.0/24`, i);
  for (let i = 0; i < 45; i++) add("network", `10.${i}.0.0/16`, i);
  for (let i = 0; i < 5; i++) add("network", `fd00:${i}::/32`, i);
  add("local-hosts", "*", 0);
  for (let i = 1; i < 40; i++) add("local-hosts", `10.${i % 2}.${(i * 4) % 256}.0/22`, i);
  for (let i = 0; i < (apps ? 150 : 40); i++) add("application", APPS[i % APPS.length], i);
  for (let i = 0; i < (apps ? 50 : 10); i++) add("category", CATEGORIES[i % CATEGORIES.length], i);
  for (let i = 0; i < 10; i++) add("node", i === 0 ? "bench-node" : `node-${i}`, i);
  if (out.length !== 1000) throw new Error(`${out.length} bench rules`);
  return out;
}

async function build(mode, clock) {
  const agg = await import(join(root, "aggregator/dist/index.js"));
  const { AlertEngine } = await import(join(root, "aggregator/dist/alerts/engine.js"));
  const { defaultRules } = await import(join(root, "aggregator/dist/alerts/default-rules.js"));
  const { parseAlertRule } = await import(join(root, "contracts/dist/index.js"));
  const { pino } = await import("pino");
  const state = new agg.LiveState(agg.defaultStateConfig(), new agg.LocalNetworks(LOCAL_NETWORKS));
  const pipeline = new agg.IngestPipeline(state, new agg.SequenceDeduper());
  let engine;
  if (mode !== "none" && mode !== "hosts-query") {
    engine = new AlertEngine({
      logger: pino({ level: "warn" }),
      localNetworks: LOCAL_NETWORKS,
      clock: () => clock.now,
    });
    const rules = [...defaultRules()];
    if (mode === "rules") {
      for (const [i, r] of benchRules().entries()) {
        const p = parseAlertRule(r, `bench rule ${i}`);
        if (!p.ok) throw new Error(p.errors.join("; "));
        rules.push({ origin: `bench rule ${i}`, name: p.rule.name, rule: p.rule, errors: [] });
      }
    }
    engine.setRules(rules);
    const refused = engine.ruleStatuses().filter((s) => !s.accepted);
    if (refused.length > 0) throw new Error(`rules refused: ${JSON.stringify(refused[0])}`);
    pipeline.observer = engine;
  }
  return { state, pipeline, engine };
}

function apply(pipeline, batches) {
  let flows = 0;
  for (const b of batches) {
    const d = pipeline.fast.decode(b);
    if (!pipeline.fast.apply(d, "grpc")) throw new Error("batch refused");
    flows += d.flows.length;
  }
  return flows;
}

async function ingestBench(mode, count, warmup) {
  pinSelf(0);
  const batches = readBatches(cachedBatches(count));
  const clock = { now: Date.now() };
  const { pipeline, engine } = await build(mode, clock);
  apply(pipeline, batches.slice(0, warmup));
  const c0 = process.cpuUsage();
  const flows = apply(pipeline, batches.slice(warmup));
  const cpu = cpuSeconds(process.cpuUsage(c0));
  const mem = engine ? `, check memory ${fmt(engine.checkMemoryBytes() / 1048576)} MiB` : "";
  console.log(
    `ingest (${mode}): ${fmt(flows)} flows, CPU ${cpu.toFixed(2)} s -> ${fmt(flows / cpu)} flows per CPU-second${mem}`,
  );
  console.log(JSON.stringify({ items: flows, seconds: cpu }));
}

async function evalBench(mode, count, cycles) {
  pinSelf(0);
  const batches = readBatches(cachedBatches(count));
  // Five seconds into a minute: the sixth 10 s cycle closes the rules' first window.
  const clock = { now: (Math.floor(Date.now() / 60_000) + 1) * 60_000 + 5000 };
  const { state, pipeline, engine } = await build(mode, clock);
  apply(pipeline, batches);
  const times = [];
  let longestSlice = 0;
  let maxRows = 0;
  let maxEngaged = 0;
  const c0 = process.cpuUsage();
  for (let i = 0; i < cycles; i++) {
    const t0 = performance.now();
    if (engine) {
      clock.now += 10_000;
      await engine.evaluate();
      longestSlice = Math.max(longestSlice, engine.stats.longestSliceSeconds);
      maxRows = Math.max(maxRows, engine.stats.thresholdRows);
      maxEngaged = Math.max(maxEngaged, engine.engagedAlerts().length);
      if (process.env.FLOWLENS_BENCH_VERBOSE)
        console.error(
          `cycle ${i}: ${(performance.now() - t0).toFixed(1)} ms, cpu ${(engine.stats.evaluationSeconds * 1000).toFixed(1)} ms, slice ${(engine.stats.longestSliceSeconds * 1000).toFixed(1)} ms, rows ${engine.stats.thresholdRows}, engaged ${engine.engagedAlerts().length}`,
        );
    } else state.hosts({ sort: "bytes", order: "desc", offset: 0, limit: 50 });
    times.push(performance.now() - t0);
  }
  const cpu = cpuSeconds(process.cpuUsage(c0));
  const sorted = [...times].sort((a, b) => a - b);
  const med = sorted[sorted.length >> 1];
  const max = sorted[sorted.length - 1];
  if (engine) {
    const s = engine.stats;
    console.log(
      `evaluation (1,000 threshold rules + defaults, up to ${fmt(maxRows)} targets, up to ${fmt(maxEngaged)} engaged): ` +
        `${cycles} cycles, median ${med.toFixed(1)} ms, max ${max.toFixed(1)} ms per cycle (wall), longest slice ${(
          longestSlice * 1000
        ).toFixed(
          1,
        )} ms, ${s.evaluationsSkipped} skipped; check memory ${fmt(engine.checkMemoryBytes() / 1048576)} MiB; ` +
        `RSS ${fmt(process.memoryUsage().rss / 1048576)} MiB`,
    );
  } else
    console.log(
      `hosts query (top 50 of ${fmt(state.totals().hosts ?? HOSTS)} hosts by bytes): median ${med.toFixed(1)} ms; RSS ${fmt(process.memoryUsage().rss / 1048576)} MiB`,
    );
  console.log(JSON.stringify({ items: cycles, seconds: cpu }));
}

const [cmd, mode = "rules", a, b] = process.argv.slice(2);
if (cmd === "ingest") await ingestBench(mode, Number(a ?? 900), Number(b ?? 300));
else if (cmd === "eval") await evalBench(mode, Number(a ?? 900), Number(b ?? 30));
else {
  console.error(
    "usage: alerts.mjs ingest rules|defaults|none [batches] [warmup] | eval rules|hosts-query [batches] [cycles]",
  );
  process.exit(2);
}
