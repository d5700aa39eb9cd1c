// IPFIX / NetFlow v9 over UDP to any collector. UDP is fire-and-forget: there is no peer to
// acknowledge, so nothing is queued; what the socket refuses is counted as an error. Templates
// go out at start, every few messages, and on a timer so a restarted collector learns them.
import { createSocket, type Socket } from "node:dgram";
import { isIP } from "node:net";
import { pb } from "@flowlens/contracts";
import type { ExporterStats, FlowExporter } from "./exporter.js";
import { type ExportFormat, IpfixEncoder } from "./ipfix-encoder.js";
import type { EncodedBatch } from "./queue.js";

export interface IpfixExporterOptions {
  /** HOST:PORT or [V6]:PORT of the collector. */
  target: string;
  version: ExportFormat;
  biflow: boolean;
  observationDomain?: number;
  maxMessageBytes?: number;
  templateRefreshMs?: number;
}

export class IpfixExporterError extends Error {
  readonly code = "IPFIX_EXPORTER";
}

export function parseTarget(target: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(target);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!host || !(port > 0 && port < 65536))
    throw new IpfixExporterError(`ipfix target must be HOST:PORT, got '${target}'`);
  return { host, port };
}

export class IpfixExporter implements FlowExporter {
  readonly name: string;
  private readonly encoder: IpfixEncoder;
  private readonly host: string;
  private readonly port: number;
  private socket: Socket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private batches = 0;
  private flows = 0;
  private errors = 0;
  private lastError: string | undefined;
  private datagrams = 0;
  private stopped = false;
  private inFlight = 0;

  constructor(private readonly o: IpfixExporterOptions) {
    ({ host: this.host, port: this.port } = parseTarget(o.target));
    // One exporter per target, so the name (a metrics label) says which.
    this.name = `${o.version === 10 ? "ipfix" : "netflow9"}:${o.target}`;
    this.encoder = new IpfixEncoder({
      version: o.version,
      biflow: o.biflow,
      observationDomain: o.observationDomain ?? 0,
      maxMessageBytes: o.maxMessageBytes ?? 1400,
    });
  }

  start(): void {
    this.socket = createSocket(isIP(this.host) === 6 ? "udp6" : "udp4");
    this.socket.on("error", (err) => this.fail(err));
    this.socket.unref();
    this.send([this.encoder.templateMessage()]);
    this.timer = setInterval(() => this.send([this.encoder.templateMessage()]), this.o.templateRefreshMs ?? 30_000);
    this.timer.unref();
  }

  offer(batch: EncodedBatch): void {
    if (this.stopped || !this.socket) return;
    const flows = batch.message?.flows ?? pb.FlowBatch.decode(batch.bytes).flows;
    this.batches++;
    this.flows += flows.length;
    this.send(this.encoder.encode(flows));
  }

  private send(messages: Buffer[]): void {
    for (const m of messages) {
      this.inFlight++;
      this.socket?.send(m, this.port, this.host, (err) => {
        this.inFlight--;
        if (err) this.fail(err);
        else this.datagrams++;
      });
    }
  }

  private fail(err: Error): void {
    this.errors++;
    this.lastError = err.message;
  }

  async stop(deadlineMs: number): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    while (this.inFlight > 0 && Date.now() < deadlineMs) await new Promise((r) => setTimeout(r, 5));
    await new Promise<void>((resolve) => (this.socket ? this.socket.close(() => resolve()) : resolve()));
    this.socket = undefined;
  }

  stats(): ExporterStats & { datagrams: number; records: number } {
    return {
      connected: this.socket !== undefined,
      batchesSent: this.batches,
      batchesAcked: this.batches,
      flowsAcked: this.flows,
      errors: this.errors,
      ...(this.lastError ? { lastError: this.lastError } : {}),
      batches: 0,
      flows: 0,
      bytes: 0,
      inFlight: this.inFlight,
      droppedBatches: 0,
      droppedFlows: 0,
      datagrams: this.datagrams,
      records: this.encoder.records,
    };
  }
}
