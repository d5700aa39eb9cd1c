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
  /** CPU time of the reader thread. */
  cpuMs: number;
  firstPacketUs: number;
  lastPacketUs: number;
  decodeErrors: Record<string, number>;
  /** NDJSON output to a file descriptor failed (code as errno names it, e.g. EPIPE); reading stopped. */
  outputError?: { code: string; message: string };
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
  /** Bytes of a record's fixed part; its `size` field says where the next record starts. */
  fixedSize: number;
  offsets: Record<string, number>;
  /** The strings after the fixed part, in order (lengths at `strLen`). */
  strings: string[];
}

/** Where decodeHeaders() puts each field of a decoded header (little-endian, `size` bytes each). */
export interface HeaderLayout {
  size: number;
  offsets: Record<
    | "src"
    | "dst"
    | "ipLen"
    | "l2Len"
    | "sport"
    | "dport"
    | "vlan"
    | "result"
    | "ipVersion"
    | "proto"
    | "tcpFlags"
    | "tunnel"
    | "hasL4"
    | "isFragment",
    number
  >;
  /** Name of each decode result (index 0 is "ok"), as the probe counts its decode errors. */
  results: string[];
}

export interface NativeEngine {
  /** The batch buffer is only valid during onBatch (it is detached and reused after). */
  readPcap(
    options: PcapOptions & { output?: "records" },
    onBatch: (buffer: ArrayBuffer, count: number) => void,
    onDone: (error: string | null, stats: EngineStats) => void,
  ): void;
  /** NDJSON lines as `flowlens pcap` prints them, formatted natively; JS may keep the Buffer. */
  readPcap(
    options: PcapOptions & { output: "ndjson"; fd?: undefined },
    onBatch: (ndjson: Buffer, count: number) => void,
    onDone: (error: string | null, stats: EngineStats) => void,
  ): void;
  /** NDJSON lines written to `fd` by the engine (from the JS thread); onBatch only counts. */
  readPcap(
    options: PcapOptions & { output: "ndjson"; fd: number },
    onBatch: (written: null, count: number) => void,
    onDone: (error: string | null, stats: EngineStats) => void,
  ): void;
  /** The NDJSON of `count` records in a batch buffer (what output "ndjson" would have given). */
  formatNdjson(buffer: ArrayBuffer, count: number): Buffer;
  /** The batch buffer is only valid during onBatch (it is detached and reused after). */
  startLive(
    options: LiveOptions,
    onBatch: (buffer: ArrayBuffer, count: number) => void,
    onDone: (error: string | null, stats: LiveWorkerStats[]) => void,
  ): NativeLiveHandle;
  /**
   * Sampled packet headers (sFlow) through the probe's packet decoder: jobs holds `count` triples
   * (offset into data, length, DLT link type), record i of `out` (headerLayout.size bytes)
   * receives header i's fields. Returns how many decoded to "ok". Allocates nothing.
   */
  decodeHeaders(data: Uint8Array, jobs: Uint32Array, count: number, out: Uint8Array): number;
  headerLayout: HeaderLayout;
  /**
   * Zeroed memory for a large table read at random, 2 MiB aligned and advised to transparent
   * huge pages (fewer TLB misses); unmapped when the ArrayBuffer is collected.
   */
  hugeBuffer(bytes: number): ArrayBuffer;
  /**
   * The aggregator host table's lookups and counting for a group of records, in C with
   * read-ahead: resolve(index, batch, from, to, now) looks up and marks seen the hosts of group
   * records [from, to) in order, writing their slots; account(from, to, node) counts them in
   * their hosts; each returns where it stopped, the first record only JS can do (see
   * agent/native/src/host_resolve.c). The arrays are the table's own, shared, never copied.
   */
  hostResolver(memory: {
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
    keyRanges: Int32Array;
    /** Per record: src port, dst port, protocol, VLAN (for keys hashed from the 5-tuple). */
    keyTuples: Float64Array;
    keyHashes: Float64Array;
  }): {
    resolve(index: Int32Array, batch: Uint8Array, from: number, to: number, now: number): number;
    /** Counts group records [from, to) in their hosts; returns where it stopped. */
    account(from: number, to: number, nodeSerial: number): number;
  };
  /**
   * The aggregator's FlowBatch decoding (agent/native/src/flow_batch.c): the records of `batch`
   * into nums (flowBatchLayout.nums doubles each) and offs (flowBatchLayout.offs int32s each),
   * the batch's own fields into head. Returns the record count, flowBatchLayout.tooMany when the
   * arrays hold fewer, or flowBatchLayout.giveUp when only the JS decoder can tell what it is.
   */
  decodeFlowBatch(batch: Uint8Array, nums: Float64Array, offs: Int32Array, head: Int32Array): number;
  flowBatchLayout: Readonly<Record<string, number>>;
  /**
   * Many small copies in one call: for each of `count` triples (from, length, to) in jobs,
   * src[from, from+length) to dst[to, to+length). Stops at a triple that does not fit either
   * array; returns how many copies it made.
   */
  copyRanges(src: Uint8Array, dst: Uint8Array, jobs: Int32Array, count: number): number;
  /**
   * The collector's records as pb.Flow encodings (agent/native/src/flow_encode.c): `count`
   * records, described by nums, meta (their addresses in src, their strings in strings) and
   * collectedLayout, written at out[pos..]; where each one is goes into report. Returns the end,
   * or -1 when a string is outside `strings` or out has no room (an address outside src is
   * written as the unspecified one).
   */
  encodeCollected(
    out: Uint8Array,
    pos: number,
    src: Uint8Array,
    strings: Uint8Array,
    nums: Float64Array,
    meta: Int32Array,
    count: number,
    report: Int32Array,
  ): number;
  /**
   * The NetFlow v9/IPFIX records of a data set decoded in C (collector_decode.c): msg[start, end)
   * as records of recLen bytes whose nfields (kind, length) pairs are in plan, turned into flows'
   * numbers and places (collectedLayout's nums and meta) from row `row` on, at most maxRows;
   * out gets where it stopped and the records that were no flow. Returns the rows written, -1
   * for a plan it does not read.
   */
  decodeSet?(
    msg: Uint8Array,
    start: number,
    end: number,
    plan: Int32Array,
    nfields: number,
    recLen: number,
    ctx: Float64Array,
    nums: Float64Array,
    meta: Int32Array,
    oneWay: Uint8Array,
    row: number,
    maxRows: number,
    out: Int32Array,
  ): number;
  /** Whether decodeSet reads a field of this kind and length. */
  decodeKindOk?(kind: number, len: number): boolean;
  /** decodeSet's kind numbers and context indexes, checked against the aggregator's at load. */
  collectorKinds?: {
    kinds: Readonly<Record<string, number>>;
    ctx: Readonly<Record<string, number>>;
    ctxFields: number;
    maxRate: number;
  };
  collectedLayout: {
    nums: Readonly<Record<string, number>>;
    meta: Readonly<Record<string, number>>;
    report: Readonly<Record<string, number>>;
    fixedMax: number;
    /**
     * The cidLen that asks encodeCollected to compute the record's Community ID from its tuple
     * (ports packed in cid as sport << 16 | dport) and set cidLen to its length; absent in an
     * addon that cannot.
     */
    cidFromTuple?: number;
  };
  flowLayout: FlowLayout;
  riskNames: string[];
  /**
   * A UDP socket bound to address:port, read on the event loop with recvmmsg() into `arena`
   * (agent/native/src/udp_receiver.c): onBatch(count) per read, datagram i at
   * arena[i * slotBytes, + lens[i]) (lens[i] -1: longer than a slot), its source in
   * sources[i * 20, + 20) (family 4|6, port big-endian at 1, address from 4). The arrays are
   * overwritten by the next batch. Throws (code EADDRINUSE among others) when it cannot bind.
   */
  udpReceiver(options: UdpReceiverOptions, onBatch: (count: number) => void): NativeUdpReceiver;
}

export interface UdpReceiverOptions {
  family: 4 | 6;
  /** 4 or 16 bytes. */
  address: Uint8Array;
  port: number;
  /** SO_RCVBUF asked for (0: the system's default). */
  recvBufferBytes: number;
  arena: Uint8Array;
  slotBytes: number;
  /** One per slot (at most 1024). */
  lens: Int32Array;
  /** 20 bytes per slot. */
  sources: Uint8Array;
}

export interface NativeUdpReceiver {
  /** The bound port (the one picked when 0 was asked). */
  readonly port: number;
  /** SO_RCVBUF as the kernel reports it (twice what it keeps for data). */
  readonly recvBufferBytes: number;
  /** Reads that failed with anything but "nothing to read". */
  readErrors(): number;
  close(): void;
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
