// sFlow v5 datagram builder for tests (XDR: big-endian 32-bit words, opaque data padded to 4).

export class Xdr {
  private readonly parts: number[] = [];

  u32(...vs: number[]): this {
    for (const v of vs) this.parts.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
    return this;
  }

  u64(v: number): this {
    return this.u32(Math.floor(v / 4294967296), v >>> 0);
  }

  bytes(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.parts.push(b[i] as number);
    while (this.parts.length % 4 !== 0) this.parts.push(0);
    return this;
  }

  /** A (format, length, body) structure, as samples and records are framed. */
  framed(format: number, body: Uint8Array): this {
    return this.u32(format, body.length).bytes(body);
  }

  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export function ipv4(a: string): number[] {
  return a.split(".").map(Number);
}

/** A datagram from IPv4 agent `agent` with these samples (each already framed). */
export function datagram(agent: string, subAgent: number, sequence: number, samples: Uint8Array[]): Uint8Array {
  const x = new Xdr().u32(5, 1).bytes(ipv4(agent)).u32(subAgent, sequence, 123_456, samples.length);
  for (const s of samples) x.bytes(s);
  return x.done();
}

/** Ethernet + IPv4 + TCP header of a packet whose IP total length is `ipLen`. */
export function tcpFrame(src: string, dst: string, sport: number, dport: number, ipLen: number, vlan = 0): Uint8Array {
  const eth = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const tag = vlan ? [0x81, 0x00, (vlan >> 8) & 0x0f, vlan & 0xff] : [];
  const ip = [0x45, 0, ipLen >> 8, ipLen & 0xff, 0, 1, 0x40, 0, 64, 6, 0, 0, ...ipv4(src), ...ipv4(dst)];
  const tcp = [
    sport >> 8,
    sport & 0xff,
    dport >> 8,
    dport & 0xff,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0x50,
    0x12,
    0xff,
    0xff,
    0,
    0,
    0,
    0,
  ];
  return Uint8Array.from([...eth, ...tag, 0x08, 0x00, ...ip, ...tcp]);
}

/** Raw packet header record (0:1) of an Ethernet frame. */
export function rawHeaderRecord(frame: Uint8Array, frameLength: number, protocol = 1): Uint8Array {
  const body = new Xdr().u32(protocol, frameLength, 4, frame.length).bytes(frame).done();
  return new Xdr().framed(1, body).done();
}

/** Compact flow sample (0:1) with these records (each already framed). */
export function flowSample(
  o: { seq?: number; sourceId?: number; rate: number; input: number; output: number; drops?: number },
  records: Uint8Array[],
): Uint8Array {
  const x = new Xdr().u32(o.seq ?? 1, o.sourceId ?? 3, o.rate, 1000, o.drops ?? 0, o.input, o.output, records.length);
  for (const r of records) x.bytes(r);
  return new Xdr().framed(1, x.done()).done();
}

/** Generic interface counters record (0:1). */
export function genericCounters(c: {
  ifIndex: number;
  speed: number;
  inOctets: number;
  outOctets: number;
  inUcast: number;
  outUcast: number;
  inErrors?: number;
  outDiscards?: number;
  up?: boolean;
}): Uint8Array {
  const body = new Xdr()
    .u32(c.ifIndex, 6)
    .u64(c.speed)
    .u32(1, c.up === false ? 1 : 3)
    .u64(c.inOctets)
    .u32(c.inUcast, 10, 5, 0, c.inErrors ?? 0, 0)
    .u64(c.outOctets)
    .u32(c.outUcast, 2, 1, c.outDiscards ?? 0, 0, 0)
    .done();
  return new Xdr().framed(1, body).done();
}

/** Expanded counter sample (0:4) with these records. */
export function expandedCounterSample(ifIndex: number, records: Uint8Array[]): Uint8Array {
  const x = new Xdr().u32(7, 0, ifIndex, records.length);
  for (const r of records) x.bytes(r);
  return new Xdr().framed(4, x.done()).done();
}
