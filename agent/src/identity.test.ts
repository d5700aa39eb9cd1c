import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { agentIdentity } from "./identity.js";

describe("agentIdentity", () => {
  it("prefers NODE_NAME from the downward API", () => {
    assert.equal(agentIdentity({ NODE_NAME: "worker-1" }, () => "host").node, "worker-1");
  });
  it("falls back to the hostname when NODE_NAME is empty", () => {
    assert.equal(agentIdentity({ NODE_NAME: " " }, () => "host-a").node, "host-a");
  });
  it("gives each process its own agent id", () => {
    assert.notEqual(agentIdentity({}, () => "h").agentId, agentIdentity({}, () => "h").agentId);
  });
  it("fails with context when no name can be found", () => {
    assert.throws(() => agentIdentity({}, () => ""), /neither NODE_NAME nor the hostname/);
  });
});
