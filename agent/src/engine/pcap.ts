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
 */
export function readPcap(options: PcapOptions, onFlows: (flows: EngineFlow[]) => void): Promise<PcapResult> {
  const native = nativeEngine();
  const decoder = new BatchDecoder(native.flowLayout, native.riskNames);
  return new Promise((resolve, reject) => {
    try {
      native.readPcap(
        options,
        (buffer, count) => onFlows(decoder.decode(buffer, count)),
        (error, stats) => resolve(error ? { stats, error } : { stats }),
      );
    } catch (err) {
      const e = err as Error & { code?: string };
      reject(e.code === "BAD_CAPTURE" ? new CaptureError(e.message) : e);
    }
  });
}
