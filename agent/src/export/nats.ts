// The NATS JetStream exporter: every queued batch is published on the node's subject with a
// message id made of the agent process and the batch sequence, and stays queued until its
// publish ack (PubAck) says the stream has it. JetStream drops a republished id within the
// stream's duplicate window, and the aggregator's deduper catches anything older, so a batch
// can be retried freely. The agent never creates the stream (the aggregator owns it): while it
// is missing, publishes find no responder and batches wait in the queue.
import {
  batchMessageId,
  flowsSubject,
  type NatsClientOptions,
  natsConnectionOptions,
  type pb,
} from "@flowlens/contracts";
import { type JetStreamClient, jetstream, type PubAck } from "@nats-io/jetstream";
import { connect, type NatsConnection, type NodeConnectionOptions } from "@nats-io/transport-node";
import type { ExporterStats, FlowExporter } from "./exporter.js";
import { BoundedBatchQueue, type EncodedBatch, type QueueLimits } from "./queue.js";

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export type { NatsClientOptions, NatsTls } from "@flowlens/contracts";

export interface NatsExporterOptions extends NatsClientOptions {
  /** Node name; batches go to flowsSubject(node). */
  node: string;
  /** This agent process; with the sequence it makes each batch's JetStream message id. */
  identity: pb.AgentIdentity;
  queue: QueueLimits;
  /** Publishes awaiting their PubAck at once. */
  maxInFlight?: number;
  /** Delay before publishing again after a failure, doubling up to maxMs. */
  backoff?: Backoff;
  /** How long to wait for one PubAck. */
  publishTimeoutMs?: number;
  /** Wait between reconnect attempts of the NATS client (it retries forever). */
  reconnectWaitMs?: number;
  /** Limit of one connection attempt. */
  connectTimeoutMs?: number;
}

export const NATS_EXPORTER_DEFAULTS = {
  maxInFlight: 32,
  backoff: { initialMs: 100, maxMs: 5000 },
  publishTimeoutMs: 5000,
  reconnectWaitMs: 1000,
  connectTimeoutMs: 5000,
} as const;

export interface NatsExporterStats extends ExporterStats {
  /** PubAcks that said the stream already had the batch (a republish after a lost ack). */
  duplicates: number;
  /** Times the connection came back after a loss. */
  reconnects: number;
}

/** A configuration the exporter cannot work with. */
export class NatsExporterError extends Error {
  readonly code = "NATS_EXPORTER";
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class NatsExporter implements FlowExporter {
  readonly name = "nats";
  private readonly queue: BoundedBatchQueue;
  private readonly subject: string;
  private readonly identity: pb.AgentIdentity;
  private readonly maxInFlight: number;
  private readonly backoff: Backoff;
  private readonly publishTimeoutMs: number;
  private readonly connectOptions: NodeConnectionOptions;

  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private connected = false;
  private started = false;
  private stopping = false;
  private closed = false;
  private connecting = false;
  private run: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;
  /**
   * Bumped whenever every unacknowledged batch goes back to the queue: a publish from an older
   * generation may still get its PubAck (which still proves the stream has the batch), but its
   * failure no longer matters, the batch has been handed out again.
   */
  private generation = 0;
  /** Publishes of the current generation awaiting their PubAck. */
  private pending = 0;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private idleWaiters: Array<() => void> = [];

  private batchesSent = 0;
  private batchesAcked = 0;
  private flowsAcked = 0;
  private duplicates = 0;
  private reconnects = 0;
  private errors = 0;
  private lastError: string | undefined;
  /** Batches the queue never saw: offered after stop(), or larger than the server accepts. */
  private refusedBatches = 0;
  private refusedFlows = 0;

  constructor(opts: NatsExporterOptions) {
    this.queue = new BoundedBatchQueue(opts.queue);
    this.subject = flowsSubject(opts.node);
    this.identity = opts.identity;
    this.maxInFlight = opts.maxInFlight ?? NATS_EXPORTER_DEFAULTS.maxInFlight;
    this.backoff = opts.backoff ?? NATS_EXPORTER_DEFAULTS.backoff;
    this.publishTimeoutMs = opts.publishTimeoutMs ?? NATS_EXPORTER_DEFAULTS.publishTimeoutMs;
    if (!(this.maxInFlight >= 1))
      throw new NatsExporterError(`NATS exporter: maxInFlight must be >= 1, got ${this.maxInFlight}`);
    if (!(this.backoff.initialMs > 0) || !(this.backoff.maxMs >= this.backoff.initialMs)) {
      throw new NatsExporterError(
        `NATS exporter: backoff needs 0 < initialMs <= maxMs, got ${this.backoff.initialMs}/${this.backoff.maxMs}`,
      );
    }
    this.connectOptions = natsConnectionOptions(
      {
        ...opts,
        name: `flowlens-agent ${opts.identity.node}/${opts.identity.agentId}`,
        reconnectWaitMs: opts.reconnectWaitMs ?? NATS_EXPORTER_DEFAULTS.reconnectWaitMs,
        connectTimeoutMs: opts.connectTimeoutMs ?? NATS_EXPORTER_DEFAULTS.connectTimeoutMs,
      },
      (reason) => new NatsExporterError(`NATS exporter: ${reason}`),
    );
  }

  start(): void {
    if (this.started || this.stopping) return;
    this.started = true;
    this.run = this.connectLoop();
  }

  offer(batch: EncodedBatch): void {
    if (this.stopping) {
      this.refuse(batch);
      return;
    }
    this.queue.push(batch);
    this.pump();
  }

  /**
   * Delivers what is queued until `deadlineMs` (epoch milliseconds, as Date.now(); the same
   * contract as every FlowExporter), then closes the connection.
   */
  stop(deadlineMs: number): Promise<void> {
    this.stopped ??= this.shutdown(deadlineMs);
    return this.stopped;
  }

  stats(): NatsExporterStats {
    const q = this.queue.stats();
    return {
      ...q,
      droppedBatches: q.droppedBatches + this.refusedBatches,
      droppedFlows: q.droppedFlows + this.refusedFlows,
      connected: this.connected,
      batchesSent: this.batchesSent,
      batchesAcked: this.batchesAcked,
      flowsAcked: this.flowsAcked,
      duplicates: this.duplicates,
      reconnects: this.reconnects,
      errors: this.errors,
      lastError: this.lastError,
    };
  }

  private async shutdown(deadlineMs: number): Promise<void> {
    this.stopping = true;
    const deadline = deadlineMs;
    if (this.started) await this.untilIdleOr(deadline);
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.wake?.();
    // Everything still queued is given up on; its acks would find nobody listening.
    const nc = this.nc;
    if (nc && !nc.isClosed()) await nc.close().catch(() => {});
    // An attempt to connect cannot be cut short; the loop closes what it brings, no need to wait.
    if (!this.connecting) await this.run;
    this.connected = false;
  }

  private untilIdleOr(deadline: number): Promise<void> {
    if (this.queue.isEmpty) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
      this.idleWaiters.push(done);
    });
  }

  private async connectLoop(): Promise<void> {
    let attempt = 0;
    while (!this.closed) {
      let nc: NatsConnection;
      this.connecting = true;
      try {
        nc = await connect(this.connectOptions);
      } catch (err) {
        if (!this.closed) this.recordError(`connect to ${this.connectOptions.servers}: ${errorText(err)}`);
        await this.pause(this.backoffDelay(attempt++));
        continue;
      } finally {
        this.connecting = false;
      }
      if (this.closed) {
        await nc.close().catch(() => {});
        break;
      }
      attempt = 0;
      this.attach(nc);
      const err = await nc.closed();
      this.detach();
      // The client gave up (e.g. credentials refused on every reconnect): start over with a
      // fresh connection, after a pause so that a permanent refusal does not spin.
      if (!this.closed) {
        this.recordError(`connection to ${nc.getServer()} closed${err ? `: ${errorText(err)}` : ""}`);
        await this.pause(this.backoffDelay(attempt++));
      }
    }
  }

  private attach(nc: NatsConnection): void {
    this.nc = nc;
    this.js = jetstream(nc, { timeout: this.publishTimeoutMs });
    this.connected = true;
    void this.watch(nc);
    this.pump();
  }

  private detach(): void {
    this.connected = false;
    this.nc = undefined;
    this.js = undefined;
    this.requeue();
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") {
        this.connected = false;
        this.recordError(`lost the connection to ${s.server}`);
        // Publishes in flight will time out or never be answered: hand their batches out
        // again at once instead of waiting for each timeout.
        this.requeue();
      } else if (s.type === "reconnect") {
        this.connected = true;
        this.reconnects++;
        this.pump();
      }
    }
  }

  private pump(): void {
    const js = this.js;
    if (!js || !this.connected || this.retryTimer || this.closed) return;
    while (this.pending < this.maxInFlight) {
      const batch = this.queue.nextToSend();
      if (!batch) break;
      const maxPayload = this.nc?.info?.max_payload;
      // Headers (message id) take a few hundred bytes more; a batch the server will never accept
      // must not block every batch behind it.
      if (maxPayload !== undefined && batch.bytes.length + 512 > maxPayload) {
        this.queue.ack(batch.sequence);
        this.refuse(batch);
        this.recordError(
          `batch ${batch.sequence}: ${batch.bytes.length} bytes exceed the server's max_payload ${maxPayload}`,
        );
        continue;
      }
      this.publish(js, batch);
    }
    if (this.queue.isEmpty) this.notifyIdle();
  }

  private publish(js: JetStreamClient, batch: EncodedBatch): void {
    const generation = this.generation;
    this.pending++;
    this.batchesSent++;
    js.publish(this.subject, batch.bytes, {
      msgID: batchMessageId(this.identity, batch.sequence),
      timeout: this.publishTimeoutMs,
    }).then(
      (ack) => this.onAck(generation, batch, ack),
      (err) => this.onFailure(generation, batch, err),
    );
  }

  private onAck(generation: number, batch: EncodedBatch, ack: PubAck): void {
    if (generation === this.generation) this.pending--;
    const before = this.queue.stats().batches;
    const flows = this.queue.ack(batch.sequence);
    // A batch acked twice (published again after a requeue) counts once.
    if (this.queue.stats().batches < before) {
      this.batchesAcked++;
      this.flowsAcked += flows;
    }
    if (ack.duplicate) this.duplicates++;
    this.failures = 0;
    if (this.queue.isEmpty) this.notifyIdle();
    this.pump();
  }

  private onFailure(generation: number, batch: EncodedBatch, err: unknown): void {
    if (generation !== this.generation) return;
    this.pending--;
    // The client reports "no responders" as JetStream not enabled; here it almost always means
    // that the stream does not exist (yet).
    const why =
      err instanceof Error && err.name === "JetStreamNotEnabled"
        ? "no stream takes this subject (the aggregator creates it) or JetStream is down"
        : errorText(err);
    this.recordError(`publish of batch ${batch.sequence} to ${this.subject}: ${why}`);
    this.requeue();
    this.scheduleRetry();
  }

  /** Every unacknowledged batch will be published again, oldest first. */
  private requeue(): void {
    this.generation++;
    this.pending = 0;
    this.queue.resend();
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        this.pump();
      },
      this.backoffDelay(this.failures++),
    );
  }

  /** Exponential, with jitter so that many agents do not retry in step. */
  private backoffDelay(attempt: number): number {
    const base = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** Math.min(attempt, 30));
    return Math.round(base * (0.8 + 0.4 * Math.random()));
  }

  /** A pause that stop() cuts short. */
  private pause(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private refuse(batch: EncodedBatch): void {
    this.refusedBatches++;
    this.refusedFlows += batch.flows;
  }

  private recordError(message: string): void {
    this.errors++;
    this.lastError = message;
  }
}
