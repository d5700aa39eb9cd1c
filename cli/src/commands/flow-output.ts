// Where `flowlens collect` writes the flows it decodes: NDJSON (DESIGN.md's flow objects), a
// table, or length-delimited protobuf Flows (the collector's own encoding of each record, as
// flow.proto has it; `collect --read` prints such a file). Written straight to a file
// descriptor: a live collector writes as it receives, and a reader slower than the exporter
// holds the collector back until the socket's buffer overflows, which it counts as drops.
import { closeSync, openSync, writeSync } from "node:fs";
import { DelimitedFlowWriter } from "@flowlens/aggregator";
import { type FlowRecord, flowToRecord, pb } from "@flowlens/contracts";

export const FLOW_FORMATS = ["ndjson", "table", "protobuf"] as const;
export type FlowFormat = (typeof FLOW_FORMATS)[number];

export function isFlowFormat(v: unknown): v is FlowFormat {
  return typeof v === "string" && (FLOW_FORMATS as readonly string[]).includes(v);
}

/** Text gathered before a write. */
const TEXT_CHUNK = 1 << 16;

export function tableRow(r: FlowRecord): string {
  const ep = (a: string, p: number) => (a.includes(":") ? `[${a}]:${p}` : `${a}:${p}`);
  return [
    String(r.exporter ?? "").padEnd(16),
    String(r.exportVersion ?? "").padEnd(3),
    String(r.proto).padEnd(4),
    ep(r.srcAddr, r.srcPort).padEnd(46),
    ep(r.dstAddr, r.dstPort).padEnd(46),
    `${r.srcToDstPackets}`.padStart(10),
    `${r.srcToDstBytes}`.padStart(14),
    `${r.inIf ?? 0}>${r.outIf ?? 0}`.padEnd(12),
    r.samplingRate && r.samplingRate > 1 ? ` 1:${r.samplingRate}` : "",
  ].join(" ");
}

/** All of `data` to fd, waiting out a non-blocking descriptor's EAGAIN. */
function writeAll(fd: number, data: Uint8Array | string): void {
  let bytes = typeof data === "string" ? Buffer.from(data) : data;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (bytes.length > 0) {
    try {
      const n = writeSync(fd, bytes);
      bytes = bytes.subarray(n);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

export class FlowOutput {
  records = 0;
  private text = "";
  /** The reader is gone (EPIPE): the first write that found out threw, later ones write nothing. */
  private gone = false;
  private readonly delimited: DelimitedFlowWriter | null;

  private constructor(
    private readonly fd: number,
    private readonly format: FlowFormat,
    private readonly owned: boolean,
  ) {
    this.delimited = format === "protobuf" ? new DelimitedFlowWriter((chunk) => this.write(chunk)) : null;
  }

  /** Whether records go out as their protobuf encoding. */
  get binary(): boolean {
    return this.delimited !== null;
  }

  /** To `path` (created or truncated), or to stdout without one. */
  static open(path: string | undefined, format: FlowFormat): FlowOutput {
    if (path === undefined || path === "" || path === "-") return new FlowOutput(1, format, false);
    return new FlowOutput(openSync(path, "w"), format, true);
  }

  /** A record by its encoding, bytes [start, end) of buf. */
  encoded(buf: Uint8Array, start: number, end: number): void {
    this.records++;
    if (this.delimited !== null) this.delimited.add(buf, start, end);
    else this.addText(pb.Flow.decode(buf.subarray(start, end)));
  }

  message(f: pb.Flow): void {
    this.records++;
    if (this.delimited !== null) {
      const bytes = pb.Flow.encode(f).finish();
      this.delimited.add(bytes, 0, bytes.length);
    } else this.addText(f);
  }

  private addText(f: pb.Flow): void {
    const r = flowToRecord(f);
    this.text += this.format === "ndjson" ? `${JSON.stringify(r)}\n` : `${tableRow(r)}\n`;
    if (this.text.length >= TEXT_CHUNK) this.flush();
  }

  flush(): void {
    this.delimited?.flush();
    if (this.text.length > 0) {
      const t = this.text;
      this.text = "";
      this.write(t);
    }
  }

  private write(data: Uint8Array | string): void {
    if (this.gone) return;
    try {
      writeAll(this.fd, data);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EPIPE") this.gone = true;
      throw err;
    }
  }

  close(): void {
    try {
      this.flush();
    } finally {
      if (this.owned) closeSync(this.fd);
    }
  }
}
