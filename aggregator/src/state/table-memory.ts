// Memory for the state's large tables, the ones ingest reads at random (two hosts per record
// among 100k): from the native addon, on transparent huge pages where the kernel grants them.
// With 4 KiB pages nearly every such read also misses the TLB, and on virtual machines a TLB
// miss walks two levels of page tables; a 2 MiB page covers 512 times as much.
import { nativeEngine } from "@flowlens/agent/engine";

/** Below this a table fits in a few pages anyway. */
const HUGE_MIN_BYTES = 4 << 20;

type Allocate = (bytes: number) => ArrayBuffer;

let allocate: Allocate | null = null;

function allocator(): Allocate {
  if (allocate === null) {
    try {
      const engine = nativeEngine();
      allocate = (bytes) => engine.hugeBuffer(bytes);
    } catch {
      // No addon (a build without native code): ordinary pages; only the speed differs.
      allocate = (bytes) => new ArrayBuffer(bytes);
    }
  }
  return allocate;
}

/** Zeroed memory of `bytes`, huge-page backed when large and possible. */
export function tableBuffer(bytes: number): ArrayBuffer {
  return bytes < HUGE_MIN_BYTES ? new ArrayBuffer(bytes) : allocator()(bytes);
}

/** The native lookups and counting of the host table (see agent/native/src/host_resolve.c). */
export interface NativeHosts {
  resolve(index: Int32Array, batch: Uint8Array, from: number, to: number, now: number): number;
  account(from: number, to: number, nodeSerial: number): number;
}

/** The memory the native lookups and counting share with JS, all of it owned by JS. */
export interface NativeHostsMemory {
  layout: Readonly<Record<string, number>>;
  table: ArrayBuffer;
  lruPrev: Int32Array;
  lruNext: Int32Array;
  ctl: Int32Array;
  addrs: Int32Array;
  apps: Int32Array;
  slots: Int32Array;
  nums: Float64Array;
  flags: Int32Array;
  cellCap: number;
  networks: Float64Array;
  talkBytes: Float64Array;
  talkIdx: Int32Array;
  touched: Int32Array;
  talkCtl: Int32Array;
}

export type HostResolverFactory = (memory: NativeHostsMemory) => NativeHosts;

let resolverFactory: HostResolverFactory | null | undefined;

/** The native host resolver's factory; null without the addon (the JS lookups do it all). */
export function hostResolverFactory(): HostResolverFactory | null {
  if (resolverFactory === undefined) {
    try {
      resolverFactory = nativeEngine().hostResolver;
    } catch {
      resolverFactory = null;
    }
  }
  return resolverFactory;
}
