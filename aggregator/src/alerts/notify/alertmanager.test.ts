import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  haveCommand,
  listAlertmanagerAlerts,
  type PromServer,
  startTestAlertmanager,
  waitFor,
} from "@flowlens/testkit";
import { pino } from "pino";
import { amLabels, labelName } from "./alertmanager.js";
import { NotificationDispatcher } from "./dispatcher.js";
import { type HttpReceiver, sampleNotification, startHttpReceiver } from "./testing.js";
import type { EndpointConfig } from "./types.js";

const skip = haveCommand(process.env.ALERTMANAGER ?? "prometheus-alertmanager")
  ? false
  : "alertmanager not installed (Debian package prometheus-alertmanager)";

interface AmWebhook {
  status: "firing" | "resolved";
  alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string> }[];
}

describe("labels for Alertmanager", () => {
  it("keeps label names in Alertmanager's alphabet and never lets extra labels override ours", () => {
    assert.equal(labelName("l7.app-name"), "l7_app_name");
    assert.equal(labelName("7x"), "_7x");
    assert.equal(labelName("__meta"), undefined);
    const l = amLabels(sampleNotification({ labels: { severity: "spoofed", "dst-port": "443", empty: "" } }));
    assert.equal(l.severity, "warning");
    assert.equal(l.dst_port, "443");
    assert.equal("empty" in l, false);
  });
});

describe("Alertmanager endpoint against a real Alertmanager", { skip }, () => {
  let am: PromServer;
  let hook: HttpReceiver;
  let dispatcher: NotificationDispatcher;
  before(async () => {
    hook = await startHttpReceiver();
    am = await startTestAlertmanager({ webhookUrl: `${hook.url}/am` });
    dispatcher = new NotificationDispatcher({ logger: pino({ level: "silent" }), tickMs: 100 });
  });
  after(async () => {
    await dispatcher?.stop(Date.now() + 1000);
    await am?.stop();
    await hook?.close();
  });

  it("raises the alert, keeps it active by re-posting, and resolves it on release", async () => {
    const ep: EndpointConfig = {
      kind: "alertmanager",
      target: am.url,
      options: { resendIntervalMs: "500", generatorURL: "http://flowlens.test/alerts" },
    };
    const n = sampleNotification({ severity: "critical" });
    const matcher = `alert_id="${n.id}"`;
    dispatcher.send([ep], n);

    const [listed] = await waitFor(
      "alert active in Alertmanager",
      async () => {
        const a = await listAlertmanagerAlerts(am, [matcher]);
        return a.length === 1 && a[0]?.status.state === "active" ? a : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    assert.ok(listed);
    assert.equal(listed.labels.alertname, n.rule);
    assert.equal(listed.labels.severity, "critical");
    assert.equal(listed.labels.check, "port-scan");
    assert.equal(listed.labels.entity_kind, "host");
    assert.equal(listed.labels.entity, "10.231.0.5");
    assert.equal(listed.labels.peer, "10.231.0.9");
    assert.equal(listed.annotations.summary, n.summary);
    assert.equal(listed.annotations.value, "512");
    assert.equal(listed.generatorURL, "http://flowlens.test/alerts");
    assert.equal(Date.parse(listed.startsAt), n.startedAtMs);

    // endsAt is 4 resend intervals (2 s) ahead; past that, only the re-posts keep it active.
    const firstEnd = Date.parse(listed.endsAt);
    await new Promise((r) => setTimeout(r, 2500));
    const [still] = await listAlertmanagerAlerts(am, [matcher]);
    assert.ok(still, "alert still active after its first endsAt");
    assert.ok(Date.parse(still.endsAt) > firstEnd + 1000, "endsAt moved forward by re-posts");

    // Alertmanager notified its own receiver of the firing alert.
    const firing = await waitFor(
      "firing notification from Alertmanager",
      () =>
        hook.requests
          .map((q) => JSON.parse(q.body) as AmWebhook)
          .find((b) => b.status === "firing" && b.alerts.some((a) => a.labels.alert_id === n.id)),
      { timeoutMs: 10_000 },
    );
    assert.equal(firing.alerts[0]?.labels.entity, "10.231.0.5");

    dispatcher.send([ep], { ...n, event: "released", value: 3, endedAtMs: Date.now() });
    await waitFor("alert resolved (gone from the active list)", async () =>
      (await listAlertmanagerAlerts(am, [matcher])).length === 0 ? true : undefined,
    );
    const resolved = await waitFor(
      "resolved notification from Alertmanager",
      () =>
        hook.requests
          .map((q) => JSON.parse(q.body) as AmWebhook)
          .find((b) => b.status === "resolved" && b.alerts.some((a) => a.labels.alert_id === n.id)),
      { timeoutMs: 15_000 },
    );
    assert.equal(resolved.alerts[0]?.status, "resolved");
    // No re-post after the release brings it back.
    await new Promise((r) => setTimeout(r, 800));
    assert.equal((await listAlertmanagerAlerts(am, [matcher])).length, 0);
    const row = dispatcher.rowFor(ep);
    assert.equal(row?.failed, 0);
    assert.ok((row?.sent ?? 0) >= 4, `engaged + re-posts + release: ${row?.sent}`);
  });

  it("gets a 400 from Alertmanager for an invalid alert and does not retry it", async () => {
    const ep: EndpointConfig = { kind: "alertmanager", target: am.url, options: { name: "am-bad", backoffMs: "10" } };
    // An end before the start: Alertmanager's validation rejects it.
    const n = sampleNotification({ event: "released", startedAtMs: Date.now(), endedAtMs: Date.now() - 3_600_000 });
    dispatcher.send([ep], n);
    await waitFor("failed", () => dispatcher.rowFor(ep)?.failed === 1, { timeoutMs: 5000 });
    assert.equal(dispatcher.rowFor(ep)?.retried, 0);
  });
});
