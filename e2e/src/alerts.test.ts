// Alerts end to end through `flowlens up`, as users run it: a port-scan capture replayed, the
// scan shown by GET /api/v1/alerts and in /metrics, a rules file with a threshold rule and a bad
// rule (reported, skipped), then a restart on the same data directory keeping the engaged alert.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { freePort, repoRoot, startProcess, waitFor } from "@flowlens/testkit";

const bin = join(repoRoot, "cli/dist/main.js");
const pcaps = join(repoRoot, "../shared/testdata/pcaps");
const scan = join(pcaps, "ndpi/synscan.pcap");
const clean = join(pcaps, "ndpi/443-curl.pcap");

interface Alert {
  id: string;
  rule: string;
  state: string;
  entity: { kind: string; value: string };
  labels: Record<string, string>;
  value: number;
}

async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

const RULES = `# A threshold on the scanner and a rule that cannot be (unknown metric).
- name: scanner-flows
  severity: error
  threshold:
    target: { kind: host, value: 172.16.0.8 }
    metric: flows
    window: 1h
    operator: ">"
    value: 1000
- name: broken
  severity: warning
  threshold:
    target: { kind: host, value: 172.16.0.8 }
    metric: flowz
    window: 1h
    operator: ">"
    value: 1
`;

describe("alerts through flowlens up", () => {
  it("a replayed port scan is an engaged alert in the API and metrics, kept across a restart", {
    skip: existsSync(scan) && existsSync(clean) ? false : `${scan} is absent`,
    timeout: 90_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "flowlens-up-alerts-"));
    const rulesFile = join(dir, "rules.yaml");
    writeFileSync(rulesFile, RULES);
    const dataDir = join(dir, "data");
    const run = async (name: string, pcap: string) => {
      const port = await freePort();
      const proc = startProcess(
        name,
        process.execPath,
        [
          bin,
          "up",
          "--pcap",
          pcap,
          "--http-address",
          `127.0.0.1:${port}`,
          "--alert-rules",
          rulesFile,
          "--data-dir",
          dataDir,
        ],
        { keepLines: 200 },
      );
      return { proc, url: `http://127.0.0.1:${port}` };
    };
    let first: Awaited<ReturnType<typeof run>> | undefined;
    let second: Awaited<ReturnType<typeof run>> | undefined;
    try {
      first = await run("up-scan", scan);
      const url = first.url;
      const scanAlert = await waitFor(
        "the port scan in /api/v1/alerts",
        async () => {
          try {
            const r = await getJson<{ items: Alert[] }>(
              `${url}/api/v1/alerts?state=engaged&rule=flowlens-default-port-scan`,
            );
            return r.items[0];
          } catch {
            return undefined;
          }
        },
        { proc: first.proc, timeoutMs: 20_000, intervalMs: 200 },
      );
      assert.equal(scanAlert.entity.value, "172.16.0.8");
      assert.equal(scanAlert.labels.target, "64.13.134.52");
      assert.equal(scanAlert.labels.scan, "vertical");
      // The threshold rule is judged by the evaluation timer (every 10 s).
      const threshold = await waitFor(
        "the threshold alert",
        async () => {
          const r = await getJson<{ items: Alert[] }>(`${url}/api/v1/alerts?rule=scanner-flows`);
          return r.items[0];
        },
        { proc: first.proc, timeoutMs: 25_000, intervalMs: 500 },
      );
      assert.equal(threshold.state, "engaged");
      assert.ok(threshold.value > 1000, `${threshold.value} flows`);
      const all = await getJson<{ total: number; items: Alert[] }>(`${url}/api/v1/alerts`);
      assert.deepEqual(all.items.map((a) => a.rule).sort(), ["flowlens-default-port-scan", "scanner-flows"]);
      const rules = await getJson<{ items: Array<{ name: string; accepted: boolean; errors: string[] }> }>(
        `${url}/api/v1/alert-rules`,
      );
      const broken = rules.items.find((r) => r.name === "broken");
      assert.equal(broken?.accepted, false);
      assert.match(broken?.errors.join(";") ?? "", /unknown metric "flowz"/);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      assert.match(metrics, /^flowlens_alerts_engaged\{rule="flowlens-default-port-scan",severity="warning"\} 1$/m);
      assert.match(metrics, /^flowlens_alerts_engaged\{rule="scanner-flows",severity="error"\} 1$/m);
      assert.match(metrics, /^flowlens_alert_rules\{state="refused"\} 1$/m);
      await first.proc.stop(10_000);
      assert.equal(first.proc.child.exitCode, 0, first.proc.output());

      // Same data directory, a clean capture: the alerts engaged at the stop are still engaged.
      second = await run("up-restart", clean);
      const url2 = second.url;
      const again = await waitFor(
        "the restored alerts",
        async () => {
          try {
            const r = await getJson<{ items: Alert[] }>(`${url2}/api/v1/alerts?state=engaged`);
            return r.items.length === 2 ? r.items : undefined;
          } catch {
            return undefined;
          }
        },
        { proc: second.proc, timeoutMs: 15_000, intervalMs: 200 },
      );
      assert.deepEqual(again.map((a) => a.id).sort(), [scanAlert.id, threshold.id].sort());
    } finally {
      await first?.proc.stop(10_000);
      await second?.proc.stop(10_000);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
