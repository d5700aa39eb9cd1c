import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { endpointId, endpointSettings, parseEndpoint } from "./settings.js";

function errorsOf(input: unknown): string[] {
  const r = parseEndpoint(input);
  assert.equal(r.ok, false, `expected ${JSON.stringify(input)} to be rejected`);
  return r.ok ? [] : r.errors;
}

describe("parseEndpoint", () => {
  it("accepts a valid config of every kind", () => {
    const good: unknown[] = [
      { kind: "webhook", target: "https://hooks.example.test/flowlens", options: { secret: "0123456789abcdef" } },
      { kind: "slack", target: "https://hooks.slack.com/services/T0/B0/X", minSeverity: "warning" },
      {
        kind: "email",
        target: "ops@example.test,oncall@example.test",
        options: { smtpHost: "smtp.example.test", from: "flowlens@example.test", user: "u", password: "p" },
      },
      { kind: "alertmanager", target: "http://alertmanager:9093", options: { resendIntervalMs: 30000 } },
      { kind: "syslog", target: "tcp://[::1]:6514", options: { facility: "local7", appName: "flowlens" } },
      { kind: "syslog", target: "logs.example.test:514" },
      { kind: "nagios", target: "/var/lib/nagios4/rw/nagios.cmd", entityKinds: ["host", "network"] },
      { kind: "nagios", target: "nsca://nagios.example.test:5667", options: { password: "x", encryption: "0" } },
    ];
    for (const g of good) {
      const r = parseEndpoint(g);
      assert.ok(r.ok, `${JSON.stringify(g)}: ${r.ok ? "" : r.errors.join("; ")}`);
    }
  });

  it("names each problem with its field", () => {
    assert.deepEqual(errorsOf(null), ["endpoint: expected an object"]);
    assert.match(errorsOf({ kind: "pager", target: "x" })[0] ?? "", /^kind: "pager" is not one of/);
    assert.match(errorsOf({ kind: "webhook", target: "ftp://x/" }).join(), /must be an http/);
    assert.match(errorsOf({ kind: "webhook", target: "not a url" }).join(), /is not a URL/);
    assert.match(errorsOf({ kind: "webhook", target: "https://u:p@x.test/" }).join(), /credentials in the URL/);
    assert.match(
      errorsOf({ kind: "webhook", target: "https://x.test/", options: { secret: "short" } }).join(),
      /secret/,
    );
    assert.match(errorsOf({ kind: "slack", target: "https://x.test/", minSeverity: "fatal" }).join(), /^minSeverity/);
    assert.match(errorsOf({ kind: "slack", target: "https://x.test/", entityKinds: ["pod"] }).join(), /^entityKinds/);
    assert.match(errorsOf({ kind: "slack", target: "https://x.test/", extra: 1 }).join(), /^extra: unknown field/);
    const email = errorsOf({ kind: "email", target: "not-an-address", options: { user: "u" } }).join("\n");
    assert.match(email, /target: "not-an-address" is not an email address/);
    assert.match(email, /options.from: required/);
    assert.match(email, /options.smtpHost: required/);
    assert.match(email, /user and options.password go together/);
    assert.match(errorsOf({ kind: "syslog", target: "udp://host" }).join(), /is not HOST:PORT/);
    assert.match(errorsOf({ kind: "syslog", target: "tcp://h:70000" }).join(), /is not HOST:PORT/);
    assert.match(errorsOf({ kind: "syslog", target: "h:514", options: { facility: "local9" } }).join(), /facility/);
    assert.match(errorsOf({ kind: "syslog", target: "h:514", options: { sdId: "a=b" } }).join(), /SD-ID/);
    assert.match(errorsOf({ kind: "nagios", target: "relative/path" }).join(), /absolute command file path/);
    assert.match(errorsOf({ kind: "nagios", target: "nsca://h:5667", options: { encryption: "3" } }).join(), /XOR/);
    assert.match(
      errorsOf({ kind: "alertmanager", target: "http://am/", options: { resendIntervalMs: "-5" } }).join(),
      /whole number/,
    );
    assert.match(
      errorsOf({ kind: "webhook", target: "http://x/", options: { queueSize: "0" } }).join(),
      /outside 1\.\.100000/,
    );
    assert.match(
      errorsOf({ kind: "webhook", target: "http://x/", options: { bogus: "1" } }).join(),
      /options.bogus: unknown option/,
    );
    assert.match(
      errorsOf({ kind: "webhook", target: "http://x/", options: { secret: { a: 1 } } }).join(),
      /expected a string/,
    );
  });

  it("gives an endpoint its identity from kind, target and options", () => {
    const a = { kind: "webhook" as const, target: "http://x/", options: { secret: "0123456789abcdef", name: "a" } };
    const b = { ...a, options: { name: "a", secret: "0123456789abcdef" } };
    const c = { ...a, options: { ...a.options, secret: "fedcba9876543210" } };
    assert.equal(endpointId(a), endpointId(b), "option order does not matter");
    assert.notEqual(endpointId(a), endpointId(c), "a changed secret is a new endpoint");
    assert.equal(endpointId({ ...a, minSeverity: "error" }), endpointId(a), "filters are not identity");
  });

  it("never puts URL paths (Slack's secret) into the metric label", () => {
    const r = endpointSettings({ kind: "slack", target: "https://hooks.slack.com/services/T0/B0/SECRET" });
    assert.ok(r.ok);
    assert.equal(r.settings.common.name, "https://hooks.slack.com");
  });
});
