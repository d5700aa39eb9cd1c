import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { commonLabels, selectorLabels } from "./labels.js";

describe("labels", () => {
  it("gives the recommended labels and a stable selector subset", () => {
    const l = commonLabels("default", "agent");
    assert.equal(l["app.kubernetes.io/managed-by"], "flowlens-operator");
    const s = selectorLabels("default", "agent");
    for (const [k, v] of Object.entries(s)) assert.equal(l[k], v);
  });
  it("refuses an instance name that is not a valid label value", () => {
    assert.throws(() => commonLabels("-bad", "agent"), /not a valid label value/);
    assert.throws(() => commonLabels("x".repeat(64), "agent"), /not a valid label value/);
  });
});
