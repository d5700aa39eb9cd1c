// The in-process exporter of `flowlens up`: batches go straight into the aggregator living in
// the same process. Synchronous, so there is nothing to queue and nothing to lose.
import { pb } from "@flowlens/contracts";
import type { ExporterStats, FlowExporter } from "./exporter.js";
import type { EncodedBatch } from "./queue.js";

export class LocalExporter implements FlowExporter {
  readonly name = "local";
  private sent = 0;
  private flows = 0;
  private errors = 0;
  private lastError: string | undefined;
  private stopped = false;

  constructor(private readonly deliver: (batch: pb.FlowBatch) => void) {}

  start(): void {}

  offer(batch: EncodedBatch): void {
    if (this.stopped) return;
    try {
      this.deliver(batch.message ?? pb.FlowBatch.decode(batch.bytes));
      this.sent++;
      this.flows += batch.flows;
    } catch (err) {
      // The aggregator rejecting a batch must not take the capture down with it.
      this.errors++;
      this.lastError = (err as Error).message;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }

  stats(): ExporterStats {
    return {
      connected: !this.stopped,
      batchesSent: this.sent,
      batchesAcked: this.sent,
      flowsAcked: this.flows,
      errors: this.errors,
      ...(this.lastError ? { lastError: this.lastError } : {}),
      batches: 0,
      flows: 0,
      bytes: 0,
      inFlight: 0,
      droppedBatches: 0,
      droppedFlows: 0,
    };
  }
}
