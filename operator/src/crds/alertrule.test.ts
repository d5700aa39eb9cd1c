// The AlertRule CRD and the aggregator's rule parser agree: the CRD's enums are the lists
// parseAlertRule checks against (one source), and in a real kube-apiserver every built-in
// check, every target kind and every notify kind the aggregator knows is accepted, while what
// the CEL rules guard (a local-hosts value, a nagios target) is refused with its message; every
// rule the API server stores parses for the aggregator.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  ALERT_CHECK_NAMES,
  ALERT_OPERATORS,
  ALERT_SEVERITIES,
  ALERT_TARGET_KINDS,
  ALERT_WINDOWS,
  API_VERSION,
  GROUP,
  NOTIFY_KINDS,
  parseAlertRule,
  VERSION,
} from "@flowlens/contracts";
import { type ControlPlane, startControlPlane } from "@flowlens/testkit";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { crdsDir } from "../testing.js";
import { alertRuleSpecSchema } from "./alertrule.js";

const NS = "flowlens-alertrule-test";
const s = alertRuleSpecSchema.properties;

describe("the AlertRule CRD's enums", () => {
  it("are the parser's lists", () => {
    assert.deepEqual([...s.threshold.properties.target.properties.kind.enum], [...ALERT_TARGET_KINDS]);
    assert.deepEqual([...s.check.properties.name.enum], [...ALERT_CHECK_NAMES]);
    assert.deepEqual([...s.threshold.properties.window.enum], [...ALERT_WINDOWS]);
    assert.deepEqual([...s.threshold.properties.operator.enum], [...ALERT_OPERATORS]);
    assert.deepEqual([...s.severity.enum], [...ALERT_SEVERITIES]);
    assert.deepEqual([...s.notify.items.properties.kind.enum], [...NOTIFY_KINDS]);
  });
});

describe("AlertRules in kube-apiserver", () => {
  let cp: ControlPlane;
  let custom: CustomObjectsApi;
  let n = 0;
  const create = (spec: Record<string, unknown>) =>
    custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: NS,
      plural: "alertrules",
      body: {
        apiVersion: API_VERSION,
        kind: "AlertRule",
        metadata: { name: `rule-${++n}` },
        spec: { collectorRef: { name: "flowlens" }, severity: "warning", ...spec },
      },
    }) as Promise<{ metadata: { name: string; namespace: string }; spec: Record<string, unknown> }>;
  const refusedWith = async (spec: Record<string, unknown>, re: RegExp) =>
    assert.rejects(create(spec), (err) => {
      const e = err as { code?: number; body?: unknown };
      const body = typeof e.body === "string" ? e.body : JSON.stringify(e.body);
      assert.equal(e.code, 422, body);
      assert.match(body, re);
      return true;
    });
  /** Stored by the API server, and accepted by the aggregator's parser as stored. */
  const accepted = async (spec: Record<string, unknown>) => {
    const stored = await create(spec);
    const r = parseAlertRule(
      { apiVersion: API_VERSION, kind: "AlertRule", metadata: stored.metadata, spec: stored.spec },
      stored.metadata.name,
    );
    assert.ok(r.ok, JSON.stringify(r));
  };

  before(async () => {
    cp = await startControlPlane({ startTimeoutMs: 300_000 });
    custom = cp.kubeConfig.makeApiClient(CustomObjectsApi);
    await cp.kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
    await cp.applyCrds(crdsDir);
  });
  after(async () => {
    await cp?.stop();
  });

  it("accepts every built-in check", async () => {
    for (const name of ALERT_CHECK_NAMES) {
      const params =
        name === "blacklisted-host"
          ? { file: "/etc/flowlens/blacklist.txt" }
          : name === "unexpected-application"
            ? { applications: "BitTorrent" }
            : {};
      await accepted({ check: { name, params } });
    }
  });

  it("accepts every target kind, and refuses a local-hosts value that is neither * nor a CIDR", async () => {
    const values: Record<string, string> = {
      host: "10.0.0.1",
      network: "10.0.0.0/8",
      "local-hosts": "*",
      application: "TLS.Google",
      category: "Web",
      interface: "192.0.2.1:3",
      exporter: "192.0.2.1",
      node: "node-a",
    };
    for (const kind of ALERT_TARGET_KINDS) {
      await accepted({
        threshold: { target: { kind, value: values[kind] }, metric: "bytes", window: "5m", operator: ">", value: 1e6 },
      });
    }
    await accepted({
      threshold: {
        target: { kind: "local-hosts", value: "10.1.0.0/16" },
        metric: "distinctPeers",
        window: "1m",
        operator: ">",
        value: 100,
      },
    });
    await refusedWith(
      {
        threshold: {
          target: { kind: "local-hosts", value: "everyone" },
          metric: "bytes",
          window: "1m",
          operator: ">",
          value: 1,
        },
      },
      /a local-hosts target is \* \(all\) or a CIDR inside them/,
    );
  });

  it("accepts every notify kind, and checks nagios targets", async () => {
    const targets: Record<string, string> = {
      webhook: "https://hooks.example.com/x",
      slack: "https://hooks.slack.com/services/T/B/X",
      email: "ops@example.com",
      alertmanager: "http://alertmanager:9093",
      syslog: "tcp://syslog:514",
      nagios: "nsca://nagios:5667",
    };
    await accepted({
      check: { name: "port-scan" },
      notify: NOTIFY_KINDS.map((kind) => ({ kind, target: targets[kind] })),
    });
    await accepted({
      check: { name: "port-scan" },
      notify: [{ kind: "nagios", target: "/var/lib/nagios/rw/nagios.cmd" }],
    });
    await refusedWith(
      { check: { name: "port-scan" }, notify: [{ kind: "nagios", target: "nagios.example.com" }] },
      /a nagios target is a command file path or nsca:\/\/HOST:PORT/,
    );
  });
});
