// Exactly-once on top of at-least-once transports: an agent resends every batch it has no
// acknowledgement for (after a reconnect, or a JetStream redelivery), so the aggregator
// remembers, per agent process, which sequences it has applied. Memory is bounded: a watermark
// below which everything counts as applied, a capped set above it, and a capped agent table.

interface AgentSequences {
  /** Every sequence <= watermark has been applied (or was given up on, see below). */
  watermark: bigint;
  above: Set<bigint>;
}

export interface DedupeLimits {
  /** Applied sequences remembered above the watermark, per agent. */
  maxPendingPerAgent: number;
  /** Agent processes remembered; the least recently seen is forgotten first. */
  maxAgents: number;
}

export class SequenceDeduper {
  private readonly agents = new Map<string, AgentSequences>();
  duplicates = 0;
  agentsForgotten = 0;

  constructor(private readonly limits: DedupeLimits = { maxPendingPerAgent: 4096, maxAgents: 10_000 }) {}

  /** True if this batch was applied before (drop it, but still acknowledge it). */
  isDuplicate(agentId: string, sequence: bigint): boolean {
    const s = this.agents.get(agentId);
    if (!s) return false;
    if (sequence <= s.watermark || s.above.has(sequence)) {
      this.duplicates++;
      return true;
    }
    return false;
  }

  /** Records a batch as applied. Call after the flows are in the state, before acknowledging. */
  markApplied(agentId: string, sequence: bigint): void {
    let s = this.agents.get(agentId);
    if (s) {
      // Re-insert so the Map's order is least recently seen first.
      this.agents.delete(agentId);
    } else {
      s = { watermark: 0n, above: new Set() };
      if (this.agents.size >= this.limits.maxAgents) {
        const oldest = this.agents.keys().next().value as string;
        this.agents.delete(oldest);
        this.agentsForgotten++;
      }
    }
    this.agents.set(agentId, s);
    if (sequence <= s.watermark) return;
    s.above.add(sequence);
    while (s.above.delete(s.watermark + 1n)) s.watermark++;
    if (s.above.size > this.limits.maxPendingPerAgent) {
      // A gap that never fills is a batch the agent dropped on overflow; it will not come.
      // Move the watermark up to the oldest applied sequence and go on from there.
      let min = sequence;
      for (const q of s.above) if (q < min) min = q;
      s.above.delete(min);
      s.watermark = min;
      while (s.above.delete(s.watermark + 1n)) s.watermark++;
    }
  }

  get agentCount(): number {
    return this.agents.size;
  }
}
