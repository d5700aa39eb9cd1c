// Flows as a stream of length-delimited protobuf Flow messages: each one a varint of its length,
// then the message (protobuf's writeDelimited framing, as goflow2's binary output has it). It is
// what `flowlens collect --listen --format protobuf` writes and `flowlens collect --read` reads
// back: the collector's own encoding of each record goes out as it is, so writing a record costs
// a copy, as nfcapd's records cost it. Any protobuf library reads the messages with flow.proto.
import { pb } from "@flowlens/contracts";

/** Largest message a stream may hold: a Flow takes a few hundred bytes; more is not a Flow stream. */
export const MAX_STREAM_MESSAGE = 1 << 20;

export class FlowStreamError extends Error {}

/**
 * Collects records' encodings, framed, into chunks of `chunkBytes` that go to `sink` when full
 * (and on flush()). The chunk is reused: the sink must be done with it when it returns.
 */
export class DelimitedFlowWriter {
  private readonly chunk: Uint8Array;
  private length = 0;
  records = 0;
  bytes = 0;

  constructor(
    private readonly sink: (chunk: Uint8Array) => void,
    chunkBytes = 1 << 20,
  ) {
    this.chunk = new Uint8Array(chunkBytes);
  }

  /** One message: the bytes [start, end) of buf. */
  add(buf: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (n > MAX_STREAM_MESSAGE) throw new FlowStreamError(`flow stream: a message of ${n} bytes is over the limit`);
    if (this.length + n + 5 > this.chunk.length) {
      this.flush();
      if (n + 5 > this.chunk.length) {
        // Larger than a chunk (never for a Flow): framed on its own.
        const head = new Uint8Array(5);
        this.sink(head.subarray(0, writeVarint(head, 0, n)));
        this.sink(buf.subarray(start, end));
        this.records++;
        this.bytes += n;
        return;
      }
    }
    const c = this.chunk;
    let p = writeVarint(c, this.length, n);
    // subarray views cost an object each; a short loop copies a small record as fast.
    if (n < 64) for (let i = start; i < end; i++) c[p++] = buf[i] as number;
    else {
      c.set(buf.subarray(start, end), p);
      p += n;
    }
    this.length = p;
    this.records++;
    this.bytes += n;
  }

  flush(): void {
    if (this.length === 0) return;
    const n = this.length;
    this.length = 0;
    this.sink(this.chunk.subarray(0, n));
  }
}

function writeVarint(b: Uint8Array, p: number, v: number): number {
  while (v > 0x7f) {
    b[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  b[p++] = v;
  return p;
}

/**
 * The messages of a stream, in order, as [start, end) ranges of `bytes`; throws FlowStreamError,
 * with the offset, at a length that is malformed, too large or runs past the end.
 */
export function* delimitedRanges(bytes: Uint8Array): Generator<[number, number]> {
  let p = 0;
  while (p < bytes.length) {
    const at = p;
    let n = 0;
    let shift = 0;
    for (;;) {
      if (p >= bytes.length) throw new FlowStreamError(`flow stream: length cut short at byte ${at}`);
      const b = bytes[p++] as number;
      if (shift === 28 && b > 0x0f) throw new FlowStreamError(`flow stream: bad length at byte ${at}`);
      n += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
      shift += 7;
    }
    if (n > MAX_STREAM_MESSAGE) throw new FlowStreamError(`flow stream: a message of ${n} bytes at byte ${at}`);
    if (p + n > bytes.length) {
      throw new FlowStreamError(
        `flow stream: the message at byte ${at} needs ${n} bytes, ${bytes.length - p} are left`,
      );
    }
    yield [p, p + n];
    p += n;
  }
}

/** The Flows of a stream, decoded; errors as delimitedRanges, or a message that is not a Flow. */
export function* readDelimitedFlows(bytes: Uint8Array): Generator<pb.Flow> {
  for (const [start, end] of delimitedRanges(bytes)) {
    try {
      yield pb.Flow.decode(bytes.subarray(start, end));
    } catch (err) {
      throw new FlowStreamError(`flow stream: the message at byte ${start} is not a Flow: ${(err as Error).message}`);
    }
  }
}
