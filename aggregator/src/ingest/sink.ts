// Where ingested batches go once a transport has them: one function, so gRPC, NATS and the
// in-process path of `flowlens up` all apply flows the same way (dedupe, then state).
import type { pb } from "@flowlens/contracts";

export interface BatchSink {
  /**
   * Applies a batch unless it is a duplicate (same agent process and sequence as one already
   * applied). Returns false for a duplicate. Either way the sender may be acknowledged.
   */
  apply(batch: pb.FlowBatch, transport: "grpc" | "nats" | "local"): boolean;
}
