// Live capture through the native engine: AF_PACKET rings on worker threads, flows in batches.
import { type LiveOptions, type LiveWorkerStats, nativeEngine } from "./native.js";
import { BatchDecoder, type EngineFlow } from "./records.js";

export class CaptureOpenError extends Error {
  readonly code = "CAPTURE_OPEN";
}

export interface LiveCapture {
  /** Per worker: packets, kernel ring drops, flows, decode errors. */
  stats(): LiveWorkerStats[];
  /** Stops capturing, exports every open flow, resolves with the final stats. */
  stop(): Promise<LiveWorkerStats[]>;
  /** Resolves when capture ends (stop() or a worker failure). */
  readonly done: Promise<{ error?: string; stats: LiveWorkerStats[] }>;
}

export function startLive(options: LiveOptions, onFlows: (flows: EngineFlow[]) => void): LiveCapture {
  const native = nativeEngine();
  const decoder = new BatchDecoder(native.flowLayout, native.riskNames);
  let finish: (r: { error?: string; stats: LiveWorkerStats[] }) => void = () => {};
  const done = new Promise<{ error?: string; stats: LiveWorkerStats[] }>((resolve) => (finish = resolve));
  let handle: ReturnType<typeof native.startLive>;
  try {
    handle = native.startLive(
      options,
      (buffer, count) => onFlows(decoder.decode(buffer, count)),
      (error, stats) => finish(error ? { error, stats } : { stats }),
    );
  } catch (err) {
    const e = err as Error & { code?: string };
    throw e.code === "CAPTURE_OPEN" ? new CaptureOpenError(e.message) : e;
  }
  return {
    stats: () => handle.stats(),
    done,
    async stop() {
      handle.stop();
      return (await done).stats;
    },
  };
}
