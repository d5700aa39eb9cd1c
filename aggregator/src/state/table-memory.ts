// Memory for the state's large tables, the ones ingest reads at random (two hosts per record
// among 100k): from the native addon, on transparent huge pages where the kernel grants them.
// With 4 KiB pages nearly every such read also misses the TLB, and on virtual machines a TLB
// miss walks two levels of page tables; a 2 MiB page covers 512 times as much.
import { type NativeEngine, nativeEngine } from "@flowlens/agent/engine";

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
export type HostResolverFactory = NativeEngine["hostResolver"];
/** The memory the native lookups and counting share with JS, all of it owned by JS. */
export type NativeHostsMemory = Parameters<HostResolverFactory>[0];
export type NativeHosts = ReturnType<HostResolverFactory>;

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
