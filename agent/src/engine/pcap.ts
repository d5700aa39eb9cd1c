// Offline flows from capture files through the native engine.

import { type EngineStats, nativeEngine, type PcapOptions } from "./native.js";
import { BatchDecoder, type EngineFlow } from "./records.js";

export class CaptureError extends Error {
  readonly code = "BAD_CAPTURE";
}

export interface PcapResult {
  stats: EngineStats;
  /** Set when a file was truncated or corrupt part-way; flows before that were delivered. */
  error?: string;
}

/**
 * Reads capture files as one stream of packets and calls `onFlows` with each batch of finished
 * flows. Rejects with CaptureError (before any flow) for a missing or unreadable file or a bad
 * BPF filter.
 *
 * With `output: "ndjson"`, each batch arrives instead as the NDJSON lines `flowlens pcap` prints
 * for it (one JSON.stringify'd record per flow, `tunnel` last when there is one), formatted by
 * the engine without making a JS object per flow; with an `fd` as well, the engine writes them
 * there itself and the callback only counts them (a write error ends reading and is
 * `stats.outputError`).
 */
export function readPcap(
  options: PcapOptions & { output: "ndjson"; fd?: undefined },
  onText: (ndjson: Buffer, count: number) => void,
): Promise<PcapResult>;
export function readPcap(
  options: PcapOptions & { output: "ndjson"; fd: number },
  onWritten: (count: number) => void,
): Promise<PcapResult>;
export function readPcap(
  options: PcapOptions & { output?: "records" },
  onFlows: (flows: EngineFlow[]) => void,
): Promise<PcapResult>;
export function readPcap(
  options: PcapOptions & { output?: "records" | "ndjson"; fd?: number },
  onBatch: ((flows: EngineFlow[]) => void) | ((ndjson: Buffer, count: number) => void) | ((count: number) => void),
): Promise<PcapResult> {
  const native = nativeEngine();
  return new Promise((resolve, reject) => {
    const onDone = (error: string | null, stats: EngineStats) => resolve(error ? { stats, error } : { stats });
    try {
      if (options.output === "ndjson" && options.fd !== undefined) {
        const onWritten = onBatch as (count: number) => void;
        native.readPcap({ ...options, output: "ndjson", fd: options.fd }, (_, count) => onWritten(count), onDone);
      } else if (options.output === "ndjson") {
        const { fd: _fd, ...rest } = options;
        native.readPcap({ ...rest, output: "ndjson" }, onBatch as (ndjson: Buffer, count: number) => void, onDone);
      } else {
        const decoder = new BatchDecoder(native.flowLayout, native.riskNames);
        const onFlows = onBatch as (flows: EngineFlow[]) => void;
        native.readPcap(
          { ...options, output: "records" },
          (buffer, count) => onFlows(decoder.decode(buffer, count)),
          onDone,
        );
      }
    } catch (err) {
      const e = err as Error & { code?: string };
      reject(e.code === "BAD_CAPTURE" ? new CaptureError(e.message) : e);
    }
  });
}
