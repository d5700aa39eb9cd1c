// Where ingested batches go once a transport has them: one function, so gRPC, NATS and the
// in-process path of `flowlens up` all apply flows the same way (dedupe, then state); and where
// the collector's records go.
import type { pb } from "@flowlens/contracts";
import type { IngestFlow } from "../state/ingest-flow.js";
import type { DecodedBatch } from "./batch-decoder.js";

type TransportName = "grpc" | "nats" | "local";

export interface BatchSink {
  /**
   * Applies a batch unless it is a duplicate (same agent process and sequence as one already
   * applied). Returns false for a duplicate. Either way the sender may be acknowledged.
   */
  apply(batch: pb.FlowBatch, transport: TransportName): boolean;
  /**
   * A sink with its own decoder: transports hand it the bytes they receive instead of decoding
   * them with pb.FlowBatch.decode, and apply what it returns.
   */
  readonly fast?: FastPath;
}

export interface FastPath {
  /**
   * Decodes the bytes of a FlowBatch, accepting and refusing exactly what pb.FlowBatch.decode
   * does (throws where it throws). The batch is valid until the next decode().
   */
  decode(bytes: Uint8Array): DecodedBatch;
  /** apply() for a batch from decode(). */
  apply(batch: DecodedBatch, transport: TransportName): boolean;
}

/** What transports read of a batch, decoded either way. */
export type AnyBatch = pb.FlowBatch | DecodedBatch;

/**
 * Where the collector (NetFlow/IPFIX/sFlow listeners) hands the records it decoded: the first
 * `length` of `records`, all from one exporter. Records are reused after the call returns.
 */
export type CollectedSink = (records: readonly IngestFlow[], length: number, exporter: string) => void;
