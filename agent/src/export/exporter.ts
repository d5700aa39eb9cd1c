// What every exporter (gRPC, NATS JetStream, in-process, IPFIX) looks like to the agent: it is
// offered encoded batches, never blocks the engine, keeps its own bounded queue and counters.
import type { EncodedBatch, QueueStats } from "./queue.js";

export interface ExporterStats extends QueueStats {
  /** Connected to its peer right now. */
  connected: boolean;
  batchesSent: number;
  batchesAcked: number;
  flowsAcked: number;
  /** Failed sends, lost connections, refused publishes. */
  errors: number;
  lastError?: string;
}

export interface FlowExporter {
  /** `grpc`, `nats`, ... used as the `exporter` label of the agent's metrics. */
  readonly name: string;
  start(): void;
  /** Queues a batch for delivery; returns at once. */
  offer(batch: EncodedBatch): void;
  /**
   * Stops taking batches and tries to deliver what is queued until `deadlineMs` (epoch
   * milliseconds, as Date.now()), then closes.
   */
  stop(deadlineMs: number): Promise<void>;
  stats(): ExporterStats;
}
