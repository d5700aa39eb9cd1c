// The one path every ingested batch takes, whatever carried it: validate once, drop duplicates
// (same agent process and sequence), apply to the live state, count. Transports acknowledge
// only after apply() returns. Transports that receive bytes hand them to `fast`, which decodes
// them straight into the state's records (batch-decoder.ts); the in-process path hands over
// decoded messages to apply().
import type { pb } from "@flowlens/contracts";
import { type IngestFlow, MessageViews } from "../state/ingest-flow.js";
import type { LiveState } from "../state/live-state.js";
import { type DecodedBatch, FlowBatchDecoder } from "./batch-decoder.js";
import type { SequenceDeduper } from "./dedupe.js";
import type { BatchSink, CollectedSink, FastPath } from "./sink.js";

export type Transport = "grpc" | "nats" | "local";
/** The node the collector's records are counted under (their agent id is the exporter). */
export const COLLECTOR_NODE = "collector";
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
export function invalidFlowReason(f: IngestFlow): string | undefined {
  if (f.ipVersion !== 4 && f.ipVersion !== 6) return "ipVersion";
  if (!f.addressesValid()) return "address";
  if (f.srcPort > 65535 || f.dstPort > 65535 || f.proto > 255 || f.vlan > 4095) return "range";
  if (f.srcToDstBytes < 0 || f.dstToSrcBytes < 0 || f.srcToDstPackets < 0 || f.dstToSrcPackets < 0) return "negative";
  return undefined;
}

/**
 * Sees every applied record after the state has counted it (the alert engine). Records are
 * reused after the call returns: an observer keeps none of them, nor their arrays.
 */
export interface RecordObserver {
  observeRecords(flows: readonly IngestFlow[], count: number, node: string): void;
}

interface BatchHead {
  agent?: pb.AgentIdentity | undefined;
  sequence: bigint;
  sentAtMs: bigint;
}

export class IngestPipeline implements BatchSink {
  readonly counters: Record<Transport, TransportCounters> = {
    grpc: newCounters(),
    nats: newCounters(),
    local: newCounters(),
  };
  /** Observers of each applied batch's lag (the metrics histogram). */
  onLag?: (transport: Transport, lagMs: number) => void;
  /** The alert engine, once it runs. */
  observer?: RecordObserver;
  readonly fast: FastPath = {
    decode: (bytes) => this.decoder.decode(bytes),
    apply: (batch, transport) => this.applyRecords(batch, batch.flows, batch.flows.length, transport),
  };
  /**
   * The collector's hand-off: records decoded from an exporter's datagrams, counted by the
   * state and seen by the observer as the transports' batches are. They need no check here:
   * the collector's decoders make every field within range, and datagrams have no sequence the
   * deduper would know.
   */
  readonly collected: CollectedSink = (records, length, exporter) => {
    let origin = this.collectorOrigin;
    if (origin.agentId !== exporter) {
      origin = { node: COLLECTOR_NODE, agentId: exporter };
      this.collectorOrigin = origin;
    }
    this.state.applyRecords(records, origin, length);
    this.observer?.observeRecords(records, length, COLLECTOR_NODE);
  };
  private readonly views = new MessageViews();
  /** The last exporter's origin, so that a run of datagrams from one exporter makes no object. */
  private collectorOrigin = { node: COLLECTOR_NODE, agentId: "" };

  constructor(
    private readonly state: LiveState,
    private readonly deduper: SequenceDeduper,
    private readonly clock: () => number = Date.now,
    /** Transports' batch decoder; its records are read in C when the addon is there. */
    private readonly decoder = new FlowBatchDecoder(),
  ) {}

  /** Batches the decoder read in C, and those it read in JS (no addon, or a quirk of theirs). */
  get decodedBatches(): Readonly<{ native: number; js: number }> {
    return this.decoder.counts;
  }

  apply(batch: pb.FlowBatch, transport: Transport): boolean {
    const n = this.views.fill(batch.flows);
    try {
      return this.applyRecords(batch, this.views.views, n, transport);
    } finally {
      this.views.release(n);
    }
  }

  /** Applies a batch decoded by `fast.decode` (the same as fast.apply). */
  applyDecoded(batch: DecodedBatch, transport: Transport): boolean {
    return this.fast.apply(batch, transport);
  }

  private applyRecords(batch: BatchHead, records: readonly IngestFlow[], n: number, transport: Transport): boolean {
    const c = this.counters[transport];
    const agent = batch.agent;
    if (!agent?.agentId || !agent.node || batch.sequence <= 0n) {
      c.invalidBatches++;
      c.invalidFlows += n;
      return false;
    }
    if (this.deduper.isDuplicate(agent.agentId, batch.sequence)) {
      c.duplicateBatches++;
      c.duplicateFlows += n;
      return false;
    }
    let flows = records;
    let count = n;
    for (let i = 0; i < n; i++) {
      if (invalidFlowReason(records[i] as IngestFlow) !== undefined) {
        // Rare: only then build a filtered copy, so the common batch costs no allocation.
        flows = records.slice(0, n).filter((f) => invalidFlowReason(f) === undefined);
        count = flows.length;
        c.invalidFlows += n - count;
        break;
      }
    }
    this.state.applyRecords(flows, { node: agent.node, agentId: agent.agentId }, count);
    this.observer?.observeRecords(flows, count, agent.node);
    this.deduper.markApplied(agent.agentId, batch.sequence);
    c.batches++;
    c.flows += count;
    const lag = this.clock() - Number(batch.sentAtMs);
    if (batch.sentAtMs > 0n && lag >= 0) {
      c.lastLagMs = lag;
      this.onLag?.(transport, lag);
    }
    return true;
  }
}
