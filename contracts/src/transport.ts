// Names both ends of the flow transport agree on: NATS subjects, the JetStream stream, message
// ids, gRPC metadata. One place, so an agent and an aggregator of the same version always match.
import type { AgentIdentity } from "./gen/flowlens/v1/flow.js";

export const FLOWS_STREAM = "FLOWLENS_FLOWS";
export const FLOWS_SUBJECT_PREFIX = "flowlens.flows";
export const FLOWS_SUBJECT_WILDCARD = `${FLOWS_SUBJECT_PREFIX}.>`;

/** gRPC metadata key carrying `Bearer <token>`. */
export const AUTH_METADATA_KEY = "authorization";

/**
 * The subject a node publishes on. A node name may hold characters NATS gives meaning to
 * (`.`, `*`, `>`, whitespace); they become `_` so one node is always exactly one token.
 */
export function flowsSubject(node: string): string {
  const token = node.replace(/[.*>\s]/g, "_") || "_";
  return `${FLOWS_SUBJECT_PREFIX}.${token}`;
}

/**
 * JetStream message id of a batch: node, agent process and sequence, so that a republished
 * batch is recognised (within the stream's duplicate window) and a restarted agent, whose
 * sequence starts again at 1, never collides with its previous life.
 */
export function batchMessageId(agent: AgentIdentity, sequence: bigint): string {
  return `${agent.node}/${agent.agentId}/${sequence}`;
}
