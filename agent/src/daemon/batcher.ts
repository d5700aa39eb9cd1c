// Finished flows become FlowBatches: at most maxFlows per batch, never older than maxDelayMs,
// numbered from 1 per agent process and encoded once for every exporter.
import { type FlowRecord, pb, recordToFlow } from "@flowlens/contracts";
import type { FlowExporter } from "../export/exporter.js";
import type { EncodedBatch } from "../export/queue.js";

export class FlowBatcher {
  private pending: pb.Flow[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sequence = 0n;
  batches = 0;
  flows = 0;

  constructor(
    private readonly identity: pb.AgentIdentity,
    private readonly exporters: readonly FlowExporter[],
    private readonly limits: { maxFlows: number; maxDelayMs: number },
    private readonly clock: () => number = Date.now,
  ) {}

  add(records: readonly FlowRecord[]): void {
    for (const r of records) {
      this.pending.push(recordToFlow(r));
      if (this.pending.length >= this.limits.maxFlows) this.flush();
    }
    if (this.pending.length > 0 && !this.timer) {
      this.timer = setTimeout(() => this.flush(), this.limits.maxDelayMs);
      this.timer.unref();
    }
  }

  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.length === 0) return;
    const message: pb.FlowBatch = {
      agent: this.identity,
      sequence: ++this.sequence,
      sentAtMs: BigInt(this.clock()),
      flows: this.pending,
    };
    this.pending = [];
    const batch: EncodedBatch = {
      sequence: message.sequence,
      flows: message.flows.length,
      bytes: pb.FlowBatch.encode(message).finish(),
      message,
    };
    this.batches++;
    this.flows += batch.flows;
    for (const e of this.exporters) e.offer(batch);
  }
}
