// Runs Flowlens and a peer on the same input, several interleaved rounds, and reports medians
// and the ratio. A command may print one JSON line {"items": N, "seconds": S} as its last
// stdout line to report its own throughput (items/s); otherwise wall time per round is used.
import { spawn } from "node:child_process";

/**
 * @typedef {{ cmd: string, args: string[], env?: Record<string,string> }} Cmd
 * @typedef {{ name: string, description: string, unit?: string, rounds?: number,
 *   setup?: () => Promise<object> | object, teardown?: (ctx: object) => Promise<void> | void,
 *   ours: (ctx: object) => Cmd, peer: (ctx: object) => Cmd, peerName: string }} Benchmark
 */

/** Runs one command; resolves with wall seconds, self-reported throughput and peak RSS. */
export function runOnce({ cmd, args, env }) {
  return new Promise((resolve, reject) => {
    const useTime = process.platform === "linux";
    const start = process.hrtime.bigint();
    // GNU time's %M gives the child's peak RSS; node cannot read a child's rusage itself.
    const child = useTime
      ? spawn("/usr/bin/time", ["-f", "__flowlens_rss_kb=%M", cmd, ...args], { env: { ...process.env, ...env } })
      : spawn(cmd, args, { env: { ...process.env, ...env } });
    // Only the last line of stdout matters (a self-report); keep raw chunks of the tail and
    // decode once at the end, so that reading a command's output (100 MB of NDJSON from
    // `flowlens pcap`) costs this process next to nothing on a machine it shares with the run.
    let tail = [];
    let tailBytes = 0;
    let err = "";
    child.stdout.on("data", (c) => {
      tail.push(c);
      tailBytes += c.length;
      while (tail.length > 1 && tailBytes - tail[0].length >= 1 << 16) tailBytes -= tail.shift().length;
    });
    child.stderr.on("data", (c) => {
      err += c;
      if (err.length > 1 << 20) err = err.slice(-(1 << 16));
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const rss = /__flowlens_rss_kb=(\d+)/.exec(err);
      if (code !== 0) {
        reject(
          new Error(
            `${cmd} ${args.join(" ")} exited ${code}: ${err
              .replace(/__flowlens_rss_kb=\d+/, "")
              .trim()
              .slice(-500)}`,
          ),
        );
        return;
      }
      const out = Buffer.concat(tail).toString("utf8");
      tail = [];
      const last = out.trim().split("\n").pop() ?? "";
      let rate;
      try {
        const j = JSON.parse(last);
        if (typeof j.items === "number" && typeof j.seconds === "number" && j.seconds > 0) rate = j.items / j.seconds;
      } catch {
        // not a self-report: fall back to wall time
      }
      resolve({ seconds, rate, rssKb: rss ? Number(rss[1]) : undefined });
    });
  });
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Runs a benchmark; returns per-side medians and ratio = ours/peer throughput (>1: we are
 * faster). Rounds alternate ours and peer so that machine noise hits both alike.
 * @param {Benchmark} bench
 */
export async function runBenchmark(bench, { rounds = bench.rounds ?? 5, log = () => {} } = {}) {
  const ctx = (await bench.setup?.()) ?? {};
  try {
    const sides = { ours: [], peer: [] };
    for (let r = 0; r < rounds; r++) {
      for (const side of r % 2 ? ["peer", "ours"] : ["ours", "peer"]) {
        const res = await runOnce(bench[side](ctx));
        sides[side].push(res);
        log(
          `${bench.name} round ${r + 1}/${rounds} ${side}: ${res.rate ? `${res.rate.toFixed(0)} ${bench.unit ?? "items"}/s` : `${res.seconds.toFixed(3)} s`}`,
        );
      }
    }
    // Self-reported rates only when both sides report them; otherwise both by wall time, so
    // the ratio never mixes units.
    const selfReported = [...sides.ours, ...sides.peer].every((x) => x.rate !== undefined);
    const summarize = (runs) => ({
      // Throughput: self-reported items/s, else rounds/s from wall time.
      throughput: median(runs.map((x) => (selfReported ? x.rate : 1 / x.seconds))),
      seconds: median(runs.map((x) => x.seconds)),
      rssKb: runs.some((x) => x.rssKb !== undefined) ? median(runs.map((x) => x.rssKb ?? 0)) : undefined,
      selfReported,
    });
    const ours = summarize(sides.ours);
    const peer = summarize(sides.peer);
    return {
      name: bench.name,
      peerName: bench.peerName,
      unit: bench.unit ?? "items",
      rounds,
      ours,
      peer,
      ratio: ours.throughput / peer.throughput,
    };
  } finally {
    await bench.teardown?.(ctx);
  }
}

export function formatTable(results) {
  const rows = [["benchmark", "peer", "ours", "peer value", "ratio (ours/peer)", "RSS ours/peer MiB"]];
  const fmt = (s, unit) => (s.selfReported ? `${s.throughput.toFixed(0)} ${unit}/s` : `${s.seconds.toFixed(3)} s`);
  const mib = (kb) => (kb === undefined ? "?" : (kb / 1024).toFixed(0));
  for (const r of results) {
    rows.push([
      r.name,
      r.peerName,
      fmt(r.ours, r.unit),
      fmt(r.peer, r.unit),
      `${r.ratio.toFixed(2)}x`,
      `${mib(r.ours.rssKb)}/${mib(r.peer.rssKb)}`,
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((c, i) => c.padEnd(widths[i])).join("  ")).join("\n");
}
