// The agent's end of the gRPC transport: one long-lived bidirectional `Export` stream to the
// aggregator. Batches go out oldest first, already encoded (the bytes the batcher produced are
// the message: no decode, no re-encode), at most maxInFlightBatches unacknowledged and never
// faster than HTTP/2 flow control lets them. The aggregator acks cumulatively; a batch leaves
// the queue only then. Whatever ends the stream (error, aggregator restart, dead peer found by
// keep-alive pings), every unacknowledged batch is sent again on the next stream, after an
// exponential backoff with jitter; the aggregator drops the duplicates by sequence.
import { readFileSync } from "node:fs";
import { AUTH_METADATA_KEY, pb } from "@flowlens/contracts";
import * as grpc from "@grpc/grpc-js";
import type { ExporterStats, FlowExporter } from "./exporter.js";
import { BoundedBatchQueue, type EncodedBatch, type QueueLimits } from "./queue.js";

export interface GrpcExporterTls {
  /** CA bundle that signed the aggregator's certificate; the system roots when omitted. */
  caFile?: string;
  /** Client certificate and key, for an aggregator that requires mTLS. Both or neither. */
  certFile?: string;
  keyFile?: string;
  /** Name to verify the aggregator's certificate against, when it differs from the target host. */
  serverName?: string;
}

export interface GrpcExporterOptions {
  /** The aggregator, `host:port`. */
  target: string;
  /** TLS to the aggregator; plaintext when omitted. */
  tls?: GrpcExporterTls;
  /** Sent as `authorization: Bearer <token>` on the stream. */
  token?: string;
  queue: QueueLimits;
  /** Batches sent and not yet acknowledged, at most. */
  maxInFlightBatches?: number;
  /** Delay before reconnecting: doubles per failed attempt from initialMs up to maxMs, jittered. */
  backoff?: { initialMs: number; maxMs: number };
  /** HTTP/2 pings: a peer that does not answer within timeoutMs is considered gone. */
  keepalive?: { timeMs: number; timeoutMs: number };
}

export const GRPC_EXPORTER_DEFAULTS = {
  maxInFlightBatches: 64,
  backoff: { initialMs: 250, maxMs: 30_000 },
  keepalive: { timeMs: 20_000, timeoutMs: 10_000 },
} as const;

export class GrpcExporterError extends Error {
  readonly code = "GRPC_EXPORTER";
}

type ExportCall = grpc.ClientDuplexStream<Uint8Array, pb.BatchAck>;

const EXPORT_PATH = pb.FlowExportService.export.path;

// The batch bytes are the message; Buffer.from over the same memory, no copy.
const passThrough = (b: Uint8Array): Buffer =>
  Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
const decodeAck = (b: Buffer): pb.BatchAck => pb.BatchAck.decode(b);

function readFile(what: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new GrpcExporterError(`grpc exporter: reading ${what} ${path}: ${(err as Error).message}`);
  }
}

type State = "new" | "running" | "stopping" | "stopped";

export class GrpcExporter implements FlowExporter {
  readonly name = "grpc";
  private readonly queue: BoundedBatchQueue;
  private readonly target: string;
  private readonly credentials: grpc.ChannelCredentials;
  private readonly channelOptions: grpc.ChannelOptions;
  private readonly metadata = new grpc.Metadata();
  private readonly maxInFlight: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private state: State = "new";
  private client: grpc.Client | undefined;
  private call: ExportCall | undefined;
  /**
   * The current stream can carry batches: the aggregator sent its response headers or an ack,
   * or the channel is connected. Until then nothing is written, so that a batch the queue drops
   * meanwhile (overflow while the aggregator is away) cannot still go out from a grpc-js buffer.
   */
  private accepted = false;
  private callStartedAt = 0;
  private waitingForDrain = false;
  private failedAttempts = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  /** Woken whenever the queue may have become empty or the stream ended (stop() waits on it). */
  private onProgress: (() => void) | undefined;
  private batchesSent = 0;
  private batchesAcked = 0;
  private flowsAcked = 0;
  private errors = 0;
  private lastError: string | undefined;
  private refusedBatches = 0;
  private refusedFlows = 0;

  constructor(options: GrpcExporterOptions) {
    if (!/^\S+:\d{1,5}$/.test(options.target)) {
      throw new GrpcExporterError(`grpc exporter: target must be HOST:PORT, got '${options.target}'`);
    }
    this.target = options.target;
    this.queue = new BoundedBatchQueue(options.queue);
    this.maxInFlight = options.maxInFlightBatches ?? GRPC_EXPORTER_DEFAULTS.maxInFlightBatches;
    if (!(Number.isInteger(this.maxInFlight) && this.maxInFlight >= 1)) {
      throw new GrpcExporterError(`grpc exporter: maxInFlightBatches must be an integer >= 1, got ${this.maxInFlight}`);
    }
    this.backoff = options.backoff ?? GRPC_EXPORTER_DEFAULTS.backoff;
    if (!(this.backoff.initialMs > 0 && this.backoff.maxMs >= this.backoff.initialMs)) {
      throw new GrpcExporterError(
        `grpc exporter: backoff needs 0 < initialMs <= maxMs, got ${this.backoff.initialMs} and ${this.backoff.maxMs}`,
      );
    }
    const keepalive = options.keepalive ?? GRPC_EXPORTER_DEFAULTS.keepalive;
    this.channelOptions = {
      "grpc.keepalive_time_ms": keepalive.timeMs,
      "grpc.keepalive_timeout_ms": keepalive.timeoutMs,
      "grpc.keepalive_permit_without_calls": 1,
      // The channel's own reconnection follows the same curve as ours, so a new stream does not
      // sit behind a connection attempt grpc-js postponed for up to two minutes (its default).
      "grpc.initial_reconnect_backoff_ms": this.backoff.initialMs,
      "grpc.max_reconnect_backoff_ms": this.backoff.maxMs,
      // The queue is the retry buffer. grpc-js' own one would copy every batch and complete
      // writes before they reach the socket, hiding HTTP/2 flow control from us.
      "grpc.enable_retries": 0,
      "grpc.per_rpc_retry_buffer_size": 0,
      ...(options.tls?.serverName
        ? { "grpc.ssl_target_name_override": options.tls.serverName, "grpc.default_authority": options.tls.serverName }
        : {}),
    };
    this.credentials = GrpcExporter.makeCredentials(options.tls);
    if (options.token !== undefined) {
      if (!options.token || /\s/.test(options.token)) {
        throw new GrpcExporterError("grpc exporter: token must be non-empty and without whitespace");
      }
      this.metadata.set(AUTH_METADATA_KEY, `Bearer ${options.token}`);
    }
  }

  private static makeCredentials(tls: GrpcExporterTls | undefined): grpc.ChannelCredentials {
    if (!tls) return grpc.credentials.createInsecure();
    if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
      throw new GrpcExporterError(
        "grpc exporter: tls.certFile and tls.keyFile go together (client certificate for mTLS)",
      );
    }
    return grpc.credentials.createSsl(
      tls.caFile ? readFile("tls.caFile", tls.caFile) : null,
      tls.keyFile ? readFile("tls.keyFile", tls.keyFile) : null,
      tls.certFile ? readFile("tls.certFile", tls.certFile) : null,
    );
  }

  start(): void {
    if (this.state !== "new") return;
    this.state = "running";
    const client = new grpc.Client(this.target, this.credentials, this.channelOptions);
    this.client = client;
    this.openStream();
    this.watchChannel(client);
  }

  /** Treats a READY channel as the go-ahead too, for an aggregator that sends no early headers. */
  private watchChannel(client: grpc.Client): void {
    const channel = client.getChannel();
    const check = () => {
      if (this.client !== client) return;
      const state = channel.getConnectivityState(false);
      if (state === grpc.connectivityState.SHUTDOWN) return;
      if (state === grpc.connectivityState.READY) this.streamUsable();
      channel.watchConnectivityState(state, Number.POSITIVE_INFINITY, check);
    };
    check();
  }

  private streamUsable(): void {
    if (!this.call || this.accepted) return;
    this.accepted = true;
    this.pump();
  }

  offer(batch: EncodedBatch): void {
    if (this.state === "stopping" || this.state === "stopped") {
      this.refusedBatches++;
      this.refusedFlows += batch.flows;
      return;
    }
    // Only what goes on the wire is kept: the decoded message some batches carry (for the
    // in-process exporter) is many times the size of its bytes and would escape the bound.
    this.queue.push(batch.message ? { sequence: batch.sequence, flows: batch.flows, bytes: batch.bytes } : batch);
    this.pump();
  }

  /**
   * Takes no more batches, keeps delivering (reconnecting if need be) until every queued batch
   * is acknowledged or `deadlineMs` (epoch milliseconds, as Date.now()) has passed, then closes
   * the stream and the channel. What is still queued then stays counted in stats().
   */
  stop(deadlineMs: number): Promise<void> {
    this.stopping ??= this.shutdown(deadlineMs);
    return this.stopping;
  }

  private async shutdown(deadlineMs: number): Promise<void> {
    const wasStarted = this.state === "running";
    this.state = "stopping";
    if (wasStarted) await this.until(() => this.queue.isEmpty, deadlineMs);
    this.state = "stopped";
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const call = this.call;
    if (call && this.accepted && this.queue.isEmpty) {
      // Half-close and give the aggregator until the deadline to end the stream cleanly.
      call.end();
      await this.until(() => this.call !== call, deadlineMs);
    }
    this.call = undefined;
    call?.cancel();
    this.client?.close();
    this.client = undefined;
    this.accepted = false;
  }

  stats(): ExporterStats {
    const q = this.queue.stats();
    return {
      ...q,
      droppedBatches: q.droppedBatches + this.refusedBatches,
      droppedFlows: q.droppedFlows + this.refusedFlows,
      connected: this.accepted,
      batchesSent: this.batchesSent,
      batchesAcked: this.batchesAcked,
      flowsAcked: this.flowsAcked,
      errors: this.errors,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }

  private openStream(): void {
    const client = this.client;
    if (!client || this.state === "stopped") return;
    const call = client.makeBidiStreamRequest<Uint8Array, pb.BatchAck>(
      EXPORT_PATH,
      passThrough,
      decodeAck,
      this.metadata,
      {},
    );
    this.call = call;
    this.accepted = false;
    this.waitingForDrain = false;
    this.callStartedAt = Date.now();
    call.on("metadata", () => {
      if (this.call === call) this.streamUsable();
    });
    call.on("data", (ack: pb.BatchAck) => this.onAck(call, ack));
    call.on("drain", () => {
      if (this.call !== call) return;
      this.waitingForDrain = false;
      this.pump();
    });
    // grpc-js reports a non-OK end as 'error' then 'status', an OK end as 'status' only.
    call.on("error", (err: grpc.ServiceError) =>
      this.onStreamEnd(call, `${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`),
    );
    call.on("status", (s: grpc.StatusObject) => {
      const why = s.code === grpc.status.OK ? "aggregator ended the stream" : `${grpc.status[s.code]}: ${s.details}`;
      this.onStreamEnd(call, why);
    });
    // A reconnect over a connection that is still up gets no state change to wait for.
    if (client.getChannel().getConnectivityState(false) === grpc.connectivityState.READY) this.streamUsable();
  }

  private onAck(call: ExportCall, ack: pb.BatchAck): void {
    // Acks are facts whichever stream carried them (buffered ones can arrive after its status).
    const before = this.queue.stats().batches;
    const flows = this.queue.ackUpTo(ack.sequence);
    this.batchesAcked += before - this.queue.stats().batches;
    this.flowsAcked += flows;
    if (this.call !== call) return;
    // The stream carries data end to end: a later failure starts the backoff from scratch.
    this.failedAttempts = 0;
    this.streamUsable();
    this.pump();
    this.onProgress?.();
  }

  private onStreamEnd(call: ExportCall, why: string): void {
    if (this.call !== call) return;
    this.call = undefined;
    this.accepted = false;
    this.waitingForDrain = false;
    if (this.state === "stopped") {
      this.onProgress?.();
      return;
    }
    this.errors++;
    this.lastError = why;
    this.queue.resend();
    // A stream that lived longer than the longest backoff was a working connection, whatever
    // ended it: start the curve again rather than waiting as long as after a dozen failures.
    if (Date.now() - this.callStartedAt > this.backoff.maxMs) this.failedAttempts = 0;
    const ceiling = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** Math.min(this.failedAttempts, 30));
    this.failedAttempts++;
    // Half fixed, half random: agents restarted together do not reconnect in step.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.openStream();
    }, delay);
    // The exporter alone must not keep a process alive; stop() holds it while it waits.
    this.retryTimer.unref();
    this.onProgress?.();
  }

  /** Writes batches while the stream is accepted, flow control allows and the window has room. */
  private pump(): void {
    const call = this.call;
    if (!call || !this.accepted || this.waitingForDrain) return;
    while (this.queue.stats().inFlight < this.maxInFlight) {
      const batch = this.queue.nextToSend();
      if (!batch) return;
      this.batchesSent++;
      if (!call.write(batch.bytes)) {
        this.waitingForDrain = true;
        return;
      }
    }
  }

  /** Resolves when `done()` holds (checked on every ack and stream end) or at the deadline. */
  private until(done: () => boolean, deadlineMs: number): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.onProgress = undefined;
        resolve();
      };
      const timer = setTimeout(finish, Math.max(0, deadlineMs - Date.now()));
      this.onProgress = () => {
        if (done()) finish();
      };
    });
  }
}
