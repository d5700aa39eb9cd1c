import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ALERT_CHECK_NAMES, ALERT_CHECKS, ALERT_METRIC_NAMES, parseAlertRule } from "./alert-rule.js";

const resource = (spec: unknown, name = "big-talker") => ({
  apiVersion: "flowlens.dev/v1alpha1",
  kind: "AlertRule",
  metadata: { name, namespace: "net" },
  spec,
});

const threshold = (t: Record<string, unknown>) => ({
  collectorRef: { name: "main" },
  severity: "warning",
  threshold: {
    target: { kind: "host", value: "10.0.0.1" },
    metric: "bytes",
    window: "5m",
    operator: ">",
    value: 1e9,
    ...t,
  },
});

function errorsOf(input: unknown): string[] {
  const r = parseAlertRule(input, "rules.yaml[0]");
  assert.equal(r.ok, false, "expected the rule to be refused");
  return r.ok ? [] : r.errors;
}

describe("parseAlertRule", () => {
  it("accepts a threshold rule and names it namespace/name", () => {
    const r = parseAlertRule(resource(threshold({ hysteresis: 1e8 })), "x");
    assert.ok(r.ok);
    assert.equal(r.rule.name, "net/big-talker");
    assert.deepEqual(r.rule.threshold, {
      target: { kind: "host", value: "10.0.0.1" },
      metric: "bytes",
      window: "5m",
      windowMs: 300_000,
      operator: ">",
      value: 1e9,
      hysteresis: 1e8,
    });
    assert.equal(r.rule.enabled, true);
  });

  it("accepts the flat form and fills check defaults, converting string params", () => {
    const r = parseAlertRule(
      {
        name: "scan",
        severity: "error",
        check: { name: "port-scan", params: { ports: "50", unansweredOnly: "false" } },
      },
      "x",
    );
    assert.ok(r.ok);
    assert.deepEqual(r.rule.check, {
      name: "port-scan",
      params: { enabled: true, windowSeconds: 60, ports: 50, hosts: 100, unansweredOnly: false },
    });
  });

  it("reads appBytes_<APP> with the application's dots restored", () => {
    const r = parseAlertRule(resource(threshold({ metric: "appBytes_TLS_Google" })), "x");
    assert.ok(r.ok);
    assert.equal(r.rule.threshold?.application, "TLS.Google");
  });

  it("names the field and the origin in every error", () => {
    assert.deepEqual(errorsOf(resource(threshold({ metric: "bogus" }))), [
      `rules.yaml[0]: spec.threshold.metric: unknown metric "bogus"; known: ${ALERT_METRIC_NAMES.join(", ")}`,
    ]);
    assert.deepEqual(errorsOf(resource(threshold({ window: "-5m" }))), [
      'rules.yaml[0]: spec.threshold.window: "-5m" is not one of 1m, 5m, 1h, 1d',
    ]);
  });

  it("refuses a metric its target kind does not have", () => {
    const e = errorsOf(
      resource(
        threshold({ target: { kind: "exporter", value: "192.0.2.1" }, metric: "retransmissionRatio", value: 0.1 }),
      ),
    );
    assert.match(e[0] as string, /retransmissionRatio is not measured for exporter targets/);
  });

  it("refuses bad target values per kind", () => {
    for (const [kind, value] of [
      ["host", "10.0.0.300"],
      ["network", "10.0.0.0/33"],
      ["interface", "192.0.2.1"],
      ["local-hosts", "everything"],
      ["node", "-bad-"],
    ]) {
      const e = errorsOf(resource(threshold({ target: { kind, value } })));
      assert.match(e[0] as string, /spec\.threshold\.target\.value/, `${kind} ${value}`);
    }
  });

  it("refuses hysteresis that could never release and impossible values", () => {
    assert.match(errorsOf(resource(threshold({ value: 10, hysteresis: 20 })))[0] as string, /never be released/);
    assert.match(errorsOf(resource(threshold({ operator: "<", value: 0 })))[0] as string, /can never hold/);
    assert.match(errorsOf(resource(threshold({ value: -1 })))[0] as string, /never negative/);
    assert.match(
      errorsOf(resource(threshold({ metric: "retransmissionRatio", value: 2 })))[0] as string,
      /between 0 and 1/,
    );
  });

  it("checks parameter names, types and ranges", () => {
    const e = errorsOf(
      resource({
        severity: "warning",
        check: { name: "port-scan", params: { portz: 3, ports: "many", hosts: 5000, unansweredOnly: "yes" } },
      }),
    );
    assert.deepEqual(e, [
      "rules.yaml[0]: spec.check.params.portz: port-scan has no parameter portz; it takes enabled, windowSeconds, ports, hosts, unansweredOnly",
      'rules.yaml[0]: spec.check.params.ports: "many" is not an integer',
      "rules.yaml[0]: spec.check.params.hosts: 5000 is out of range [0, 1000]",
      'rules.yaml[0]: spec.check.params.unansweredOnly: "yes" is not "true" or "false"',
    ]);
  });

  it("requires parameters without a default unless the check is off", () => {
    assert.match(
      errorsOf(resource({ severity: "error", check: { name: "blacklisted-host" } }))[0] as string,
      /params\.file: required by blacklisted-host/,
    );
    const off = parseAlertRule(
      resource({ severity: "error", check: { name: "blacklisted-host", params: { enabled: "false" } } }),
      "x",
    );
    assert.ok(off.ok);
    assert.equal(off.rule.enabled, false);
  });

  it("checks risk names and list members", () => {
    const e = errorsOf(
      resource({ severity: "info", check: { name: "tls-risks", params: { risks: "missing-sni,bogus" } } }),
    );
    assert.match(e[0] as string, /params\.risks: "bogus": not a known risks value; known: self-signed-certificate/);
    const n = errorsOf(
      resource({
        severity: "info",
        check: { name: "unexpected-application", params: { applications: "BitTorrent", networks: "10.0.0.0/99" } },
      }),
    );
    assert.match(n[0] as string, /params\.networks: "10\.0\.0\.0\/99": not an address or CIDR/);
  });

  it("refuses unknown checks, both or neither of threshold and check, and bad severities", () => {
    assert.match(
      errorsOf(resource({ severity: "warning", check: { name: "nope" } }))[0] as string,
      new RegExp(`unknown check "nope"; known: ${ALERT_CHECK_NAMES.join(", ")}`),
    );
    assert.match(
      errorsOf(
        resource({ severity: "warning", check: { name: "port-scan" }, threshold: threshold({}).threshold }),
      )[0] as string,
      /exactly one of threshold and check/,
    );
    assert.match(
      errorsOf(resource({ severity: "urgent", check: { name: "port-scan" } }))[0] as string,
      /spec\.severity/,
    );
  });

  it("parses notify targets per kind", () => {
    const ok = parseAlertRule(
      resource({
        ...threshold({}),
        notify: [
          { kind: "webhook", target: "https://hooks.example/x" },
          { kind: "email", target: "ops@example.com" },
          { kind: "syslog", target: "tcp://logs.example:514" },
          { kind: "nagios", target: "nsca://10.0.0.2:5667" },
        ],
      }),
      "x",
    );
    assert.ok(ok.ok);
    assert.equal(ok.rule.notify.length, 4);
    const e = errorsOf(
      resource({
        ...threshold({}),
        notify: [
          { kind: "webhook", target: "ftp://x" },
          { kind: "syslog", target: "logs:99999" },
          { kind: "email", target: "nobody" },
          { kind: "pager", target: "x" },
        ],
      }),
    );
    assert.equal(e.length, 4);
    assert.match(e[0] as string, /notify\[0\]\.target: "ftp:\/\/x": a webhook target is an http\(s\) URL/);
    assert.match(e[1] as string, /notify\[1\]\.target: .*port 99999/);
    assert.match(e[2] as string, /notify\[2\]\.target/);
    assert.match(e[3] as string, /notify\[3\]\.kind: "pager"/);
  });

  it("never throws on garbage", () => {
    for (const g of [null, 3, "x", [], { spec: 3 }, { metadata: {}, spec: {} }, { name: "a", check: [] }]) {
      const r = parseAlertRule(g, "g");
      assert.equal(r.ok, false);
    }
  });

  it("describes every check parameter with a default or as required", () => {
    for (const [name, info] of Object.entries(ALERT_CHECKS)) {
      assert.ok(info.params.enabled, `${name} can be turned off`);
    }
  });
});
