import assert from "node:assert/strict";
import { closeSync, constants, openSync, readSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { makeTempDir, nscaUnavailable, removeTempDir, run, startNsca, waitFor } from "@flowlens/testkit";
import { pino } from "pino";
import { NotificationDispatcher } from "./dispatcher.js";
import { sampleNotification } from "./testing.js";
import type { EndpointConfig } from "./types.js";

const logger = pino({ level: "silent" });
const LINE = /^\[(\d+)\] PROCESS_SERVICE_CHECK_RESULT;([^;]+);([^;]+);([0-3]);(.*)$/;

/** Reads what is in a FIFO opened non-blocking (as Nagios reads its command file). */
function drainFifo(fd: number): string {
  const buf = Buffer.alloc(65536);
  let out = "";
  for (;;) {
    try {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) return out;
      out += buf.subarray(0, n).toString("utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EAGAIN") return out;
      throw err;
    }
  }
}

describe("Nagios endpoint: external command file", () => {
  let dir: string;
  const dispatchers: NotificationDispatcher[] = [];
  const dispatcher = () => {
    const d = new NotificationDispatcher({ logger });
    dispatchers.push(d);
    return d;
  };
  before(() => {
    dir = makeTempDir("notify-nagios");
  });
  after(async () => {
    await Promise.all(dispatchers.map((d) => d.stop(Date.now() + 500)));
    removeTempDir(dir);
  });

  it("writes PROCESS_SERVICE_CHECK_RESULT lines to the command FIFO", async () => {
    const fifo = join(dir, "nagios.cmd");
    run("mkfifo", [fifo]);
    const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const d = dispatcher();
      const ep: EndpointConfig = {
        kind: "nagios",
        target: fifo,
        options: { host: "flowlens-agg", service: "Flowlens alerts" },
      };
      const n = sampleNotification({ severity: "warning", summary: "scan | with pipe\nand newline" });
      d.send([ep], n);
      d.send([ep], { ...n, event: "released", value: 0, endedAtMs: Date.now() });
      d.send([ep], sampleNotification({ severity: "critical", event: "flow" }));
      let text = "";
      await waitFor("3 lines", () => {
        text += drainFifo(fd);
        return text.split("\n").filter(Boolean).length >= 3;
      });
      const lines = text.split("\n").filter(Boolean);
      const parsed = lines.map((l) => LINE.exec(l));
      const [a, b, c] = parsed;
      assert.ok(a && b && c, `lines: ${lines.join("\n")}`);
      assert.ok(Math.abs(Number(a[1]) - Date.now() / 1000) < 10);
      assert.equal(a[2], "flowlens-agg");
      assert.equal(a[3], "Flowlens alerts");
      assert.equal(a[4], "1", "warning is WARNING (1)");
      assert.equal(a[5], "WARNING: scan with pipe and newline (host 10.231.0.5)|value=512;;100");
      assert.equal(b[4], "0", "a release is OK (0)");
      assert.match(b[5] ?? "", /^RELEASED: /);
      assert.equal(c[4], "2", "critical is CRITICAL (2)");
      await waitFor("sent", () => d.rowFor(ep)?.sent === 3);
    } finally {
      closeSync(fd);
    }
  });

  it("fails (retrying) instead of hanging when nobody reads the FIFO", async () => {
    const fifo = join(dir, "nobody.cmd");
    run("mkfifo", [fifo]);
    const d = dispatcher();
    const ep: EndpointConfig = { kind: "nagios", target: fifo, options: { maxAttempts: "3", backoffMs: "10" } };
    d.send([ep], sampleNotification());
    await waitFor("failed", () => d.rowFor(ep)?.failed === 1, { timeoutMs: 5000 });
    assert.equal(d.rowFor(ep)?.retried, 2);
  });

  it("appends to an existing regular file, and never creates a missing one", async () => {
    const file = join(dir, "commands.txt");
    writeFileSync(file, "");
    const d = dispatcher();
    const ep: EndpointConfig = { kind: "nagios", target: file };
    d.send([ep], sampleNotification({ rule: "ns/rule;with;semicolons" }));
    await waitFor("sent", () => d.rowFor(ep)?.sent === 1, { timeoutMs: 5000 });
    const { readFileSync, existsSync } = await import("node:fs");
    const m = LINE.exec(readFileSync(file, "utf8").trimEnd());
    assert.ok(m);
    assert.equal(m[2], "flowlens");
    assert.equal(m[3], "ns/rule_with_semicolons", "the rule is the service, ';' replaced");
    const missing = join(dir, "missing.cmd");
    const ep2: EndpointConfig = { kind: "nagios", target: missing, options: { maxAttempts: "1" } };
    d.send([ep2], sampleNotification());
    await waitFor("failed", () => d.rowFor(ep2)?.failed === 1, { timeoutMs: 5000 });
    assert.equal(existsSync(missing), false);
  });
});

describe("Nagios endpoint: NSCA against a real nsca daemon", { skip: nscaUnavailable() }, () => {
  it("delivers XOR-obfuscated packets that nsca accepts and writes as check results", async () => {
    const nsca = await startNsca({ password: "pw-Test-123", decryption: 1 });
    const d = new NotificationDispatcher({ logger });
    try {
      const ep: EndpointConfig = {
        kind: "nagios",
        target: `nsca://127.0.0.1:${nsca.port}`,
        options: { host: "flowlens-test", password: "pw-Test-123" },
      };
      const long = sampleNotification({ severity: "error", summary: "y".repeat(5000) });
      const n = sampleNotification({ severity: "critical" });
      d.send([ep], long);
      d.send([ep], n);
      d.send([ep], { ...n, event: "released", endedAtMs: Date.now(), value: 1 });
      await waitFor("3 results", () => (nsca.lines().length >= 3 ? true : undefined), { timeoutMs: 10_000 });
      const [a, b, c] = nsca.lines().map((l) => LINE.exec(l));
      assert.ok(a && b && c, nsca.lines().join("\n"));
      assert.equal(a[2], "flowlens-test");
      assert.equal(a[3], "default/port-scan");
      assert.equal(a[4], "2");
      assert.equal(Buffer.byteLength(a[5] ?? ""), 4095, "output cut to NSCA's 4096-byte field");
      assert.ok(a[5]?.endsWith("|value=512;;100"), "perfdata kept when the summary is cut");
      assert.equal(b[4], "2");
      assert.equal(
        b[5],
        "CRITICAL: 10.231.0.5 contacted 512 ports on 10.231.0.9 in 1m (host 10.231.0.5)|value=512;;100",
      );
      assert.equal(c[4], "0");
      assert.equal(d.rowFor(ep)?.sent, 3);
    } finally {
      await d.stop(Date.now() + 500);
      await nsca.stop();
    }
  });

  it("is rejected by nsca with the wrong password (the CRC does not match)", async () => {
    const nsca = await startNsca({ password: "right-password", decryption: 1 });
    const d = new NotificationDispatcher({ logger });
    try {
      const ep: EndpointConfig = {
        kind: "nagios",
        target: `nsca://127.0.0.1:${nsca.port}`,
        options: { password: "wrong-password" },
      };
      d.send([ep], sampleNotification());
      await waitFor("sent", () => d.rowFor(ep)?.sent === 1, { timeoutMs: 5000 });
      await new Promise((r) => setTimeout(r, 300));
      // NSCA never answers, so the sender cannot know; the check result is simply not there.
      assert.deepEqual(nsca.lines(), []);
    } finally {
      await d.stop(Date.now() + 500);
      await nsca.stop();
    }
  });
});
