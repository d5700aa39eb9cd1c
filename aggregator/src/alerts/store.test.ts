// The past-alerts store and the engaged snapshot on a real filesystem: what was written is
// read back after a restart, a truncated or corrupted log loses only its damaged lines (counted,
// then compacted away), the bound drops the oldest, acknowledgements persist.
import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { EngagedFile } from "./engaged-file.js";
import { PastAlertStore } from "./store.js";
import type { AlertRecord } from "./types.js";

function alert(i: number, state: "past" | "engaged" = "past"): AlertRecord {
  return {
    id: `id-${i}`,
    rule: "r",
    check: "port-scan",
    severity: "warning",
    entity: { kind: "host", value: `10.0.0.${i}` },
    state,
    oneShot: false,
    value: i,
    threshold: 100,
    peak: i,
    startedAtMs: 1000 + i,
    ...(state === "past" ? { endedAtMs: 2000 + i } : {}),
    lastSeenMs: 1500 + i,
    hits: 1,
    summary: `alert ${i}`,
    labels: { n: String(i) },
    acknowledged: false,
  };
}

describe("past alerts store", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "flowlens-store-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("reads back what it wrote, acknowledgements included, after a restart", () => {
    const a = new PastAlertStore(dir, 100);
    a.open();
    for (let i = 1; i <= 3; i++) a.add(alert(i));
    a.flush();
    a.ack("id-2", 5000);
    a.close();
    const b = new PastAlertStore(dir, 100);
    b.open();
    assert.deepEqual(
      b.list().map((x) => `${x.id}:${x.acknowledged}`),
      ["id-3:false", "id-2:true", "id-1:false"],
    );
    assert.equal(b.get("id-2")?.acknowledgedAtMs, 5000);
    assert.equal(b.snapshotStats().corruptLines, 0);
    b.close();
  });

  it("keeps at most its bound, dropping the oldest, and compacts the log", () => {
    const a = new PastAlertStore(dir, 10);
    a.open();
    for (let i = 1; i <= 200; i++) {
      a.add(alert(i));
      if (i % 7 === 0) a.flush();
    }
    a.close();
    assert.equal(a.snapshotStats().dropped, 190);
    const lines = readFileSync(join(dir, "alerts.jsonl"), "utf8").trim().split("\n").length;
    assert.ok(lines <= 2 * 10 + 64 + 7, `${lines} lines after compaction`);
    const b = new PastAlertStore(dir, 10);
    b.open();
    assert.deepEqual(
      b.list().map((x) => x.id),
      Array.from({ length: 10 }, (_, k) => `id-${200 - k}`),
    );
    b.close();
  });

  it("a truncated last line and corrupted lines are skipped, counted, and compacted away", () => {
    const a = new PastAlertStore(dir, 100);
    a.open();
    for (let i = 1; i <= 4; i++) a.add(alert(i));
    a.close();
    const file = join(dir, "alerts.jsonl");
    const text = readFileSync(file, "utf8");
    const lines = text.split("\n");
    // Damage line 2 in place, then cut the file in the middle of the last line (a crash mid-write).
    lines[1] = `${(lines[1] as string).slice(0, 20)}\u0000garbage`;
    writeFileSync(file, lines.join("\n"));
    truncateSync(file, Buffer.byteLength(lines.join("\n")) - 30);
    appendFileSync(file, ""); // still a file, just shorter
    const b = new PastAlertStore(dir, 100);
    b.open();
    assert.deepEqual(
      b.list().map((x) => x.id),
      ["id-3", "id-1"],
    );
    assert.equal(b.snapshotStats().corruptLines, 2);
    b.add(alert(5));
    b.close();
    const c = new PastAlertStore(dir, 100);
    c.open();
    assert.deepEqual(
      c.list().map((x) => x.id),
      ["id-5", "id-3", "id-1"],
    );
    assert.equal(c.snapshotStats().corruptLines, 0, "the damaged log was rewritten");
    c.close();
  });

  it("without a data directory it keeps alerts in memory only", () => {
    const a = new PastAlertStore(undefined, 5);
    a.open();
    a.add(alert(1));
    a.flush();
    a.close();
    assert.equal(a.size, 1);
    assert.equal(a.snapshotStats().bytes, 0);
  });
});

describe("engaged alerts snapshot", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "flowlens-engaged-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("saves and loads engaged alerts; a damaged snapshot is set aside and counted", () => {
    const f = new EngagedFile(dir);
    assert.deepEqual(f.load(), []);
    f.save([alert(1, "engaged"), alert(2, "engaged")]);
    assert.deepEqual(
      new EngagedFile(dir).load().map((a) => a.id),
      ["id-1", "id-2"],
    );
    const doc = JSON.parse(readFileSync(join(dir, "engaged.json"), "utf8"));
    doc.alerts.push({ id: 7, rule: "r" });
    writeFileSync(join(dir, "engaged.json"), JSON.stringify(doc));
    const g = new EngagedFile(dir);
    assert.deepEqual(
      g.load().map((a) => a.id),
      ["id-1", "id-2"],
    );
    assert.equal(g.damaged, 1);
    writeFileSync(join(dir, "engaged.json"), '{"version":1,"alerts":[{"id"');
    const h = new EngagedFile(dir);
    assert.deepEqual(h.load(), []);
    assert.equal(h.damaged, 1);
    assert.ok(readFileSync(join(dir, "engaged.json.damaged"), "utf8").length > 0);
  });
});
