// Sampled packet headers through the probe's packet decoder (agent/native decode.c, the same
// code that turns captured packets into flows), a datagram's worth per native call. The
// results land in one preallocated buffer read at the offsets the addon publishes: nothing is
// allocated per sample.
import { type HeaderLayout, nativeEngine } from "@flowlens/agent/engine";

// sFlow header_protocol values (sFlow v5, "sampled_header") -> the libpcap link type decode.c reads.
const LINK_ETHERNET = 1;
const LINK_PPP = 9;
const LINK_IPV4 = 228;
const LINK_IPV6 = 229;

/** The DLT link type of an sFlow header protocol, or -1 when the packet decoder has none. */
export function linkTypeOf(headerProtocol: number): number {
  switch (headerProtocol) {
    case 1: // ETHERNET-ISO88023
      return LINK_ETHERNET;
    case 10: // PPP
      return LINK_PPP;
    case 11: // IPv4
      return LINK_IPV4;
    case 12: // IPv6
      return LINK_IPV6;
    default:
      return -1;
  }
}

type Engine = ReturnType<typeof nativeEngine>;

let engine: Engine | null | undefined;
let loadError = "";

/** The addon, or null (with the reason in headerDecoderError()) when it is not built. */
function loadEngine(): Engine | null {
  if (engine !== undefined) return engine;
  try {
    engine = nativeEngine();
    if (typeof engine.decodeHeaders !== "function" || !engine.headerLayout) {
      loadError = "the native addon has no decodeHeaders(): rebuild it (make native)";
      engine = null;
    }
  } catch (e) {
    loadError = e instanceof Error ? e.message : String(e);
    engine = null;
  }
  return engine;
}

/** Why raw headers cannot be decoded here, or "" when they can. */
export function headerDecoderError(): string {
  loadEngine();
  return loadError;
}

/** Up to `capacity` headers of one datagram, queued, decoded in one call, then read back. */
export class HeaderBatch {
  readonly available: boolean;
  count = 0;
  private readonly jobs: Uint32Array;
  private readonly out: Uint8Array;
  private readonly view: DataView;
  private readonly size: number;
  private readonly decodeFn: Engine["decodeHeaders"] | null;
  /** Field offsets, copied out of the layout object once. */
  readonly oSrc: number;
  readonly oDst: number;
  private readonly oIpLen: number;
  private readonly oSport: number;
  private readonly oDport: number;
  private readonly oVlan: number;
  private readonly oResult: number;
  private readonly oIpVersion: number;
  private readonly oProto: number;
  private readonly oTcpFlags: number;
  /** Decode result names (index 0 "ok"), as the probe counts its decode errors. */
  readonly resultNames: readonly string[];

  constructor(readonly capacity: number) {
    const e = loadEngine();
    const layout: HeaderLayout = e?.headerLayout ?? { size: 0, offsets: {} as HeaderLayout["offsets"], results: [] };
    this.available = e !== null;
    this.decodeFn = e ? e.decodeHeaders.bind(e) : null;
    this.size = layout.size;
    this.jobs = new Uint32Array(capacity * 3);
    this.out = new Uint8Array(Math.max(1, capacity * layout.size));
    this.view = new DataView(this.out.buffer);
    const o = layout.offsets;
    this.oSrc = o.src;
    this.oDst = o.dst;
    this.oIpLen = o.ipLen;
    this.oSport = o.sport;
    this.oDport = o.dport;
    this.oVlan = o.vlan;
    this.oResult = o.result;
    this.oIpVersion = o.ipVersion;
    this.oProto = o.proto;
    this.oTcpFlags = o.tcpFlags;
    this.resultNames = layout.results;
  }

  get full(): boolean {
    return this.count >= this.capacity;
  }

  /** Queues data[offset, offset+length) as a packet of `linkType`; returns its slot. */
  add(offset: number, length: number, linkType: number): number {
    const i = this.count++;
    this.jobs[3 * i] = offset;
    this.jobs[3 * i + 1] = length;
    this.jobs[3 * i + 2] = linkType;
    return i;
  }

  /** Decodes every queued header out of `data` (the datagram the offsets point into). */
  run(data: Uint8Array): void {
    if (this.count > 0 && this.decodeFn !== null) this.decodeFn(data, this.jobs, this.count, this.out);
  }

  reset(): void {
    this.count = 0;
  }

  /** The buffer holding the decoded addresses (at base(i) + oSrc / oDst), for formatting. */
  get bytes(): Uint8Array {
    return this.out;
  }

  base(i: number): number {
    return i * this.size;
  }

  result(i: number): number {
    return this.out[i * this.size + this.oResult] as number;
  }
  ipVersion(i: number): number {
    return this.out[i * this.size + this.oIpVersion] as number;
  }
  proto(i: number): number {
    return this.out[i * this.size + this.oProto] as number;
  }
  tcpFlags(i: number): number {
    return this.out[i * this.size + this.oTcpFlags] as number;
  }
  ipLen(i: number): number {
    return this.view.getUint32(i * this.size + this.oIpLen, true);
  }
  sport(i: number): number {
    return this.view.getUint16(i * this.size + this.oSport, true);
  }
  dport(i: number): number {
    return this.view.getUint16(i * this.size + this.oDport, true);
  }
  vlan(i: number): number {
    return this.view.getUint16(i * this.size + this.oVlan, true);
  }
}
