// Who this agent is: the node name from the downward API (NODE_NAME) or the hostname, and a
// per-process id so that the aggregator can tell a restarted agent's sequence numbers apart.
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { FLOWLENS_VERSION, type pb } from "@flowlens/contracts";

export function agentIdentity(env: NodeJS.ProcessEnv = process.env, host: () => string = hostname): pb.AgentIdentity {
  const node = env.NODE_NAME?.trim() || host();
  if (!node) throw new Error("agent identity: neither NODE_NAME nor the hostname is set");
  return { node, agentId: randomUUID(), version: FLOWLENS_VERSION };
}
