// Where the agent's flows come from: live AF_PACKET capture (the daemon), or a capture file
// replayed (the `flowlens up --pcap` demo and tests). Both report the same per-interface stats.
import type { FlowRecord } from "@flowlens/contracts";
import { startLive } from "../engine/live.js";
import type { LiveWorkerStats, TableOptions } from "../engine/native.js";
import { readPcap } from "../engine/pcap.js";

export interface SourceStats {
  interface: string;
  packets: number;
  bytes: number;
  kernelPackets: number;
  kernelDrops: number;
  kernelFreezes: number;
  flowsActive: number;
  flowsExported: number;
  flowsEvicted: number;
  decodeErrors: Record<string, number>;
}

export interface FlowSource {
  readonly description: string;
  stats(): SourceStats[];
  /** Stops and delivers every open flow before resolving. */
  stop(): Promise<void>;
  /** Settles when the source ends on its own (a failed interface, a replay without loop). */
  readonly done: Promise<{ error?: string }>;
}

/** Sums worker stats per interface: the kernel splits one interface across fanout workers. */
export function statsByInterface(workers: readonly LiveWorkerStats[]): SourceStats[] {
  const by = new Map<string, SourceStats>();
  for (const w of workers) {
    let s = by.get(w.interface);
    if (!s) {
      s = {
        interface: w.interface,
        packets: 0,
        bytes: 0,
        kernelPackets: 0,
        kernelDrops: 0,
        kernelFreezes: 0,
        flowsActive: 0,
        flowsExported: 0,
        flowsEvicted: 0,
        decodeErrors: {},
      };
      by.set(w.interface, s);
    }
    s.packets += w.packets;
    s.bytes += w.bytes;
    s.kernelPackets += w.kernelPackets;
    s.kernelDrops += w.kernelDrops;
    s.kernelFreezes += w.kernelFreezes;
    s.flowsActive += w.flowsActive;
    s.flowsExported += w.flowsExported;
    s.flowsEvicted += w.flowsEvicted;
    for (const [k, v] of Object.entries(w.decodeErrors)) s.decodeErrors[k] = (s.decodeErrors[k] ?? 0) + v;
  }
  return [...by.values()];
}

export interface LiveSourceOptions extends TableOptions {
  interfaces: string[];
  workers: number;
  promisc: boolean;
  blockSize: number;
  blockCount: number;
}

export function liveSource(options: LiveSourceOptions, onFlows: (flows: FlowRecord[]) => void): FlowSource {
  const capture = startLive(options, onFlows);
  return {
    description: `live capture on ${options.interfaces.join(", ")}`,
    stats: () => statsByInterface(capture.stats()),
    async stop() {
      await capture.stop();
    },
    done: capture.done.then((r) => (r.error ? { error: r.error } : {})),
  };
}

export interface ReplayOptions extends TableOptions {
  file: string;
  loop: boolean;
  /** Pause between loops, so a short capture does not turn into a flood. */
  loopPauseMs: number;
}

/** Replays a capture (once, or forever with a pause between rounds). */
export function replaySource(options: ReplayOptions, onFlows: (flows: FlowRecord[]) => void): FlowSource {
  const { file, loop, loopPauseMs, ...table } = options;
  const total: SourceStats = {
    interface: `pcap:${file}`,
    packets: 0,
    bytes: 0,
    kernelPackets: 0,
    kernelDrops: 0,
    kernelFreezes: 0,
    flowsActive: 0,
    flowsExported: 0,
    flowsEvicted: 0,
    decodeErrors: {},
  };
  let stopping = false;
  let wake: (() => void) | undefined;
  const run = async (): Promise<{ error?: string }> => {
    do {
      const { stats, error } = await readPcap({ ...table, files: [file] }, onFlows);
      total.packets += stats.packets;
      total.bytes += stats.bytes;
      total.flowsExported += stats.flowsExported;
      total.flowsEvicted += stats.flowsEvicted;
      for (const [k, v] of Object.entries(stats.decodeErrors)) total.decodeErrors[k] = (total.decodeErrors[k] ?? 0) + v;
      if (error) return { error };
      if (!loop || stopping) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, loopPauseMs).unref();
      });
    } while (!stopping);
    return {};
  };
  const done = run();
  return {
    description: `replay of ${file}${loop ? " (loop)" : ""}`,
    stats: () => [{ ...total, decodeErrors: { ...total.decodeErrors } }],
    async stop() {
      stopping = true;
      wake?.();
      await done.catch(() => undefined);
    },
    done,
  };
}
