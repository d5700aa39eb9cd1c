// The bounded queue between the flow engine and one exporter. A batch stays here from the
// moment it is produced until its peer has acknowledged it, so that nothing inside the bound
// is lost while the peer is away; when the bound is exceeded the oldest batches go first and
// are counted, never silently.

import type { pb } from "@flowlens/contracts";

/** A FlowBatch already encoded once, shared by every exporter. */
export interface EncodedBatch {
  sequence: bigint;
  flows: number;
  /** The protobuf encoding of the FlowBatch. */
  bytes: Uint8Array;
  /** The batch itself, for the in-process exporter of `flowlens up` (no decode needed). */
  message?: pb.FlowBatch;
}

export interface QueueLimits {
  maxFlows: number;
  maxBytes: number;
}

interface Slot {
  batch: EncodedBatch;
  /** Handed to the peer and not yet acknowledged. */
  inFlight: boolean;
}

export interface QueueStats {
  batches: number;
  flows: number;
  bytes: number;
  inFlight: number;
  droppedBatches: number;
  droppedFlows: number;
}

// Left behind the moving head in place of a slot that is gone, so that the array below the head
// (up to a thousand entries before compaction) holds no batch bytes: the byte bound has to be
// the memory bound.
const RELEASED: Slot = { batch: { sequence: 0n, flows: 0, bytes: new Uint8Array(0) }, inFlight: false };

export class BoundedBatchQueue {
  // A plain array with a moving head: pushes at the tail, acks and drops at the head, and the
  // rare out-of-order ack (NATS) splices; compacted when the head has moved far enough.
  private slots: Slot[] = [];
  private head = 0;
  private flowCount = 0;
  private byteCount = 0;
  private inFlightCount = 0;
  private droppedBatchCount = 0;
  private droppedFlowCount = 0;

  constructor(private readonly limits: QueueLimits) {
    if (!(limits.maxFlows > 0) || !(limits.maxBytes > 0)) {
      throw new RangeError(`queue limits must be positive (maxFlows ${limits.maxFlows}, maxBytes ${limits.maxBytes})`);
    }
  }

  /** Adds a batch, first dropping the oldest batches (sent or not) that would exceed the bound. */
  push(batch: EncodedBatch): void {
    if (batch.flows > this.limits.maxFlows || batch.bytes.length > this.limits.maxBytes) {
      this.countDrop(batch);
      return;
    }
    while (
      this.head < this.slots.length &&
      (this.flowCount + batch.flows > this.limits.maxFlows ||
        this.byteCount + batch.bytes.length > this.limits.maxBytes)
    ) {
      const slot = this.takeHead();
      this.forget(slot);
      this.countDrop(slot.batch);
    }
    this.slots.push({ batch, inFlight: false });
    this.flowCount += batch.flows;
    this.byteCount += batch.bytes.length;
    this.compact();
  }

  /** The oldest batch not yet handed to the peer, marked in flight; undefined if none. */
  nextToSend(): EncodedBatch | undefined {
    for (let i = this.head; i < this.slots.length; i++) {
      const slot = this.slots[i] as Slot;
      if (!slot.inFlight) {
        slot.inFlight = true;
        this.inFlightCount++;
        return slot.batch;
      }
    }
    return undefined;
  }

  /** After a lost connection: every unacknowledged batch will be sent again, oldest first. */
  resend(): void {
    for (let i = this.head; i < this.slots.length; i++) (this.slots[i] as Slot).inFlight = false;
    this.inFlightCount = 0;
  }

  /** Cumulative acknowledgement (gRPC): every batch up to and including `sequence`. Returns flows acked. */
  ackUpTo(sequence: bigint): number {
    let flows = 0;
    while (this.head < this.slots.length && (this.slots[this.head] as Slot).batch.sequence <= sequence) {
      const slot = this.takeHead();
      this.forget(slot);
      flows += slot.batch.flows;
    }
    this.compact();
    return flows;
  }

  /** Acknowledgement of one batch (NATS publish ack). Returns flows acked, 0 if it was not queued. */
  ack(sequence: bigint): number {
    for (let i = this.head; i < this.slots.length; i++) {
      const slot = this.slots[i] as Slot;
      if (slot.batch.sequence === sequence) {
        this.forget(slot);
        if (i === this.head) this.takeHead();
        else this.slots.splice(i, 1);
        this.compact();
        return slot.batch.flows;
      }
    }
    return 0;
  }

  get isEmpty(): boolean {
    return this.head === this.slots.length;
  }

  get hasUnsent(): boolean {
    return this.slots.length - this.head > this.inFlightCount;
  }

  stats(): QueueStats {
    return {
      batches: this.slots.length - this.head,
      flows: this.flowCount,
      bytes: this.byteCount,
      inFlight: this.inFlightCount,
      droppedBatches: this.droppedBatchCount,
      droppedFlows: this.droppedFlowCount,
    };
  }

  private takeHead(): Slot {
    const slot = this.slots[this.head] as Slot;
    this.slots[this.head++] = RELEASED;
    return slot;
  }

  private forget(slot: Slot): void {
    this.flowCount -= slot.batch.flows;
    this.byteCount -= slot.batch.bytes.length;
    if (slot.inFlight) this.inFlightCount--;
  }

  private countDrop(batch: EncodedBatch): void {
    this.droppedBatchCount++;
    this.droppedFlowCount += batch.flows;
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.slots.length) {
      this.slots = this.slots.slice(this.head);
      this.head = 0;
    }
  }
}
