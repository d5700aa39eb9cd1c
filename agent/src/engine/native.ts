// The native flow engine addon (agent/native), loaded once. Built by `make native`.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface EngineStats {
  packets: number;
  bytes: number;
  ipPackets: number;
  flowsCreated: number;
  flowsExported: number;
  flowsEvicted: number;
  sampledOut: number;
  elapsedMs: number;
  firstPacketUs: number;
  lastPacketUs: number;
  decodeErrors: Record<string, number>;
}

/** Flow table and export settings, the same for files and live capture. */
export interface TableOptions {
  bpf?: string;
  idleTimeoutMs?: number;
  activeTimeoutMs?: number;
  lingerMs?: number;
  /** Live: per process, split across workers. */
  maxFlows?: number;
  dpi?: boolean;
  sampling?: number;
  batchSize?: number;
}

export interface PcapOptions extends TableOptions {
  files: string[];
}

export interface LiveOptions extends TableOptions {
  interfaces: string[];
  /** Worker threads per interface (PACKET_FANOUT hash when more than one). */
  workers?: number;
  promisc?: boolean;
  blockSize?: number;
  blockCount?: number;
  blockTimeoutMs?: number;
  snaplen?: number;
}

export interface LiveWorkerStats {
  interface: string;
  worker: number;
  packets: number;
  bytes: number;
  ipPackets: number;
  flowsCreated: number;
  flowsExported: number;
  flowsEvicted: number;
  flowsActive: number;
  kernelPackets: number;
  kernelDrops: number;
  kernelFreezes: number;
  decodeErrors: Record<string, number>;
  error?: string;
}

export interface NativeLiveHandle {
  stop(): void;
  stats(): LiveWorkerStats[];
}

export interface FlowLayout {
  size: number;
  offsets: Record<string, number>;
}

export interface NativeEngine {
  readPcap(
    options: PcapOptions,
    onBatch: (buffer: ArrayBuffer, count: number) => void,
    onDone: (error: string | null, stats: EngineStats) => void,
  ): void;
  startLive(
    options: LiveOptions,
    onBatch: (buffer: ArrayBuffer, count: number) => void,
    onDone: (error: string | null, stats: LiveWorkerStats[]) => void,
  ): NativeLiveHandle;
  flowLayout: FlowLayout;
  riskNames: string[];
}

const here = dirname(fileURLToPath(import.meta.url));
export const nativePath = join(here, "../../native/build/Release/flowlens_native.node");

let loaded: NativeEngine | undefined;

/** The addon; throws with the build command when it has not been built. */
export function nativeEngine(): NativeEngine {
  if (loaded) return loaded;
  if (!existsSync(nativePath)) {
    throw new Error(`the native flow engine is not built (${nativePath} is missing): run \`make native\``);
  }
  loaded = createRequire(import.meta.url)(nativePath) as NativeEngine;
  return loaded;
}
