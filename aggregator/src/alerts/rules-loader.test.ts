// Rules files as users and the operator write them, on a real filesystem: one rule, a list, a
// Kubernetes List of AlertRule resources; a directory laid out as a mounted ConfigMap (..data
// links swapped on update); bad rules reported and skipped; defaults replaced by name; notify
// entries validated as endpoints; the watcher reloading on change.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { pino } from "pino";
import { DEFAULT_RULE_PREFIX } from "./default-rules.js";
import type { LoadedRule } from "./engine.js";
import { endpointDefaults } from "./notify/defaults.js";
import { loadRules, RulesPathError, RulesWatcher, rulesFromText } from "./rules-loader.js";

const operatorList = (
  rules: string,
) => `# Written by the Flowlens operator from the AlertRules naming this FlowCollector.
apiVersion: v1
kind: List
items:
${rules}`;

const scanResource = (name: string, params = "") => `  - apiVersion: flowlens.dev/v1alpha1
    kind: AlertRule
    metadata:
      name: ${name}
      namespace: net
    spec:
      collectorRef:
        name: main
      severity: warning
      check:
        name: port-scan${params}
`;

const accepted = (rules: LoadedRule[]) => rules.filter((r) => r.rule).map((r) => r.rule?.name);
const refused = (rules: LoadedRule[]) =>
  rules.filter((r) => !r.rule).map((r) => `${r.name ?? "?"}: ${r.errors.join("; ")}`);

describe("alert rules files", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "flowlens-rules-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("reads the operator's List, refusing the bad rule with its reason and keeping the rest", () => {
    const text = operatorList(
      scanResource("scan") +
        `  - apiVersion: flowlens.dev/v1alpha1
    kind: AlertRule
    metadata: { name: bad-metric, namespace: net }
    spec:
      collectorRef: { name: main }
      severity: error
      threshold: { target: { kind: host, value: 10.0.0.1 }, metric: nope, window: 1m, operator: ">", value: 1 }
  - apiVersion: flowlens.dev/v1alpha1
    kind: AlertRule
    metadata: { name: negative-window, namespace: net }
    spec:
      collectorRef: { name: main }
      severity: error
      threshold: { target: { kind: host, value: 10.0.0.1 }, metric: bytes, window: "-5m", operator: ">", value: 1 }
`,
    );
    const rules = rulesFromText(text, "rules.yaml");
    assert.deepEqual(accepted(rules), ["net/scan"]);
    const bad = refused(rules);
    assert.equal(bad.length, 2);
    assert.match(bad[0] ?? "", /^bad-metric: rules.yaml\[1\]: spec.threshold.metric: unknown metric "nope"/);
    assert.match(
      bad[1] ?? "",
      /^negative-window: rules.yaml\[2\]: spec.threshold.window: "-5m" is not one of 1m, 5m, 1h, 1d/,
    );
  });

  it("reads a single rule, a plain list, JSON, and says which file is not YAML", () => {
    writeFileSync(join(dir, "a.yaml"), "name: one\nseverity: info\ncheck: { name: syn-flood }\n");
    writeFileSync(
      join(dir, "b.json"),
      JSON.stringify([{ name: "two", severity: "info", check: { name: "icmp-flood" } }]),
    );
    writeFileSync(join(dir, "c.yml"), "name: [unclosed\n");
    writeFileSync(join(dir, "notes.txt"), "not a rules file");
    const rules = loadRules(dir, false);
    assert.deepEqual(accepted(rules), ["one", "two"]);
    assert.deepEqual(
      rules.filter((r) => !r.rule).map((r) => r.origin),
      [join(dir, "c.yml")],
    );
    assert.match(rules.find((r) => !r.rule)?.errors[0] ?? "", /not YAML or JSON/);
  });

  it("puts the defaults first; a rule named like one (also NAMESPACE/name) replaces it", () => {
    const text = operatorList(
      scanResource(`${DEFAULT_RULE_PREFIX}port-scan`, '\n        params: { enabled: "false" }'),
    );
    writeFileSync(join(dir, "rules.yaml"), text);
    const rules = loadRules(join(dir, "rules.yaml"));
    const names = accepted(rules);
    assert.ok(!names.includes(`${DEFAULT_RULE_PREFIX}port-scan`));
    assert.ok(names.includes(`net/${DEFAULT_RULE_PREFIX}port-scan`));
    assert.ok(names.includes(`${DEFAULT_RULE_PREFIX}syn-flood`));
    assert.equal(rules.find((r) => r.rule?.name === `net/${DEFAULT_RULE_PREFIX}port-scan`)?.rule?.enabled, false);
  });

  it("validates notify entries as endpoints, options included", () => {
    const ok = rulesFromText(
      `name: hooked
severity: warning
check: { name: tls-risks }
notify:
  - kind: webhook
    target: http://127.0.0.1:8080/hook
    minSeverity: warning
    options: { secret: "0123456789abcdef0123" }
`,
      "f.yaml",
    );
    assert.deepEqual(ok[0]?.endpoints, [
      {
        kind: "webhook",
        target: "http://127.0.0.1:8080/hook",
        minSeverity: "warning",
        options: { secret: "0123456789abcdef0123" },
      },
    ]);
    const bad = rulesFromText(
      "name: mail\nseverity: warning\ncheck: { name: tls-risks }\nnotify: [{ kind: email, target: ops@example.com }]\n",
      "f.yaml",
    );
    assert.equal(bad[0]?.rule, undefined);
    assert.match(bad[0]?.errors.join(";") ?? "", /spec.notify\[0\]\.options.from: required/);
  });

  it("email from an AlertRule resource takes the aggregator's SMTP defaults; a rule's own options win", () => {
    const resource = `  - apiVersion: flowlens.dev/v1alpha1
    kind: AlertRule
    metadata: { name: mailed, namespace: net }
    spec:
      collectorRef: { name: main }
      severity: error
      check: { name: syn-flood }
      notify:
        - { kind: email, target: ops@example.com }
        - { kind: webhook, target: "http://127.0.0.1:9/hook" }
        - { kind: email, target: net@example.com, options: { smtpHost: mx.example.com, from: a@example.com } }
`;
    const without = rulesFromText(operatorList(resource), "rules.yaml");
    assert.equal(without[0]?.rule, undefined, "no SMTP server anywhere: refused");
    assert.match(without[0]?.errors.join(";") ?? "", /options.from: required \(or the aggregator's --smtp-from\)/);
    const defaults = endpointDefaults({
      smtpServer: "127.0.0.1:2525",
      smtpFrom: "flowlens@example.com",
      smtpUser: "alerts",
      smtpPassword: "pw",
      smtpTls: "none",
      webhookSecret: "0123456789abcdef-secret",
    });
    const withDefaults = rulesFromText(operatorList(resource), "rules.yaml", defaults);
    assert.deepEqual(withDefaults[0]?.errors, []);
    assert.deepEqual(
      withDefaults[0]?.endpoints?.map((e) => [e.kind, e.target, e.options]),
      [
        [
          "email",
          "ops@example.com",
          {
            smtpHost: "127.0.0.1",
            smtpPort: "2525",
            from: "flowlens@example.com",
            user: "alerts",
            password: "pw",
            tls: "none",
          },
        ],
        ["webhook", "http://127.0.0.1:9/hook", { secret: "0123456789abcdef-secret" }],
        // Its own host (and so not the default's port), its own sender, the rest defaulted.
        [
          "email",
          "net@example.com",
          { smtpHost: "mx.example.com", from: "a@example.com", user: "alerts", password: "pw", tls: "none" },
        ],
      ],
    );
    assert.throws(
      () => endpointDefaults({ smtpServer: "mail.example.com" }),
      /smtp-server: "mail.example.com" is not HOST:PORT/,
    );
    assert.throws(() => endpointDefaults({ smtpUser: "u" }), /go together/);
    assert.throws(() => endpointDefaults({ smtpTls: "ssl" }), /not starttls, tls or none/);
    assert.throws(() => endpointDefaults({ webhookSecret: "short" }), /at least 16/);
    assert.deepEqual(endpointDefaults({ smtpServer: "[::1]:25", smtpTls: "tls" }), {
      email: { smtpHost: "::1", smtpPort: "25", tls: "implicit" },
    });
  });

  it("a missing path is an error at load; the watcher keeps the last rules when it goes away", () => {
    assert.throws(() => loadRules(join(dir, "absent.yaml")), RulesPathError);
  });

  it("follows a ConfigMap volume: ..data swapped, the watcher reloads", () => {
    // The kubelet's layout: rules.yaml -> ..data/rules.yaml, ..data -> ..2024_1 (a timestamped dir).
    const v1 = join(dir, "..2024_1");
    mkdirSync(v1);
    writeFileSync(join(v1, "rules.yaml"), operatorList(scanResource("scan")));
    symlinkSync("..2024_1", join(dir, "..data"));
    symlinkSync("..data/rules.yaml", join(dir, "rules.yaml"));
    const seen: string[][] = [];
    const watcher = new RulesWatcher(
      join(dir, "rules.yaml"),
      (r) => seen.push(accepted(r) as string[]),
      pino({ level: "silent" }),
      false,
      3_600_000,
    );
    watcher.start();
    watcher.poll();
    assert.deepEqual(seen, [["net/scan"]], "no change, no reload");
    const v2 = join(dir, "..2024_2");
    mkdirSync(v2);
    writeFileSync(join(v2, "rules.yaml"), operatorList(scanResource("scan") + scanResource("scan-two")));
    symlinkSync("..2024_2", join(dir, "..data_tmp"));
    renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
    watcher.poll();
    assert.deepEqual(seen, [["net/scan"], ["net/scan", "net/scan-two"]]);
    rmSync(join(dir, "rules.yaml"));
    watcher.poll();
    assert.equal(seen.length, 2, "rules gone: the last ones stay");
    assert.match(watcher.lastError ?? "", /ENOENT/);
    watcher.stop();
  });
});
