// The collector's UDP side: sockets for NetFlow/IPFIX and sFlow, large receive buffers, read in
// batches with the addon (udp-socket.ts), each datagram decoded as it arrives (by its header,
// whatever the port) into reused records that are handed to the ingest pipeline (live state and
// alerts), sFlow interface counters and lost datagrams too.
// Socket overflow is real loss the application never sees, so it is read from the kernel
// (/proc/net/udp{,6} "drops" of our sockets) and counted too.
import { readFileSync } from "node:fs";
import type { CollectedSink } from "../ingest/sink.js";
import { FlowRecords } from "./flow-records.js";
import type { NetflowDecoder } from "./netflow/decoder.js";
import { DECODE_ERROR_REASONS } from "./netflow/errors.js";
import type { InterfaceCounterSample } from "./sflow/counters.js";
import { SflowDecoder } from "./sflow/decoder.js";
import { SFLOW_ERROR_REASONS } from "./sflow/errors.js";
import { openUdpSocket, type UdpSocket } from "./udp-socket.js";

export interface CollectorListenerOptions {
  /** Address to bind; "::" takes IPv4 and IPv6 (dual stack), "0.0.0.0" IPv4 only. */
  host: string;
  /** UDP ports for NetFlow v5/v9 and IPFIX (several: 2055, 4739). 0 picks a free one. */
  ports: number[];
  recvBufferBytes: number;
}

export const COLLECTOR_DEFAULTS = { host: "::", recvBufferBytes: 32 << 20 } as const;

export interface CollectorStats {
  datagrams: number;
  bytes: number;
  records: number;
  /** Datagrams that are neither NetFlow/IPFIX nor sFlow. */
  notFlowExport: number;
  /** sFlow v5 datagrams decoded. */
  sflowDatagrams: number;
  /** sFlow v5 datagrams seen without an sFlow decoder (always 0 since sFlow decoding landed). */
  sflowUndecoded: number;
  /** Interface counter records from sFlow counter samples. */
  sflowCounterRecords: number;
  /** sFlow datagrams lost on the way, by the agents' sequence numbers. */
  sflowDatagramsLost: number;
  /** sFlow decode errors and skipped parts by reason (sflow/errors.ts). */
  sflowErrors: Record<string, number>;
  /** NetFlow v9 datagrams lost on the way, by the exporters' sequence numbers. */
  netflowDatagramsLost: number;
  /** IPFIX data records lost on the way, by the exporters' sequence numbers. */
  ipfixRecordsLost: number;
  /** Datagrams the kernel dropped because our socket buffer was full. */
  socketDrops: number;
  decodeErrors: Record<string, number>;
  recvBufferBytes: number;
}

/** The local UDP ports' drop counters, from /proc/net/udp and /proc/net/udp6. */
export function kernelUdpDrops(ports: ReadonlySet<number>, files = ["/proc/net/udp", "/proc/net/udp6"]): number {
  let drops = 0;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      if (!local || cols.length < 13) continue;
      const port = Number.parseInt(local.slice(local.lastIndexOf(":") + 1), 16);
      if (ports.has(port)) drops += Number(cols[12]) || 0;
    }
  }
  return drops;
}

function isNetflow(p: Uint8Array): boolean {
  return p.length >= 4 && p[0] === 0 && (p[1] === 5 || p[1] === 9 || p[1] === 10);
}

function isSflow(p: Uint8Array): boolean {
  return p.length >= 8 && p[0] === 0 && p[1] === 0 && p[2] === 0 && p[3] === 5;
}

/** An IPv4-mapped IPv6 source (dual-stack socket) is the IPv4 exporter it stands for. */
function exporterAddress(addr: string): string {
  return addr.startsWith("::ffff:") && addr.includes(".") ? addr.slice(7) : addr;
}

/** Where the collector puts what is not a flow (the name is from when sFlow alone had any). */
export interface SflowSinks {
  decoder?: SflowDecoder;
  /** Interface counters of counter samples (LiveState.applyInterfaceCounters). */
  counters?: (samples: InterfaceCounterSample[]) => void;
  /**
   * Lost datagrams of an sFlow agent or NetFlow v9 exporter, by sequence numbers
   * (LiveState.applyExporterLoss).
   */
  loss?: (exporter: string, lost: number) => void;
  /** Lost data records of an IPFIX exporter, by sequence numbers (LiveState.applyExporterRecordLoss). */
  recordLoss?: (exporter: string, lost: number) => void;
}

export class CollectorListener {
  readonly name = "collector";
  private sockets: UdpSocket[] = [];
  private boundPorts = new Set<number>();
  private readonly counters = {
    datagrams: 0,
    bytes: 0,
    records: 0,
    notFlowExport: 0,
    sflowDatagrams: 0,
    sflowUndecoded: 0,
    sflowCounterRecords: 0,
  };
  private readonly sflowErrors: Record<string, number> = {};
  private readonly sflow: SflowDecoder;
  private readonly errors: Record<string, number> = Object.fromEntries(DECODE_ERROR_REASONS.map((r) => [r, 0]));
  private dropsAtStart = 0;
  private recvBuffer = 0;
  /** The records of the datagram being decoded, reused datagram after datagram. */
  private readonly records = new FlowRecords();
  /** The last datagram's source address and the exporter it stands for. */
  private lastFrom = "";
  private lastExporter = "";

  constructor(
    private readonly options: CollectorListenerOptions,
    private readonly decoder: NetflowDecoder,
    private readonly apply: CollectedSink,
    private readonly clock: () => number = Date.now,
    private readonly sflowSinks: SflowSinks = {},
  ) {
    this.sflow = sflowSinks.decoder ?? new SflowDecoder();
  }

  /** Binds every port; resolves with the bound ports (in the order given). */
  async start(): Promise<number[]> {
    const bound: number[] = [];
    for (const port of this.options.ports) {
      const socket = await openUdpSocket(
        this.options.host,
        port,
        this.options.recvBufferBytes,
        (msg, from) => this.receive(msg, from),
        () => {
          this.errors.socket = (this.errors.socket ?? 0) + 1;
        },
      );
      this.recvBuffer = socket.recvBufferBytes;
      bound.push(socket.port);
      this.boundPorts.add(socket.port);
      this.sockets.push(socket);
    }
    this.dropsAtStart = kernelUdpDrops(this.boundPorts);
    return bound;
  }

  /** One datagram from `from` (its source address, as the socket gives it). */
  receive(msg: Buffer, from: string): void {
    this.counters.datagrams++;
    this.counters.bytes += msg.length;
    if (from !== this.lastFrom) {
      this.lastFrom = from;
      this.lastExporter = exporterAddress(from);
    }
    const exporter = this.lastExporter;
    if (!isNetflow(msg)) {
      if (isSflow(msg)) this.onSflow(msg, exporter);
      else this.counters.notFlowExport++;
      return;
    }
    const records = this.records;
    const report = this.decoder.decodeInto(msg, exporter, this.clock(), records);
    const errors = report.errors;
    for (const reason in errors)
      this.errors[reason] = (this.errors[reason] ?? 0) + (errors[reason as keyof typeof errors] ?? 0);
    if (report.datagramsLost !== 0) this.sflowSinks.loss?.(exporter, report.datagramsLost);
    if (report.recordsLost !== 0) this.sflowSinks.recordLoss?.(exporter, report.recordsLost);
    this.handOff(exporter);
  }

  private onSflow(msg: Buffer, from: string): void {
    this.counters.sflowDatagrams++;
    const result = this.sflow.decodeInto(msg, from, this.clock(), this.records);
    for (const [reason, n] of Object.entries(result.errors))
      this.sflowErrors[reason] = (this.sflowErrors[reason] ?? 0) + (n ?? 0);
    if (result.lost !== 0) this.sflowSinks.loss?.(result.agent, result.lost);
    if (result.counters.length > 0) {
      this.counters.sflowCounterRecords += result.counters.length;
      this.sflowSinks.counters?.(result.counters);
    }
    this.handOff(result.agent);
  }

  /** Hands the datagram's records over, then lets them be reused. */
  private handOff(exporter: string): void {
    const records = this.records;
    const n = records.length;
    if (n === 0) return;
    this.counters.records += n;
    try {
      this.apply(records.records, n, exporter);
    } finally {
      records.clear();
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.sockets.map((s) => s.close()));
    this.sockets = [];
  }

  stats(): CollectorStats {
    const d = this.decoder.stats();
    return {
      ...this.counters,
      sflowDatagramsLost: this.sflow.stats().datagramsLost,
      netflowDatagramsLost: d.datagramsLost,
      ipfixRecordsLost: d.recordsLost,
      sflowErrors: { ...this.sflowErrors },
      socketDrops: this.sockets.length > 0 ? Math.max(0, kernelUdpDrops(this.boundPorts) - this.dropsAtStart) : 0,
      decodeErrors: this.decodeErrors(),
      recvBufferBytes: this.recvBuffer,
    };
  }

  /** Decode errors by reason, with the sockets' failed reads under "socket" when there are any. */
  private decodeErrors(): Record<string, number> {
    const out = { ...this.errors };
    const failed = this.sockets.reduce((n, s) => n + s.failures(), 0);
    if (failed > 0) out.socket = (out.socket ?? 0) + failed;
    return out;
  }

  metricRows(): Array<{ name: string; value: number; reason?: string }> {
    const s = this.stats();
    const d = this.decoder.stats();
    return [
      { name: "datagrams", value: s.datagrams },
      { name: "bytes", value: s.bytes },
      { name: "records", value: s.records },
      { name: "not_flow_export", value: s.notFlowExport },
      { name: "sflow_undecoded", value: s.sflowUndecoded },
      { name: "sflow_datagrams", value: s.sflowDatagrams },
      { name: "sflow_counter_records", value: s.sflowCounterRecords },
      { name: "sflow_datagrams_lost", value: s.sflowDatagramsLost },
      { name: "netflow_datagrams_lost", value: s.netflowDatagramsLost },
      { name: "ipfix_records_lost", value: s.ipfixRecordsLost },
      { name: "socket_drops", value: s.socketDrops },
      { name: "templates", value: d.templates },
      ...Object.entries(s.decodeErrors).map(([reason, value]) => ({ name: "decode_errors", reason, value })),
      // Unknown sample and record types are sFlow's extensibility at work, not errors.
      ...SFLOW_ERROR_REASONS.map((reason) => ({
        name: reason.startsWith("unknown_") ? "sflow_skipped" : "sflow_decode_errors",
        reason,
        value: s.sflowErrors[reason] ?? 0,
      })),
    ];
  }
}
