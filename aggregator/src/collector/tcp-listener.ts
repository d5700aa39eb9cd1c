// IPFIX over TCP (RFC 7011 section 10.4): exporters that want reliable transport open a TCP
// connection and send IPFIX messages back to back. Each connection is one transport session,
// and templates live exactly as long as it does (RFC 7011 section 8), so each session gets its
// own decoder, dropped with the connection: a restarted exporter cannot inherit stale
// templates, and no session can fill another's template cache.
//
// A TCP stream cannot be resynchronised after a bad message header: the session is closed and
// counted, as the RFC asks of a collecting process. Sessions are capped, and each one's buffer
// is bounded by the largest message (65535 bytes), so memory stays bounded whatever peers send.
import { createServer, type Server, type Socket } from "node:net";
import type { CollectedSink } from "../ingest/sink.js";
import { FlowRecords } from "./flow-records.js";
import { type Clock, NetflowDecoder, type NetflowLimits } from "./netflow/decoder.js";
import { DECODE_ERROR_REASONS } from "./netflow/errors.js";

export interface IpfixTcpOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Sessions open at once; more are refused (closed at once) and counted. */
  maxSessions: number;
  /** A session that sends nothing for this long is closed (the exporter is gone). */
  idleTimeoutMs: number;
  /** Decoder limits of one session (it is one exporter: small caches). */
  limits: Partial<NetflowLimits>;
}

export const IPFIX_TCP_DEFAULTS: Omit<IpfixTcpOptions, "host" | "port"> = {
  maxSessions: 256,
  idleTimeoutMs: 10 * 60_000,
  // Community IDs are computed by the API for the flows it shows, as for the UDP collector.
  limits: {
    maxSources: 64,
    maxTemplatesPerSource: 512,
    maxTemplateFieldsTotal: 1 << 16,
    pendingSetsMax: 64,
    communityId: false,
  },
};

const IPFIX_VERSION = 10;
const IPFIX_HEADER = 16;

export interface IpfixTcpStats {
  sessionsOpen: number;
  sessionsTotal: number;
  sessionsRefused: number;
  /** Sessions closed because a message header was not IPFIX (wrong version, length < 16). */
  framingErrors: number;
  idleTimeouts: number;
  messages: number;
  bytes: number;
  records: number;
  /** IPFIX data records lost by the exporters' sequence numbers (their sessions' net count). */
  recordsLost: number;
  decodeErrors: Record<string, number>;
}

/** An IPv4-mapped IPv6 peer (dual-stack socket) is the IPv4 exporter it stands for. */
function exporterAddress(addr: string | undefined): string {
  if (addr === undefined) return "";
  return addr.startsWith("::ffff:") && addr.includes(".") ? addr.slice(7) : addr;
}

class Session {
  readonly decoder: NetflowDecoder;
  /** Bytes of a message not complete yet; at most one message (65535 bytes). */
  private pending: Buffer | null = null;

  constructor(
    readonly socket: Socket,
    readonly exporter: string,
    limits: Partial<NetflowLimits>,
    clock: Clock,
  ) {
    this.decoder = new NetflowDecoder(limits, clock);
  }

  /**
   * Splits what arrived into whole messages and hands each to `message`. Returns false when a
   * header is not IPFIX: the stream is lost from there on.
   */
  feed(chunk: Buffer, message: (m: Buffer) => void): boolean {
    let buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = null;
    let off = 0;
    while (buf.length - off >= 4) {
      const version = buf.readUInt16BE(off);
      const length = buf.readUInt16BE(off + 2);
      if (version !== IPFIX_VERSION || length < IPFIX_HEADER) return false;
      if (buf.length - off < length) break;
      message(buf.subarray(off, off + length));
      off += length;
    }
    if (off < buf.length) {
      // Copied: the rest must not pin the whole chunk it came in.
      buf = Buffer.from(buf.subarray(off));
      this.pending = buf;
    }
    return true;
  }
}

export class IpfixTcpListener {
  readonly name = "ipfix_tcp";
  private server: Server | undefined;
  private readonly sessions = new Set<Session>();
  private readonly stats_: Omit<IpfixTcpStats, "sessionsOpen" | "decodeErrors"> = {
    sessionsTotal: 0,
    sessionsRefused: 0,
    framingErrors: 0,
    idleTimeouts: 0,
    messages: 0,
    bytes: 0,
    records: 0,
    recordsLost: 0,
  };
  private readonly errors: Record<string, number> = Object.fromEntries(DECODE_ERROR_REASONS.map((r) => [r, 0]));
  /** The records of the messages of one chunk, handed over together and then reused. */
  private readonly records = new FlowRecords();
  port = 0;

  constructor(
    private readonly options: IpfixTcpOptions,
    private readonly apply: CollectedSink,
    private readonly clock: Clock = Date.now,
    /** Lost data records of an exporter, by sequence numbers (LiveState.applyExporterRecordLoss). */
    private readonly recordLoss?: (exporter: string, lost: number) => void,
  ) {}

  async start(): Promise<number> {
    const server = createServer((socket) => this.accept(socket));
    server.maxConnections = this.options.maxSessions;
    // Past maxConnections node closes new sockets itself: count them.
    server.on("drop", () => this.stats_.sessionsRefused++);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ port: this.options.port, host: this.options.host }, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const addr = server.address();
    this.port = typeof addr === "object" && addr !== null ? addr.port : this.options.port;
    this.server = server;
    return this.port;
  }

  private accept(socket: Socket): void {
    const session = new Session(socket, exporterAddress(socket.remoteAddress), this.options.limits, this.clock);
    this.sessions.add(session);
    this.stats_.sessionsTotal++;
    socket.setNoDelay(true);
    socket.setTimeout(this.options.idleTimeoutMs, () => {
      this.stats_.idleTimeouts++;
      socket.destroy();
    });
    socket.on("data", (chunk: Buffer) => {
      const ok = session.feed(chunk, (m) => this.onMessage(session, m));
      this.handOff(session.exporter);
      if (!ok) {
        this.stats_.framingErrors++;
        socket.destroy();
      }
    });
    // A reset or a half-open peer is the exporter's business; the session just ends.
    socket.on("error", () => {});
    socket.on("close", () => {
      this.sessions.delete(session);
    });
  }

  private onMessage(session: Session, message: Buffer): void {
    this.stats_.messages++;
    this.stats_.bytes += message.length;
    const report = session.decoder.decodeInto(message, session.exporter, this.clock(), this.records);
    const errors = report.errors;
    for (const reason in errors)
      this.errors[reason] = (this.errors[reason] ?? 0) + (errors[reason as keyof typeof errors] ?? 0);
    if (report.recordsLost !== 0) {
      this.stats_.recordsLost += report.recordsLost;
      this.recordLoss?.(session.exporter, report.recordsLost);
    }
  }

  /** Hands over the records of a chunk's messages (one session: one exporter), then reuses them. */
  private handOff(exporter: string): void {
    const records = this.records;
    const n = records.length;
    if (n === 0) return;
    this.stats_.records += n;
    try {
      this.apply(records.records, n, exporter);
    } finally {
      records.clear();
    }
  }

  /** Templates known over all open sessions. */
  templates(): number {
    let n = 0;
    for (const s of this.sessions) n += s.decoder.stats().templates;
    return n;
  }

  stats(): IpfixTcpStats {
    return { ...this.stats_, sessionsOpen: this.sessions.size, decodeErrors: { ...this.errors } };
  }

  metricRows(): Array<{ name: string; value: number; reason?: string }> {
    const s = this.stats();
    return [
      { name: "sessions_open", value: s.sessionsOpen },
      { name: "sessions", value: s.sessionsTotal },
      { name: "sessions_refused", value: s.sessionsRefused },
      { name: "framing_errors", value: s.framingErrors },
      { name: "idle_timeouts", value: s.idleTimeouts },
      { name: "messages", value: s.messages },
      { name: "bytes", value: s.bytes },
      { name: "records", value: s.records },
      { name: "records_lost", value: s.recordsLost },
      { name: "templates", value: this.templates() },
      ...Object.entries(s.decodeErrors).map(([reason, value]) => ({ name: "decode_errors", reason, value })),
    ];
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sessions) s.socket.destroy();
    await closed;
  }
}
