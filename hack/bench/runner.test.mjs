import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatTable, median, runBenchmark, runOnce } from "./runner.mjs";

const node = process.execPath;
const selfReport = (items, ms) => ({
  cmd: node,
  args: [
    "-e",
    `const t=Date.now(); while(Date.now()-t<${ms}); console.log("noise"); console.log(JSON.stringify({items:${items},seconds:${ms / 1000}}))`,
  ],
});

describe("bench runner", () => {
  it("takes the median", () => {
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });

  it("reads a command's self-reported throughput and its peak RSS", async () => {
    const r = await runOnce(selfReport(1000, 50));
    assert.ok(Math.abs(r.rate - 20000) < 1, `rate ${r.rate}`);
    assert.ok(r.seconds >= 0.05);
    assert.ok(r.rssKb === undefined || r.rssKb > 1000, `rss ${r.rssKb}`);
  });

  it("finds the self-report after megabytes of output", async () => {
    const r = await runOnce({
      cmd: node,
      args: [
        "-e",
        `process.stdout.write("x".repeat(3 << 20) + "\\n"); console.log(JSON.stringify({items:10,seconds:2}))`,
      ],
    });
    assert.equal(r.rate, 5);
  });

  it("fails loudly when a side exits non-zero", async () => {
    await assert.rejects(
      runOnce({ cmd: node, args: ["-e", "console.error('boom'); process.exit(3)"] }),
      /exited 3: boom/,
    );
  });

  it("compares two real commands and reports ours/peer as a throughput ratio", async () => {
    const res = await runBenchmark(
      {
        name: "t",
        description: "",
        peerName: "slow",
        ours: () => selfReport(4000, 40),
        peer: () => selfReport(1000, 40),
      },
      { rounds: 3 },
    );
    assert.ok(res.ratio > 3.5 && res.ratio < 4.5, `ratio ${res.ratio}`);
    assert.match(formatTable([res]), /4\.\d\dx/);
  });

  it("falls back to wall time when commands do not self-report", async () => {
    const sleep = (ms) => ({ cmd: node, args: ["-e", `setTimeout(()=>{}, ${ms})`] });
    const res = await runBenchmark(
      { name: "w", description: "", peerName: "p", ours: () => sleep(50), peer: () => sleep(300) },
      { rounds: 1 },
    );
    assert.equal(res.ours.selfReported, false);
    assert.ok(res.ratio > 1.5, `ratio ${res.ratio}`);
  });
});
