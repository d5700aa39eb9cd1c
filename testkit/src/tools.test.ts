// helm and kubeconform, built from Go modules for the chart checks: they run and do their job.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { makeTempDir, removeTempDir, run } from "./process.js";
import { goTool } from "./tools.js";

describe("Go-built tools", () => {
  const dir = makeTempDir("tools");
  after(() => removeTempDir(dir));

  it("helm renders a chart", () => {
    const chart = join(dir, "chart");
    mkdirSync(join(chart, "templates"), { recursive: true });
    writeFileSync(join(chart, "Chart.yaml"), "apiVersion: v2\nname: t\nversion: 0.1.0\n");
    writeFileSync(join(chart, "values.yaml"), "greeting: hello\n");
    writeFileSync(
      join(chart, "templates/cm.yaml"),
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  greeting: {{ .Values.greeting | quote }}\n",
    );
    const out = run(goTool("helm"), ["template", "rel", chart, "--set", "greeting=hi"]);
    assert.match(out, /name: rel/);
    assert.match(out, /greeting: "hi"/);
  });

  it("kubeconform validates manifests against local schemas, offline", () => {
    const schemas = join(dir, "schemas");
    mkdirSync(schemas, { recursive: true });
    writeFileSync(
      join(schemas, "widget-test-v1.json"),
      JSON.stringify({
        type: "object",
        properties: {
          spec: { type: "object", properties: { size: { type: "integer", minimum: 1 } }, required: ["size"] },
        },
        required: ["spec"],
      }),
    );
    const doc = (size: unknown) =>
      `apiVersion: test/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: ${JSON.stringify(size)}\n`;
    writeFileSync(join(dir, "good.yaml"), doc(3));
    writeFileSync(join(dir, "bad.yaml"), doc("three"));
    const args = [
      "-strict",
      "-summary",
      "-schema-location",
      `${schemas}/{{ .ResourceKind }}-{{ .Group }}-{{ .ResourceAPIVersion }}.json`,
    ];
    const bin = goTool("kubeconform");
    assert.match(run(bin, [...args, join(dir, "good.yaml")]), /Valid: 1, Invalid: 0/);
    assert.throws(() => run(bin, [...args, join(dir, "bad.yaml")]), /size/);
  });
});
