// The aggregator's end of the gRPC transport: agents stream FlowBatches on one long-lived
// `Export` call each; every batch is decoded, checked, applied through the BatchSink (which
// drops duplicates) and acknowledged by its sequence, in order, so the agent's cumulative ack
// is exact. Response headers go out as soon as a stream is accepted: the agent waits for them
// (or a connected channel) before it writes.
//
// A message that is not a FlowBatch, or a batch without agent identity or with sequence 0,
// ends its stream with INVALID_ARGUMENT instead of being skipped. Such a batch cannot be
// deduplicated or acknowledged by its own sequence, and skipping it would let the next ack
// cover it cumulatively: the sender would never learn that it is broken. Refused, it shows on
// both sides (refused{reason} here, errors and lastError at the agent); the agent's bounded
// queue keeps the stuck batch from holding memory for ever. Our agents never produce one.
//
// We own the listening socket and hand accepted connections to grpc-js through its public
// connection injector (Server.createConnectionInjector). That is the supported way to see what
// happens before HTTP/2: grpc-js keeps its own http2 server private, so a failed TLS handshake
// or a client certificate from the wrong CA would otherwise vanish without a trace. TLS is
// terminated here with node:tls, the verdict on the client certificate is ours (and counted),
// and only verified connections ever reach grpc-js.
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { AUTH_METADATA_KEY, pb } from "@flowlens/contracts";
import * as grpc from "@grpc/grpc-js";
import type { DecodedBatch } from "./batch-decoder.js";
import { raiseReceiveWindow } from "./http2-window.js";
import type { AnyBatch, BatchSink } from "./sink.js";

export interface GrpcIngestTls {
  certFile: string;
  keyFile: string;
  /** When set, every client must present a certificate issued by this CA (mTLS). */
  clientCaFile?: string;
}

export interface GrpcIngestOptions {
  /** `host:port`, `[v6]:port` or `:port` (every interface); port 0 picks a free one. */
  listen: string;
  tls?: GrpcIngestTls;
  /** When set, a stream without `authorization: Bearer <one of these>` is refused. */
  tokens?: string[];
  /** Largest FlowBatch accepted, in bytes (default 16 MiB); grpc-js refuses bigger ones (RESOURCE_EXHAUSTED). */
  maxBatchBytes?: number;
  /** HTTP/2 pings towards agents, so a stream from a vanished node is noticed and released. */
  keepalive?: { timeMs: number; timeoutMs: number };
  /** A TLS client that has not finished its handshake by then is dropped. */
  handshakeTimeoutMs?: number;
}

export const GRPC_INGEST_DEFAULTS = {
  // 100k flows, the largest batch an agent may be configured for, at ~150 bytes each.
  maxBatchBytes: 16 << 20,
  keepalive: { timeMs: 30_000, timeoutMs: 10_000 },
  handshakeTimeoutMs: 10_000,
} as const;

/** Why a connection or a stream was turned away. Used as the `reason` label of the metrics. */
export type RefusalReason =
  | "no_token"
  | "bad_token"
  | "tls_handshake"
  | "client_certificate"
  | "invalid_batch"
  | "decode_error";

const REFUSAL_REASONS: readonly RefusalReason[] = [
  "no_token",
  "bad_token",
  "tls_handshake",
  "client_certificate",
  "invalid_batch",
  "decode_error",
];

export interface GrpcIngestStats {
  connectionsOpen: number;
  connectionsTotal: number;
  streamsOpen: number;
  streamsTotal: number;
  /**
   * Streams that ended without a status from us: the agent cancelled or vanished, or grpc-js
   * refused a message over maxBatchBytes (it ends the call itself and tells us no more).
   */
  streamsAborted: number;
  /**
   * Streams whose HTTP/2 receive windows could not be raised from the 64 KiB default (see
   * http2-window.ts): they work, slower.
   */
  windowsNotRaised: number;
  /** Decoded, valid batches, duplicates included (a duplicate: the sink returned false). */
  batchesReceived: number;
  flowsReceived: number;
  duplicateBatches: number;
  duplicateFlows: number;
  /** Messages that are not a FlowBatch (also counted in refused.decode_error). */
  decodeErrors: number;
  /** The sink threw; the stream was ended with INTERNAL and the batch not acknowledged. */
  sinkErrors: number;
  refused: Record<RefusalReason, number>;
  lastRefusal?: string;
  /** The listener failed to accept a connection (file descriptors exhausted...). */
  lastError?: string;
}

export class GrpcIngestError extends Error {
  readonly code = "GRPC_INGEST";
}

// Batches travel as raw bytes through grpc-js and are decoded by the handler, so that a
// message that is not a FlowBatch is counted and answered with INVALID_ARGUMENT instead of the
// INTERNAL grpc-js sends when a deserializer throws.
const exportService: grpc.ServiceDefinition = {
  export: {
    path: pb.FlowExportService.export.path,
    originalName: "Export",
    requestStream: true,
    responseStream: true,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (a: pb.BatchAck) => Buffer.from(pb.BatchAck.encode(a).finish()),
    responseDeserialize: (b: Buffer) => pb.BatchAck.decode(b),
  },
};

/** Why a decoded batch cannot be applied (and acknowledged), or undefined. */
function invalidBatchReason(b: AnyBatch): string | undefined {
  if (!b.agent?.agentId || !b.agent.node) return "no agent identity (node and agentId)";
  if (b.sequence <= 0n) return "sequence must be > 0";
  return undefined;
}

function parseListen(listen: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) throw new GrpcIngestError(`grpc ingest: listen must be [HOST]:PORT, got '${listen}'`);
  return { host: m[1] ?? (m[2] || undefined), port };
}

function readFile(what: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new GrpcIngestError(`grpc ingest: reading ${what} ${path}: ${(err as Error).message}`);
  }
}

const sha256 = (s: string) => createHash("sha256").update(s).digest();

function statusError(code: grpc.status, details: string): Partial<grpc.StatusObject> & Error {
  return Object.assign(new Error(details), { code, details });
}

interface Running {
  server: grpc.Server;
  listener: NetServer;
  listenerClosed: Promise<void>;
}

interface OpenStream {
  /** Ends the stream with this status once the acks already written are out. */
  close(code: grpc.status, details: string): void;
}

export class GrpcIngest {
  readonly name = "grpc";
  private readonly listenAt: { host: string | undefined; port: number };
  private readonly tokenDigests: Buffer[] | undefined;
  private readonly maxBatchBytes: number;
  private running: Running | undefined;
  private stopping: Promise<void> | undefined;
  private boundPort = 0;
  private readonly sockets = new Set<Socket>();
  private readonly streams = new Set<OpenStream>();
  private readonly counts: Omit<
    GrpcIngestStats,
    "refused" | "lastRefusal" | "lastError" | "connectionsOpen" | "streamsOpen"
  > = {
    connectionsTotal: 0,
    streamsTotal: 0,
    streamsAborted: 0,
    windowsNotRaised: 0,
    batchesReceived: 0,
    flowsReceived: 0,
    duplicateBatches: 0,
    duplicateFlows: 0,
    decodeErrors: 0,
    sinkErrors: 0,
  };
  private readonly refused = Object.fromEntries(REFUSAL_REASONS.map((r) => [r, 0])) as Record<RefusalReason, number>;
  private lastRefusal: string | undefined;
  private lastError: string | undefined;

  constructor(
    private readonly options: GrpcIngestOptions,
    private readonly sink: BatchSink,
  ) {
    this.listenAt = parseListen(options.listen);
    this.maxBatchBytes = options.maxBatchBytes ?? GRPC_INGEST_DEFAULTS.maxBatchBytes;
    if (!(Number.isInteger(this.maxBatchBytes) && this.maxBatchBytes > 0)) {
      throw new GrpcIngestError(`grpc ingest: maxBatchBytes must be a positive integer, got ${this.maxBatchBytes}`);
    }
    if (options.tokens) {
      // An empty list would refuse every agent; a missing list accepts every agent. Neither is
      // something to get by accident from an empty config value.
      if (options.tokens.length === 0 || options.tokens.some((t) => !/^\S+$/.test(t))) {
        throw new GrpcIngestError(
          "grpc ingest: tokens must be non-empty strings without whitespace (omit tokens to disable the check)",
        );
      }
      this.tokenDigests = options.tokens.map(sha256);
    }
  }

  /** The port listened on (useful with port 0); 0 when not running. */
  get port(): number {
    return this.boundPort;
  }

  /** Starts listening; resolves with the bound port. Can be called again after stop(). */
  async start(): Promise<number> {
    if (this.running) throw new GrpcIngestError(`grpc ingest: already listening on port ${this.boundPort}`);
    if (this.stopping) await this.stopping;
    const keepalive = this.options.keepalive ?? GRPC_INGEST_DEFAULTS.keepalive;
    const server = new grpc.Server({
      "grpc.max_receive_message_length": this.maxBatchBytes,
      "grpc.keepalive_time_ms": keepalive.timeMs,
      "grpc.keepalive_timeout_ms": keepalive.timeoutMs,
    });
    server.addService(exportService, {
      export: (call: grpc.ServerDuplexStream<Buffer, pb.BatchAck>) => this.onStream(call),
    });
    // Plaintext to grpc-js in every case: TLS, when configured, is already terminated by the
    // listener below, and grpc-js still sees the TLSSocket (peer certificate in getAuthContext).
    const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    const listener = this.options.tls
      ? this.tlsListener(this.options.tls, (s) => injector.injectConnection(s))
      : createNetServer((s) => injector.injectConnection(s));
    listener.on("connection", (socket: Socket) => {
      this.counts.connectionsTotal++;
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
      socket.setNoDelay(true);
    });
    const { host, port } = this.listenAt;
    try {
      await new Promise<void>((resolve, reject) => {
        listener.once("error", reject);
        listener.listen({ host, port }, () => {
          listener.off("error", reject);
          resolve();
        });
      });
    } catch (err) {
      server.forceShutdown();
      throw new GrpcIngestError(`grpc ingest: cannot listen on ${this.options.listen}: ${(err as Error).message}`);
    }
    const listenerClosed = new Promise<void>((resolve) => listener.once("close", () => resolve()));
    listener.on("error", (err) => {
      // After a successful listen only accept() can fail (EMFILE...): note it, keep serving.
      this.lastError = `accepting a connection on ${this.options.listen}: ${err.message}`;
    });
    const addr = listener.address();
    this.boundPort = addr && typeof addr === "object" ? addr.port : port;
    this.running = { server, listener, listenerClosed };
    return this.boundPort;
  }

  /**
   * Stops listening, ends every open stream with UNAVAILABLE once the acks already written are
   * out (agents then reconnect elsewhere or later and resend what was not acknowledged), waits
   * up to graceMs for connections to close, then closes what is left. graceMs <= 0 cuts every
   * connection at once, before returning to the caller's tick: nothing more is acknowledged.
   */
  stop(graceMs: number): Promise<void> {
    if (!this.stopping) {
      this.stopping = this.shutdown(graceMs).finally(() => {
        this.stopping = undefined;
      });
    }
    return this.stopping;
  }

  stats(): GrpcIngestStats {
    return {
      ...this.counts,
      connectionsOpen: this.sockets.size,
      streamsOpen: this.streams.size,
      refused: { ...this.refused },
      ...(this.lastRefusal ? { lastRefusal: this.lastRefusal } : {}),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** The counters as rows for the aggregator's transport gauge. */
  metricRows(): Array<{ name: string; value: number; reason?: string }> {
    const s = this.stats();
    return [
      { name: "connections_open", value: s.connectionsOpen },
      { name: "connections_total", value: s.connectionsTotal },
      { name: "streams_open", value: s.streamsOpen },
      { name: "streams_total", value: s.streamsTotal },
      { name: "streams_aborted", value: s.streamsAborted },
      { name: "windows_not_raised", value: s.windowsNotRaised },
      { name: "batches_received", value: s.batchesReceived },
      { name: "flows_received", value: s.flowsReceived },
      { name: "duplicate_batches", value: s.duplicateBatches },
      { name: "duplicate_flows", value: s.duplicateFlows },
      { name: "decode_errors", value: s.decodeErrors },
      { name: "sink_errors", value: s.sinkErrors },
      ...REFUSAL_REASONS.map((reason) => ({ name: "refused", reason, value: s.refused[reason] })),
    ];
  }

  private async shutdown(graceMs: number): Promise<void> {
    const running = this.running;
    if (!running) return;
    const { server, listener, listenerClosed } = running;
    listener.close();
    for (const s of [...this.streams]) s.close(grpc.status.UNAVAILABLE, "aggregator shutting down");
    if (graceMs <= 0) {
      server.forceShutdown();
    } else {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    // Connections grpc-js never saw (a TLS handshake in progress) are ours to end.
    for (const s of this.sockets) s.destroy();
    await listenerClosed;
    this.running = undefined;
    this.boundPort = 0;
  }

  private tlsListener(tls: GrpcIngestTls, accept: (s: TLSSocket) => void): NetServer {
    const requireClientCert = tls.clientCaFile !== undefined;
    const listener = createTlsServer({
      cert: readFile("tls.certFile", tls.certFile),
      key: readFile("tls.keyFile", tls.keyFile),
      ...(requireClientCert ? { ca: readFile("tls.clientCaFile", tls.clientCaFile as string) } : {}),
      requestCert: requireClientCert,
      // Verified below instead of inside the handshake: node:tls drops a connection whose
      // certificate fails verification without any event, and the refusal must be counted.
      // A socket that fails is destroyed before a single byte of it reaches grpc-js.
      rejectUnauthorized: false,
      ALPNProtocols: ["h2"],
      minVersion: "TLSv1.2",
      handshakeTimeout: this.options.handshakeTimeoutMs ?? GRPC_INGEST_DEFAULTS.handshakeTimeoutMs,
    });
    // Raw connections by peer address until their handshake completes. A failed handshake is
    // counted when its connection closes, so that one that never sent a byte (a TCP probe from
    // a load balancer or the kubelet) is not taken for a TLS client; node:tls reports both
    // alike, often after the socket is gone and its address with it.
    const handshaking = new Map<string, Socket>();
    let lastTlsError: string | undefined;
    listener.on("connection", (raw: Socket) => {
      const peer = `${raw.remoteAddress}:${raw.remotePort}`;
      handshaking.set(peer, raw);
      raw.once("close", () => {
        if (handshaking.get(peer) !== raw) return;
        handshaking.delete(peer);
        if (raw.bytesRead > 0) {
          this.refuse("tls_handshake", `TLS handshake with ${peer} failed: ${lastTlsError ?? "connection closed"}`);
        }
        lastTlsError = undefined;
      });
    });
    listener.on("tlsClientError", (err: Error & { code?: string }) => {
      lastTlsError = err.code ?? err.message;
    });
    listener.on("secureConnection", (socket: TLSSocket) => {
      const peer = `${socket.remoteAddress}:${socket.remotePort}`;
      handshaking.delete(peer);
      if (this.stopping) {
        socket.destroy();
        return;
      }
      if (requireClientCert && !socket.authorized) {
        // Without a certificate node reports an issuer error; say what actually happened.
        const presented = Object.keys(socket.getPeerCertificate()).length > 0;
        const why = presented ? String(socket.authorizationError ?? "not verified") : "no client certificate";
        this.refuse("client_certificate", `client certificate of ${peer} refused: ${why}`);
        socket.destroy();
        return;
      }
      if (socket.alpnProtocol !== "h2") {
        this.refuse("tls_handshake", `${peer} did not negotiate h2 (ALPN ${socket.alpnProtocol || "none"})`);
        socket.destroy();
        return;
      }
      accept(socket);
    });
    return listener;
  }

  private refuse(reason: RefusalReason, message: string): void {
    this.refused[reason]++;
    this.lastRefusal = `${reason}: ${message}`;
  }

  /** undefined if the call may proceed, else why not. Constant time in the token's content. */
  private checkToken(metadata: grpc.Metadata): "no_token" | "bad_token" | undefined {
    if (!this.tokenDigests) return undefined;
    const values = metadata.get(AUTH_METADATA_KEY);
    const value = values.length === 1 ? values[0] : undefined;
    if (typeof value !== "string") return "no_token";
    const m = /^Bearer +(\S+)$/i.exec(value);
    if (!m) return "bad_token";
    // Digests have one length whatever the token's, and every configured token is compared,
    // so neither the time taken nor an early exit says how close a guess was.
    const digest = sha256(m[1] as string);
    let ok = false;
    for (const t of this.tokenDigests) ok = timingSafeEqual(digest, t) || ok;
    return ok ? undefined : "bad_token";
  }

  private onStream(call: grpc.ServerDuplexStream<Buffer, pb.BatchAck>): void {
    const peer = call.getPeer();
    if (this.stopping) {
      call.emit("error", statusError(grpc.status.UNAVAILABLE, "aggregator shutting down"));
      return;
    }
    const tokenProblem = this.checkToken(call.metadata);
    if (tokenProblem) {
      const message = tokenProblem === "no_token" ? "missing bearer token" : "bearer token not accepted";
      this.refuse(tokenProblem, `${peer}: ${message}`);
      call.emit("error", statusError(grpc.status.UNAUTHENTICATED, message));
      return;
    }

    this.counts.streamsTotal++;
    let ended = false; // a status is on its way (ours or grpc-js'), ignore further input
    let messages = 0;
    const stream: OpenStream = {
      close: (code, details) => {
        if (ended) return;
        ended = true;
        if (code === grpc.status.OK) call.end();
        else call.emit("error", statusError(code, details));
      },
    };
    this.streams.add(stream);
    call.once("close", () => this.streams.delete(stream));
    call.once("cancelled", () => {
      if (!ended) {
        ended = true;
        this.counts.streamsAborted++;
      }
    });
    // Sent at once, not with the first ack: they tell the agent the stream is accepted (it waits
    // for them, or for a connected channel, before writing).
    call.sendMetadata(new grpc.Metadata());
    if (!raiseReceiveWindow(call)) this.counts.windowsNotRaised++;

    call.on("data", (bytes: Buffer) => {
      if (ended) return;
      messages++;
      const fast = this.sink.fast;
      let batch: AnyBatch;
      try {
        batch = fast !== undefined ? fast.decode(bytes) : pb.FlowBatch.decode(bytes);
      } catch (err) {
        // Refused rather than skipped, see the module comment.
        this.counts.decodeErrors++;
        const details = `message ${messages} (${bytes.length} bytes) is not a FlowBatch: ${(err as Error).message}`;
        this.refuse("decode_error", `${peer}: ${details}`);
        stream.close(grpc.status.INVALID_ARGUMENT, details);
        return;
      }
      const invalid = invalidBatchReason(batch);
      if (invalid) {
        const details = `batch ${batch.sequence} (message ${messages}): ${invalid}`;
        this.refuse("invalid_batch", `${peer}: ${details}`);
        stream.close(grpc.status.INVALID_ARGUMENT, details);
        return;
      }
      const flows = batch.flows.length;
      let applied: boolean;
      try {
        applied =
          fast !== undefined
            ? fast.apply(batch as DecodedBatch, "grpc")
            : this.sink.apply(batch as pb.FlowBatch, "grpc");
      } catch (err) {
        this.counts.sinkErrors++;
        const agent = batch.agent as pb.AgentIdentity;
        stream.close(
          grpc.status.INTERNAL,
          `applying batch ${batch.sequence} of agent ${agent.agentId} (${agent.node}) failed: ${(err as Error).message}`,
        );
        return;
      }
      this.counts.batchesReceived++;
      this.counts.flowsReceived += flows;
      if (!applied) {
        this.counts.duplicateBatches++;
        this.counts.duplicateFlows += flows;
      }
      // The sink may have stopped us (a shutdown during apply): no ack, the agent resends.
      if (ended) return;
      // A duplicate is acknowledged too (it was applied before), with 0 flows accepted.
      const more = call.write({ sequence: batch.sequence, flowsAccepted: applied ? BigInt(flows) : 0n });
      if (!more) {
        // The agent is not reading its acks: stop reading its batches until it does.
        call.pause();
        call.once("drain", () => call.resume());
      }
    });
    // The agent half-closed (its stop()): finish once the acks written so far are out.
    call.on("end", () => stream.close(grpc.status.OK, ""));
  }
}
