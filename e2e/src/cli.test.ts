// The flowlens CLI contract of DESIGN.md, run as users run it: a separate process.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { repoRoot } from "@flowlens/testkit";

const bin = join(repoRoot, "cli/dist/main.js");
const flowlens = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 20_000 });

const SUBCOMMANDS = ["pcap", "collect", "agent", "aggregator", "operator", "up"];

describe("flowlens CLI", () => {
  it("lists every subcommand of DESIGN.md in --help", () => {
    const r = flowlens("--help");
    for (const c of SUBCOMMANDS) assert.match(r.stdout, new RegExp(`^  ${c} `, "m"));
  });

  for (const c of SUBCOMMANDS) {
    it(`documents '${c}' options in '${c} --help' and exits 0`, () => {
      const r = flowlens(c, "--help");
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^Usage: flowlens ${c}`));
      assert.match(r.stdout, /--help/);
    });
  }

  it("documents the fixed options of pcap, collect and up", () => {
    const pcap = flowlens("pcap", "--help").stdout;
    for (const o of ["--format", "--idle-timeout", "--active-timeout", "--no-dpi", "--bpf"])
      assert.ok(pcap.includes(o), o);
    assert.ok(flowlens("collect", "--help").stdout.includes("--pcap"));
    const up = flowlens("up", "--help").stdout;
    for (const o of ["--interface", "--pcap", "--loop"]) assert.ok(up.includes(o), o);
  });

  it("exits 2 with one line on bad usage", () => {
    for (const args of [["frobnicate"], ["pcap", "--no-such-flag"], ["agent", "stray-arg"], []]) {
      const r = flowlens(...args);
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
      if (args.length > 0) assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  });

  it("stops quietly when its reader goes away (flowlens pcap | head -1)", () => {
    const capture = join(repoRoot, "../shared/testdata/pcaps/ndpi/1kxun.pcap");
    const sh = spawnSync(
      "bash",
      ["-c", `"${process.execPath}" "${bin}" pcap "${capture}" | head -1 >/dev/null; echo "rc=\${PIPESTATUS[0]}"`],
      {
        encoding: "utf8",
        timeout: 30_000,
      },
    );
    assert.match(sh.stdout, /rc=0/, sh.stderr);
    assert.doesNotMatch(sh.stderr, /EPIPE|Error/);
  });

  it("prints its version", () => {
    assert.match(flowlens("--version").stdout, /^flowlens \d+\.\d+\.\d+/);
  });
});

describe("flowlens collect", () => {
  const exports = join(repoRoot, "../shared/testdata/flowexports/akvorado");
  const v5 = join(exports, "netflow_nfv5.pcap");
  const v9 = join(exports, "netflow_data+templates.pcap");

  it("decodes NetFlow v5 and v9 datagrams of a capture as NDJSON flow records", {
    skip: existsSync(v5) ? false : `${v5} absent`,
  }, () => {
    for (const [file, version] of [
      [v5, 5],
      [v9, 9],
    ] as const) {
      const r = flowlens("collect", "--pcap", file);
      assert.equal(r.status, 0, r.stderr);
      const records = r.stdout
        .trim()
        .split("\n")
        .map(
          (l) =>
            JSON.parse(l) as { exportVersion: number; exporter: string; srcToDstBytes: number; communityId: string },
        );
      assert.ok(records.length > 0);
      for (const rec of records) {
        assert.equal(rec.exportVersion, version);
        assert.ok(rec.exporter);
        assert.ok(rec.srcToDstBytes > 0);
        assert.match(rec.communityId, /^1:/);
      }
      assert.match(r.stderr, new RegExp(`records ${records.length},`));
    }
  });

  it("exits 2 with one line for a missing file, a file that is not a capture, or no --pcap", () => {
    for (const args of [
      ["collect", "--pcap", "/nonexistent.pcap"],
      ["collect", "--pcap", join(repoRoot, "README.md")],
      ["collect"],
    ]) {
      const r = flowlens(...args);
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  });
});
