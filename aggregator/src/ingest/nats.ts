// NATS JetStream ingest: the aggregator owns the flows stream and a durable pull consumer on
// it, decodes each message as a FlowBatch, hands it to the sink and acknowledges it only after
// apply() returned, so a crash between the two means a redelivery, which the sink's deduper
// recognises. A message that is not a FlowBatch is terminated (never redelivered) and counted.
// The acks of a turn's messages go out together, and a batch spanning socket reads is put
// together in one buffer of its size (nats-payload.ts).
import {
  FLOWS_STREAM,
  FLOWS_SUBJECT_WILDCARD,
  type NatsClientOptions,
  natsConnectionOptions,
  pb,
} from "@flowlens/contracts";
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  type ConsumerMessages,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from "@nats-io/jetstream";
import {
  AuthorizationError,
  connect,
  InvalidArgumentError,
  type NatsConnection,
  type NodeConnectionOptions,
  nanos,
  PermissionViolationError,
  UserAuthenticationExpiredError,
} from "@nats-io/transport-node";
import type { DecodedBatch } from "./batch-decoder.js";
import { natsMessagesSized, sizeNatsMessageBuffers } from "./nats-payload.js";
import type { AnyBatch, BatchSink } from "./sink.js";

export type { NatsClientOptions, NatsTls } from "@flowlens/contracts";

export interface NatsStreamOptions {
  name?: string;
  /** Storage bound of the stream; the oldest messages go first. */
  maxBytes?: number;
  maxAgeMs?: number;
  /** How long JetStream remembers message ids to drop a republished batch. */
  duplicateWindowMs?: number;
  replicas?: number;
}

export interface NatsIngestOptions extends NatsClientOptions {
  stream?: NatsStreamOptions;
  /** Durable consumer shared by every aggregator replica. */
  durable?: string;
  /** Messages delivered and not yet acknowledged, across all replicas. */
  maxAckPending?: number;
  /** A message not acknowledged within this time is delivered again. */
  ackWaitMs?: number;
  /** Messages this client asks for ahead of processing. */
  pullBatch?: number;
  /** How often to read the consumer's lag (num_pending) when no message tells it; 0: never. */
  lagIntervalMs?: number;
  /** Delay before retrying setup or consumption after a failure, doubling up to maxMs. */
  backoff?: { initialMs: number; maxMs: number };
  /** Wait between reconnect attempts of the NATS client (it retries forever). */
  reconnectWaitMs?: number;
  /** Limit of one connection attempt. */
  connectTimeoutMs?: number;
  /** Connection name shown by the server. */
  name?: string;
}

export const NATS_INGEST_DEFAULTS = {
  stream: {
    name: FLOWS_STREAM,
    maxBytes: 1024 ** 3,
    maxAgeMs: 60 * 60_000,
    duplicateWindowMs: 2 * 60_000,
    replicas: 1,
  },
  durable: "flowlens-aggregator",
  maxAckPending: 1024,
  ackWaitMs: 30_000,
  pullBatch: 64,
  lagIntervalMs: 10_000,
  backoff: { initialMs: 100, maxMs: 5000 },
  reconnectWaitMs: 1000,
  connectTimeoutMs: 5000,
  name: "flowlens-aggregator",
} as const;

export interface NatsIngestStats {
  connected: boolean;
  /** JetStream messages received, whatever became of them. */
  messages: number;
  /** Batches the sink applied, and their flows. */
  batches: number;
  flows: number;
  /**
   * Batches the sink did not apply: already applied (a redelivery, or a republish JetStream did
   * not catch), or refused as invalid. JetStream's own message-id dedupe happens before the
   * stream and is visible only to publishers (PubAck.duplicate).
   */
  duplicates: number;
  duplicateFlows: number;
  /** Messages that are not a FlowBatch from an agent; terminated. */
  decodeErrors: number;
  /** apply() threw; the message is redelivered later. */
  applyErrors: number;
  /** Messages delivered more than once (by their delivery count). */
  redeliveries: number;
  /** Messages in the stream the consumer has not delivered yet; undefined until known. */
  consumerLag: number | undefined;
  /** Delivered and not yet acknowledged, per the last consumer info. */
  ackPending: number | undefined;
  reconnects: number;
  /** Times consumption was set up again (reconnect, missing stream or consumer, failure). */
  consumeRestarts: number;
  /**
   * Messages spanning socket reads that were reassembled in a buffer of their size (process
   * wide; see nats-payload.ts). Stays 0 if nats.js changed under it.
   */
  messagesSized: number;
  errors: number;
  lastError: string | undefined;
}

/** A failure retrying cannot fix (credentials, permissions, a stream or consumer we may not change). */
export class NatsIngestError extends Error {
  readonly code = "NATS_INGEST";
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NatsIngestError";
  }
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

const isApiError = (err: unknown, code: number): boolean => err instanceof JetStreamApiError && err.code === code;
/** JetStream API code: a stream of this name exists with another configuration. */
const STREAM_NAME_IN_USE = 10058;

/** Errors that retrying will not fix. */
function isPermanent(err: unknown): boolean {
  return (
    err instanceof NatsIngestError ||
    err instanceof AuthorizationError ||
    err instanceof UserAuthenticationExpiredError ||
    err instanceof PermissionViolationError ||
    err instanceof InvalidArgumentError ||
    (err instanceof JetStreamApiError && err.status === 400)
  );
}

export class NatsIngest {
  readonly name = "nats";
  private readonly streamCfg: Required<NatsStreamOptions>;
  private readonly durable: string;
  private readonly maxAckPending: number;
  private readonly ackWaitMs: number;
  private readonly pullBatch: number;
  private readonly lagIntervalMs: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly connectOptions: NodeConnectionOptions;

  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private jsm: JetStreamManager | undefined;
  private messages: ConsumerMessages | undefined;
  /** Applied messages whose acks go out at the next turn (ackSoon). */
  private readonly toAck: JsMsg[] = [];
  private acksScheduled = false;
  private connected = false;
  private stopping = false;
  private run: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;
  private ready: Promise<void> | undefined;
  private resolveReady: (() => void) | undefined;
  private rejectReady: ((err: Error) => void) | undefined;
  private isReady = false;
  private wake: (() => void) | undefined;
  private lagTimer: NodeJS.Timeout | undefined;
  private lagInFlight = false;

  private readonly counters = {
    messages: 0,
    batches: 0,
    flows: 0,
    duplicates: 0,
    duplicateFlows: 0,
    decodeErrors: 0,
    applyErrors: 0,
    redeliveries: 0,
    reconnects: 0,
    consumeRestarts: 0,
    errors: 0,
  };
  private consumerLag: number | undefined;
  private ackPending: number | undefined;
  private lastError: string | undefined;

  constructor(
    opts: NatsIngestOptions,
    private readonly sink: BatchSink,
  ) {
    const d = NATS_INGEST_DEFAULTS;
    this.streamCfg = {
      name: opts.stream?.name ?? d.stream.name,
      maxBytes: opts.stream?.maxBytes ?? d.stream.maxBytes,
      maxAgeMs: opts.stream?.maxAgeMs ?? d.stream.maxAgeMs,
      duplicateWindowMs: opts.stream?.duplicateWindowMs ?? d.stream.duplicateWindowMs,
      replicas: opts.stream?.replicas ?? d.stream.replicas,
    };
    this.durable = opts.durable ?? d.durable;
    this.maxAckPending = opts.maxAckPending ?? d.maxAckPending;
    this.ackWaitMs = opts.ackWaitMs ?? d.ackWaitMs;
    this.pullBatch = opts.pullBatch ?? Math.min(d.pullBatch, this.maxAckPending);
    this.lagIntervalMs = opts.lagIntervalMs ?? d.lagIntervalMs;
    this.backoff = opts.backoff ?? d.backoff;
    const s = this.streamCfg;
    if (s.duplicateWindowMs > s.maxAgeMs) {
      throw new NatsIngestError(
        `NATS stream ${s.name}: duplicateWindowMs ${s.duplicateWindowMs} exceeds maxAgeMs ${s.maxAgeMs}`,
      );
    }
    if (!(s.maxBytes > 0) || !(s.replicas >= 1)) {
      throw new NatsIngestError(`NATS stream ${s.name}: maxBytes must be > 0 and replicas >= 1`);
    }
    if (!(this.pullBatch >= 1) || this.pullBatch > this.maxAckPending) {
      throw new NatsIngestError(
        `NATS ingest: pullBatch ${this.pullBatch} must be in 1..maxAckPending (${this.maxAckPending})`,
      );
    }
    if (!(this.ackWaitMs >= 1000)) throw new NatsIngestError(`NATS ingest: ackWaitMs ${this.ackWaitMs} is below 1000`);
    this.connectOptions = natsConnectionOptions(
      {
        ...opts,
        name: opts.name ?? d.name,
        reconnectWaitMs: opts.reconnectWaitMs ?? d.reconnectWaitMs,
        connectTimeoutMs: opts.connectTimeoutMs ?? d.connectTimeoutMs,
      },
      (reason) => new NatsIngestError(`NATS ingest: ${reason}`),
    );
  }

  /**
   * Connects, creates or updates the stream and the durable consumer, and starts consuming.
   * Resolves once messages are being pulled. Unreachable servers are retried (with backoff)
   * until then; refused credentials or a stream that cannot be made to fit reject.
   */
  start(): Promise<void> {
    if (this.ready) return this.ready;
    if (this.stopping) return Promise.reject(new NatsIngestError("NATS ingest: start() after stop()"));
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.run = this.consumeLoop();
    if (this.lagIntervalMs > 0) {
      this.lagTimer = setInterval(() => void this.refreshLag(), this.lagIntervalMs);
      this.lagTimer.unref();
    }
    return this.ready;
  }

  /** Stops pulling, lets the message in hand finish, hands back what was buffered, and closes. */
  stop(graceMs = 5000): Promise<void> {
    this.stopped ??= this.shutdown(graceMs);
    return this.stopped;
  }

  stats(): NatsIngestStats {
    return {
      connected: this.connected,
      ...this.counters,
      messagesSized: natsMessagesSized(),
      consumerLag: this.consumerLag,
      ackPending: this.ackPending,
      lastError: this.lastError,
    };
  }

  /** The counters as rows for the aggregator's transport gauge. */
  metricRows(): Array<{ name: string; value: number; reason?: string }> {
    const s = this.stats();
    return [
      { name: "connected", value: s.connected ? 1 : 0 },
      { name: "messages", value: s.messages },
      { name: "batches_received", value: s.batches },
      { name: "flows_received", value: s.flows },
      { name: "duplicate_batches", value: s.duplicates },
      { name: "duplicate_flows", value: s.duplicateFlows },
      { name: "decode_errors", value: s.decodeErrors },
      { name: "sink_errors", value: s.applyErrors },
      { name: "redeliveries", value: s.redeliveries },
      { name: "reconnects", value: s.reconnects },
      { name: "consume_restarts", value: s.consumeRestarts },
      { name: "messages_sized", value: s.messagesSized },
      { name: "errors", value: s.errors },
      // Always present, 0 until the consumer's first info: the metric names are fixed when the
      // transport registers them, before it has connected.
      { name: "consumer_lag", value: s.consumerLag ?? 0 },
      { name: "ack_pending", value: s.ackPending ?? 0 },
    ];
  }

  private async shutdown(graceMs: number): Promise<void> {
    this.stopping = true;
    const deadline = Date.now() + Math.max(0, graceMs);
    clearInterval(this.lagTimer);
    this.wake?.();
    this.messages?.stop();
    this.failReady(new NatsIngestError("NATS ingest stopped before it was ready"));
    if (this.run) await withDeadline(this.run, deadline);
    this.flushAcks();
    const nc = this.nc;
    if (nc && !nc.isClosed()) {
      // drain() flushes the acks of what was processed before closing.
      await withDeadline(
        nc.drain().catch(() => {}),
        deadline,
      );
      if (!nc.isClosed()) await nc.close().catch(() => {});
    }
    this.connected = false;
  }

  private async consumeLoop(): Promise<void> {
    let attempt = 0;
    while (!this.stopping) {
      const began = Date.now();
      let handled = 0;
      try {
        const nc = await this.connection();
        const jsm = this.jsm as JetStreamManager;
        const js = this.js as JetStreamClient;
        await this.ensureStream(jsm);
        await this.ensureConsumer(jsm);
        if (this.stopping) break;
        const consumer = await js.consumers.get(this.streamCfg.name, this.durable);
        const messages = await consumer.consume({ max_messages: this.pullBatch });
        this.messages = messages;
        void this.watchConsumer(messages);
        // stop() may have come while consume() was being set up.
        if (this.stopping || nc.isClosed()) messages.stop();
        this.markReady();
        for await (const m of messages) {
          if (this.stopping) {
            // Buffered but not started: back to the server at once, for another replica.
            m.nak();
            continue;
          }
          this.handle(m);
          handled++;
        }
      } catch (err) {
        if (!this.isReady && isPermanent(err)) {
          this.failReady(
            err instanceof NatsIngestError
              ? err
              : new NatsIngestError(`NATS ingest ${this.streamCfg.name}/${this.durable}: ${errorText(err)}`, {
                  cause: err,
                }),
          );
          break;
        }
        this.recordError(`consuming ${this.streamCfg.name}/${this.durable}: ${errorText(err)}`);
      } finally {
        this.messages = undefined;
      }
      if (this.stopping) break;
      this.counters.consumeRestarts++;
      // A consumption that ran a while (or made progress) ended for a reason of its own (a
      // reconnect): come back quickly. Back-to-back failures back off.
      if (handled > 0 || Date.now() - began > this.backoff.maxMs) attempt = 0;
      await this.pause(this.backoffDelay(attempt++));
    }
    if (!this.stopping) {
      // Given up before it was ready (start() rejected): nothing may keep running.
      clearInterval(this.lagTimer);
      const nc = this.nc;
      this.nc = undefined;
      this.connected = false;
      if (nc && !nc.isClosed()) await nc.close().catch(() => {});
    }
  }

  private handle(m: JsMsg): void {
    const c = this.counters;
    c.messages++;
    const info = m.info;
    if (info.deliveryCount > 1) c.redeliveries++;
    this.consumerLag = info.pending;
    const fast = this.sink.fast;
    let batch: AnyBatch;
    try {
      batch = fast !== undefined ? fast.decode(m.data) : pb.FlowBatch.decode(m.data);
    } catch (err) {
      this.rejectMessage(m, `not a FlowBatch (${errorText(err)})`);
      return;
    }
    // Random bytes can decode as protobuf; a batch without its sender cannot be deduplicated.
    if (!batch.agent?.agentId || batch.sequence <= 0n) {
      this.rejectMessage(m, "a FlowBatch without an agent id or sequence");
      return;
    }
    let applied: boolean;
    try {
      applied =
        fast !== undefined ? fast.apply(batch as DecodedBatch, "nats") : this.sink.apply(batch as pb.FlowBatch, "nats");
    } catch (err) {
      c.applyErrors++;
      this.recordError(
        `applying batch ${batch.sequence} of agent ${batch.agent.agentId} (stream seq ${info.streamSequence}): ${errorText(err)}`,
      );
      // Not acknowledged: it comes again after a pause instead of after the full ack wait.
      m.nak(this.backoff.maxMs);
      return;
    }
    if (applied) {
      c.batches++;
      c.flows += batch.flows.length;
    } else {
      c.duplicates++;
      c.duplicateFlows += batch.flows.length;
    }
    this.ackSoon(m);
  }

  /**
   * Acks an applied message with the others applied in the same turn: nats.js writes each
   * ack to the socket on its own otherwise (a system call per batch). An ack lost with the
   * connection only brings the batch again, which the deduper drops.
   */
  private ackSoon(m: JsMsg): void {
    this.toAck.push(m);
    if (!this.acksScheduled) {
      this.acksScheduled = true;
      setImmediate(this.flushAcks);
    }
  }

  private readonly flushAcks = (): void => {
    this.acksScheduled = false;
    const list = this.toAck;
    for (let i = 0; i < list.length; i++) {
      try {
        (list[i] as JsMsg).ack();
      } catch (err) {
        this.recordError(`acking message ${(list[i] as JsMsg).info.streamSequence}: ${errorText(err)}`);
      }
    }
    list.length = 0;
  };

  private rejectMessage(m: JsMsg, why: string): void {
    this.counters.decodeErrors++;
    this.recordError(`message ${m.info.streamSequence} on ${m.subject}: ${why}; terminated`);
    m.term();
  }

  private async connection(): Promise<NatsConnection> {
    if (this.nc && !this.nc.isClosed()) return this.nc;
    this.nc = undefined;
    let nc: NatsConnection;
    sizeNatsMessageBuffers();
    try {
      nc = await connect(this.connectOptions);
    } catch (err) {
      const message = `connect to ${this.connectOptions.servers}: ${errorText(err)}`;
      throw isPermanent(err) ? new NatsIngestError(message, { cause: err }) : new Error(message, { cause: err });
    }
    if (this.stopping) {
      await nc.close().catch(() => {});
      throw new NatsIngestError("NATS ingest stopped while connecting");
    }
    this.nc = nc;
    this.js = jetstream(nc);
    this.jsm = await jetstreamManager(nc, { checkAPI: false });
    this.connected = true;
    void this.watchConnection(nc);
    return nc;
  }

  private async watchConnection(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") {
        this.connected = false;
        this.recordError(`lost the connection to ${s.server}`);
      } else if (s.type === "reconnect") {
        this.connected = true;
        this.counters.reconnects++;
        // The server may have restarted: its pull requests are gone and the stream or the
        // consumer may be too. Set everything up again rather than trust the old pull.
        this.messages?.stop();
      }
    }
    // Closed for good (by us, or the client gave up): the consume loop connects afresh.
    if (this.nc === nc) this.connected = false;
    this.messages?.stop();
  }

  private async watchConsumer(messages: ConsumerMessages): Promise<void> {
    for await (const n of messages.status()) {
      switch (n.type) {
        case "stream_not_found":
        case "consumer_not_found":
        case "consumer_deleted":
        case "heartbeats_missed":
          // Recreate what is missing and pull again, rather than wait for the client's own
          // slow retries.
          this.recordError(`consumer ${this.durable}: ${n.type}`);
          messages.stop();
          return;
      }
    }
  }

  private async ensureStream(jsm: JetStreamManager): Promise<void> {
    const s = this.streamCfg;
    const want = {
      subjects: [FLOWS_SUBJECT_WILDCARD],
      max_bytes: s.maxBytes,
      max_age: nanos(s.maxAgeMs),
      duplicate_window: nanos(s.duplicateWindowMs),
      num_replicas: s.replicas,
      discard: DiscardPolicy.Old,
    } satisfies Partial<StreamConfig>;
    let info: StreamInfo | undefined;
    try {
      info = await jsm.streams.info(s.name);
    } catch (err) {
      if (!isApiError(err, JetStreamApiCodes.StreamNotFound)) throw err;
    }
    if (!info) {
      try {
        await jsm.streams.add({
          name: s.name,
          storage: StorageType.File,
          retention: RetentionPolicy.Limits,
          ...want,
        });
        return;
      } catch (err) {
        // Another replica created it in the meantime: fall through to compare and update.
        if (!isApiError(err, STREAM_NAME_IN_USE)) throw err;
        info = await jsm.streams.info(s.name);
      }
    }
    const have = info.config;
    const same =
      have.subjects?.length === 1 &&
      have.subjects[0] === FLOWS_SUBJECT_WILDCARD &&
      have.max_bytes === want.max_bytes &&
      have.max_age === want.max_age &&
      have.duplicate_window === want.duplicate_window &&
      have.num_replicas === want.num_replicas &&
      have.discard === want.discard;
    if (same) return;
    try {
      await jsm.streams.update(s.name, { ...have, ...want });
    } catch (err) {
      throw new NatsIngestError(`NATS stream ${s.name} exists and cannot be updated to ours: ${errorText(err)}`, {
        cause: err,
      });
    }
  }

  private async ensureConsumer(jsm: JetStreamManager): Promise<void> {
    const stream = this.streamCfg.name;
    const want = {
      ack_wait: nanos(this.ackWaitMs),
      max_ack_pending: this.maxAckPending,
    } satisfies Partial<ConsumerConfig>;
    let info: ConsumerInfo | undefined;
    try {
      info = await jsm.consumers.info(stream, this.durable);
    } catch (err) {
      if (!isApiError(err, JetStreamApiCodes.ConsumerNotFound)) throw err;
    }
    if (!info) {
      info = await jsm.consumers.add(stream, {
        durable_name: this.durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        // A batch is redelivered until applied; one that can never be is terminated instead.
        max_deliver: -1,
        ...want,
      });
    }
    const have = info.config;
    if (have.ack_policy !== AckPolicy.Explicit || have.deliver_subject) {
      throw new NatsIngestError(
        `NATS consumer ${stream}/${this.durable} exists but is not a pull consumer with explicit acks; delete it or pick another durable name`,
      );
    }
    if (have.ack_wait !== want.ack_wait || have.max_ack_pending !== want.max_ack_pending) {
      await jsm.consumers.update(stream, this.durable, want);
    }
  }

  private async refreshLag(): Promise<void> {
    const jsm = this.jsm;
    if (!jsm || !this.connected || this.lagInFlight || this.stopping) return;
    this.lagInFlight = true;
    try {
      const info = await jsm.consumers.info(this.streamCfg.name, this.durable);
      this.consumerLag = info.num_pending;
      this.ackPending = info.num_ack_pending;
    } catch {
      // The consume loop reports what is wrong; a missed reading only leaves the last one.
    } finally {
      this.lagInFlight = false;
    }
  }

  private markReady(): void {
    if (this.isReady) return;
    this.isReady = true;
    this.resolveReady?.();
  }

  private failReady(err: Error): void {
    if (this.isReady) return;
    this.isReady = true;
    // A start() nobody awaits must not become an unhandled rejection.
    this.ready?.catch(() => {});
    this.rejectReady?.(err);
  }

  private backoffDelay(attempt: number): number {
    const base = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** Math.min(attempt, 30));
    return Math.round(base * (0.8 + 0.4 * Math.random()));
  }

  /** A pause that stop() cuts short. */
  private pause(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
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

  private recordError(message: string): void {
    this.counters.errors++;
    this.lastError = message;
  }
}

/** Waits for `p` until the deadline at most. */
async function withDeadline(p: Promise<unknown>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    p,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
    }),
  ]);
  clearTimeout(timer);
}
