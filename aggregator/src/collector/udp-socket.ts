// The collector's UDP sockets. With the addon, a socket is read in batches (recvmmsg() into a
// reused arena, one JS call per batch: agent/native/src/udp_receiver.c); Node's dgram costs
// some 2.7 us of CPU per datagram (a buffer, an rinfo object and a call each), as much as
// decoding and counting a whole sFlow datagram. Without the addon, or for an address the
// native path does not parse, dgram does it. Either way each datagram is handed to onDatagram
// with its source address as dgram writes it; with the batched socket the bytes are a view of
// the arena, valid until onDatagram returns (decoders that keep bytes copy them).
import { createSocket, type Socket } from "node:dgram";
import { isIPv4, isIPv6 } from "node:net";
import { type NativeEngine, type NativeUdpReceiver, nativeEngine } from "@flowlens/agent/engine";
import { ipv4Text, ipv6Text } from "./address-text.js";

/** Slots per batch, and their size: the largest UDP payload fits (IPFIX allows 65535). */
const SLOTS = 64;
const SLOT_BYTES = 65536;
const SOURCE_BYTES = 20;

export type DatagramHandler = (msg: Buffer, from: string) => void;

export interface UdpSocket {
  readonly port: number;
  /** SO_RCVBUF as the kernel reports it. */
  readonly recvBufferBytes: number;
  /**
   * Reads that failed, and datagrams longer than a slot (none can be: a slot holds 65536
   * bytes), counted as socket errors.
   */
  failures(): number;
  close(): Promise<void>;
}

/** The 16 bytes of an IPv6 address text, or null (a zone, or not IPv6). */
export function ipv6Bytes(text: string): Uint8Array | null {
  if (!isIPv6(text) || text.includes("%")) return null;
  const out = new Uint8Array(16);
  let s = text;
  let tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const [a, b, c, d] = (v4[1] as string).split(".").map(Number) as [number, number, number, number];
    tail = [(a << 8) | b, (c << 8) | d];
    s = s.slice(0, s.length - (v4[1] as string).length);
    if (s.endsWith(":") && !s.endsWith("::")) s = s.slice(0, -1);
  }
  const [head = "", rest] = s.split("::");
  const groups = (part: string) => (part === "" ? [] : part.split(":").map((g) => Number.parseInt(g, 16)));
  const h = groups(head);
  const r = rest === undefined ? [] : groups(rest);
  const fill = 8 - h.length - r.length - tail.length;
  if (fill < 0 || (rest === undefined && fill !== 0)) return null;
  const words = [...h, ...new Array<number>(fill).fill(0), ...r, ...tail];
  for (let i = 0; i < 8; i++) {
    out[2 * i] = ((words[i] as number) >> 8) & 0xff;
    out[2 * i + 1] = (words[i] as number) & 0xff;
  }
  return out;
}

function addressBytes(host: string): { family: 4 | 6; address: Uint8Array } | null {
  if (isIPv4(host)) return { family: 4, address: Uint8Array.from(host.split(".").map(Number)) };
  const v6 = ipv6Bytes(host);
  return v6 === null ? null : { family: 6, address: v6 };
}

type ReceiverFactory = NativeEngine["udpReceiver"];

function nativeReceiverFactory(): ReceiverFactory | null {
  try {
    const e = nativeEngine();
    return typeof e.udpReceiver === "function" ? e.udpReceiver.bind(e) : null;
  } catch {
    return null;
  }
}

/** IPv6 text as dgram writes it: an IPv4-mapped address as ::ffff:a.b.c.d. */
function v6Text(b: Uint8Array, o: number): string {
  let mapped = b[o + 10] === 0xff && b[o + 11] === 0xff;
  for (let k = 0; mapped && k < 10; k++) mapped = b[o + k] === 0;
  return mapped ? `::ffff:${ipv4Text(b, o + 12)}` : ipv6Text(b, o);
}

/** Whether sockets can be read in batches here (the addon is built). */
export function batchedUdpAvailable(): boolean {
  return nativeReceiverFactory() !== null;
}

/** A socket read in batches by the addon. */
class BatchedUdpSocket implements UdpSocket {
  private readonly arena = Buffer.alloc(SLOTS * SLOT_BYTES);
  private readonly lens = new Int32Array(SLOTS);
  private readonly sources = new Uint8Array(SLOTS * SOURCE_BYTES);
  /** The last source's family and address bytes, and its text: exporters send runs. */
  private readonly lastSource = new Uint8Array(SOURCE_BYTES);
  private lastText = "";
  private truncatedCount = 0;
  private readonly receiver: NativeUdpReceiver;

  constructor(
    factory: ReceiverFactory,
    bind: { family: 4 | 6; address: Uint8Array },
    port: number,
    recvBufferBytes: number,
    private readonly onDatagram: DatagramHandler,
  ) {
    this.receiver = factory(
      {
        ...bind,
        port,
        recvBufferBytes,
        arena: this.arena,
        slotBytes: SLOT_BYTES,
        lens: this.lens,
        sources: this.sources,
      },
      (count) => this.batch(count),
    );
  }

  get port(): number {
    return this.receiver.port;
  }

  get recvBufferBytes(): number {
    return this.receiver.recvBufferBytes;
  }

  failures(): number {
    return this.truncatedCount + this.receiver.readErrors();
  }

  private batch(count: number): void {
    for (let i = 0; i < count; i++) {
      const len = this.lens[i] as number;
      if (len < 0) {
        this.truncatedCount++;
        continue;
      }
      const at = i * SLOT_BYTES;
      this.onDatagram(this.arena.subarray(at, at + len), this.source(i));
    }
  }

  /** Datagram i's source address text, as dgram's rinfo.address has it. */
  private source(i: number): string {
    const s = this.sources;
    const o = i * SOURCE_BYTES;
    const last = this.lastSource;
    const n = s[o] === 4 ? 8 : 20;
    let same = this.lastText !== "";
    for (let k = 4; same && k < n; k++) same = s[o + k] === last[k];
    if (same && s[o] === last[0]) return this.lastText;
    last.set(s.subarray(o, o + SOURCE_BYTES));
    this.lastText = s[o] === 4 ? ipv4Text(s, o + 4) : s[o] === 6 ? v6Text(s, o + 4) : "";
    return this.lastText;
  }

  async close(): Promise<void> {
    this.receiver.close();
  }
}

class DgramUdpSocket implements UdpSocket {
  constructor(private readonly socket: Socket) {}

  get port(): number {
    return this.socket.address().port;
  }

  get recvBufferBytes(): number {
    return this.socket.getRecvBufferSize();
  }

  failures(): number {
    return 0;
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}

async function openDgram(
  host: string,
  port: number,
  recvBufferBytes: number,
  onDatagram: DatagramHandler,
  onError: () => void,
): Promise<UdpSocket> {
  const socket = createSocket({
    type: host.includes(":") ? "udp6" : "udp4",
    ipv6Only: false,
    recvBufferSize: recvBufferBytes,
  });
  socket.on("message", (msg, rinfo) => onDatagram(msg, rinfo.address));
  // A socket error after bind (rare on UDP) is counted; the others keep running.
  socket.on("error", onError);
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(port, host, () => {
      socket.off("error", reject);
      resolve();
    });
  });
  return new DgramUdpSocket(socket);
}

/**
 * A UDP socket bound to host:port (0: a free port) with a receive buffer of recvBufferBytes,
 * every datagram handed to onDatagram; batched when the addon is there and `batched` allows.
 */
export async function openUdpSocket(
  host: string,
  port: number,
  recvBufferBytes: number,
  onDatagram: DatagramHandler,
  onError: () => void,
  batched = true,
): Promise<UdpSocket> {
  const factory = batched ? nativeReceiverFactory() : null;
  const bind = addressBytes(host);
  if (factory === null || bind === null) return openDgram(host, port, recvBufferBytes, onDatagram, onError);
  return new BatchedUdpSocket(factory, bind, port, recvBufferBytes, onDatagram);
}
