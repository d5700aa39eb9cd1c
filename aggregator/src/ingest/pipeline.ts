// The one path every ingested batch takes, whatever carried it: validate once, drop duplicates
// (same agent process and sequence), apply to the live state, count. Transports acknowledge
// only after apply() returns.
import type { pb } from "@flowlens/contracts";
import type { LiveState } from "../state/live-state.js";
import type { SequenceDeduper } from "./dedupe.js";
import type { BatchSink } from "./sink.js";

export type Transport = "grpc" | "nats" | "local";
export const TRANSPORTS: readonly Transport[] = ["grpc", "nats", "local"];

export interface TransportCounters {
  batches: number;
  flows: number;
  duplicateBatches: number;
  duplicateFlows: number;
  invalidBatches: number;
  invalidFlows: number;
  /** Wall-clock delay from the agent sending the batch to its apply, last batch. */
  lastLagMs: number;
}

const newCounters = (): TransportCounters => ({
  batches: 0,
  flows: 0,
  duplicateBatches: 0,
  duplicateFlows: 0,
  invalidBatches: 0,
  invalidFlows: 0,
  lastLagMs: 0,
});

/** Why a flow cannot be applied, or undefined if it can. */
export function invalidFlowReason(f: pb.Flow): string | undefined {
  if (f.ipVersion !== 4 && f.ipVersion !== 6) return "ipVersion";
  if (!f.srcAddr || !f.dstAddr || f.srcAddr.length > 64 || f.dstAddr.length > 64) return "address";
  if (f.srcPort > 65535 || f.dstPort > 65535 || f.proto > 255 || f.vlan > 4095) return "range";
  if (f.srcToDstBytes < 0n || f.dstToSrcBytes < 0n || f.srcToDstPackets < 0n || f.dstToSrcPackets < 0n)
    return "negative";
  return undefined;
}

export class IngestPipeline implements BatchSink {
  readonly counters: Record<Transport, TransportCounters> = {
    grpc: newCounters(),
    nats: newCounters(),
    local: newCounters(),
  };
  /** Observers of each applied batch's lag (the metrics histogram). */
  onLag?: (transport: Transport, lagMs: number) => void;

  constructor(
    private readonly state: LiveState,
    private readonly deduper: SequenceDeduper,
    private readonly clock: () => number = Date.now,
  ) {}

  apply(batch: pb.FlowBatch, transport: Transport): boolean {
    const c = this.counters[transport];
    const agent = batch.agent;
    if (!agent?.agentId || !agent.node || batch.sequence <= 0n) {
      c.invalidBatches++;
      c.invalidFlows += batch.flows.length;
      return false;
    }
    if (this.deduper.isDuplicate(agent.agentId, batch.sequence)) {
      c.duplicateBatches++;
      c.duplicateFlows += batch.flows.length;
      return false;
    }
    let flows = batch.flows;
    for (let i = 0; i < flows.length; i++) {
      if (invalidFlowReason(flows[i] as pb.Flow) !== undefined) {
        // Rare: only then build a filtered copy, so the common batch costs no allocation.
        flows = flows.filter((f) => invalidFlowReason(f) === undefined);
        c.invalidFlows += batch.flows.length - flows.length;
        break;
      }
    }
    this.state.applyBatch(flows, { node: agent.node, agentId: agent.agentId });
    this.deduper.markApplied(agent.agentId, batch.sequence);
    c.batches++;
    c.flows += flows.length;
    const lag = this.clock() - Number(batch.sentAtMs);
    if (batch.sentAtMs > 0n && lag >= 0) {
      c.lastLagMs = lag;
      this.onLag?.(transport, lag);
    }
    return true;
  }
}
