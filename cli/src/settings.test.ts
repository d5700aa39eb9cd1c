import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { type Command, parseCommandArgs, UsageError } from "./command.js";

const cmd: Command = {
  name: "demo",
  summary: "",
  usage: "demo",
  configurable: true,
  options: {
    config: { type: "string", description: "" },
    target: { type: "string", description: "", default: "def:1" },
    "max-flows": { type: "string", description: "", default: "10" },
    iface: { type: "string", multiple: true, description: "" },
    promisc: { type: "boolean", description: "" },
  },
  run: async () => 0,
};

const dir = mkdtempSync(join(tmpdir(), "settings-"));
const file = join(dir, "c.yaml");
writeFileSync(file, "target: file:1\nmax-flows: 20\niface: [eth0, eth1]\npromisc: true\n");

describe("daemon settings: flag > environment > config file > default", () => {
  it("takes defaults when nothing is given", () => {
    const { ctx } = parseCommandArgs(cmd, [], {});
    assert.equal(ctx.values.target, "def:1");
    assert.equal(ctx.values["max-flows"], "10");
  });
  it("layers the file, the environment and flags", () => {
    const env = { FLOWLENS_MAX_FLOWS: "30", FLOWLENS_IFACE: "veth0, veth1" };
    const { ctx } = parseCommandArgs(cmd, ["--config", file, "--target", "flag:1"], env);
    assert.equal(ctx.values.target, "flag:1");
    assert.equal(ctx.values["max-flows"], "30");
    assert.deepEqual(ctx.values.iface, ["veth0", "veth1"]);
    assert.equal(ctx.values.promisc, true);
  });
  it("finds the config file through FLOWLENS_CONFIG, JSON included", () => {
    const json = join(dir, "c.json");
    writeFileSync(json, JSON.stringify({ target: "json:1", promisc: false }));
    const { ctx } = parseCommandArgs(cmd, [], { FLOWLENS_CONFIG: json });
    assert.equal(ctx.values.target, "json:1");
    assert.equal(ctx.values.promisc, false);
  });
  it("rejects unknown keys, bad types, unreadable files and bad booleans with a usage error", () => {
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "targte: x\n");
    assert.throws(
      () => parseCommandArgs(cmd, ["--config", bad], {}),
      (e) => e instanceof UsageError && /unknown setting 'targte'/.test(e.message),
    );
    writeFileSync(bad, "target: {a: 1}\n");
    assert.throws(() => parseCommandArgs(cmd, ["--config", bad], {}), /target must be a string/);
    writeFileSync(bad, "- a\n- b\n");
    assert.throws(() => parseCommandArgs(cmd, ["--config", bad], {}), /mapping/);
    writeFileSync(bad, "a: [\n");
    assert.throws(() => parseCommandArgs(cmd, ["--config", bad], {}), UsageError);
    assert.throws(() => parseCommandArgs(cmd, ["--config", join(dir, "none.yaml")], {}), /cannot read .*ENOENT/);
    assert.throws(() => parseCommandArgs(cmd, [], { FLOWLENS_PROMISC: "maybe" }), /true or false/);
  });
  it("leaves commands that are not configurable alone", () => {
    const plain = { ...cmd, configurable: false };
    const { ctx } = parseCommandArgs(plain, [], { FLOWLENS_TARGET: "env:1" });
    assert.equal(ctx.values.target, "def:1");
  });
});
