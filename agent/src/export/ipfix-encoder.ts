// IPFIX (RFC 7011) and NetFlow v9 (RFC 3954) messages from Flowlens flows, so that any
// collector (nfcapd, pmacct, ntopng, a SIEM) can take what the probe sees. Standard information
// elements for what every collector knows; nProbe's enterprise elements (PEN 35632: L7 protocol
// name, latencies, retransmissions, out-of-order) for the rest, so ntopng reads them too; and
// RFC 5103 reverse elements (PEN 29305) when bidirectional records are asked for.
import { pb } from "@flowlens/contracts";

export type ExportFormat = 9 | 10;

export interface EncoderOptions {
  version: ExportFormat;
  /** One biflow record per flow (RFC 5103) instead of one record per direction. */
  biflow: boolean;
  observationDomain: number;
  /** Largest datagram written, bytes (IP and UDP headers not included). */
  maxMessageBytes: number;
}

const PEN_NTOP = 35632;
const PEN_REVERSE = 29305;
/** NetFlow v9 has no enterprise numbers: nProbe puts its elements at 57472 + id. */
const NTOP_V9_BASE = 57472;
/** v9 has no variable-length fields; nProbe uses a fixed width for names. */
const V9_NAME_BYTES = 32;
const VARLEN = 0xffff;

type Kind =
  | "srcAddr"
  | "dstAddr"
  | "srcPort"
  | "dstPort"
  | "proto"
  | "tcpFlags"
  | "vlan"
  | "inIf"
  | "outIf"
  | "octets"
  | "packets"
  | "start"
  | "end"
  | "endReason"
  | "revOctets"
  | "revPackets"
  | "revTcpFlags"
  | "l7Name"
  | "cliLatency"
  | "srvLatency"
  | "applLatency"
  | "retxIn"
  | "retxOut"
  | "oooIn"
  | "oooOut";

interface Field {
  kind: Kind;
  id: number;
  length: number;
  pen?: number;
}

function fieldsFor(ipv6: boolean, o: EncoderOptions): Field[] {
  const a = ipv6 ? 16 : 4;
  const f: Field[] = [
    { kind: "srcAddr", id: ipv6 ? 27 : 8, length: a },
    { kind: "dstAddr", id: ipv6 ? 28 : 12, length: a },
    { kind: "srcPort", id: 7, length: 2 },
    { kind: "dstPort", id: 11, length: 2 },
    { kind: "proto", id: 4, length: 1 },
    // tcpControlBits in reduced-size encoding: the flags we track fit one octet, as v9's.
    { kind: "tcpFlags", id: 6, length: 1 },
    { kind: "vlan", id: 58, length: 2 },
    { kind: "inIf", id: 10, length: 4 },
    { kind: "outIf", id: 14, length: 4 },
    { kind: "octets", id: 1, length: 8 },
    { kind: "packets", id: 2, length: 8 },
    { kind: "start", id: 152, length: 8 },
    { kind: "end", id: 153, length: 8 },
    { kind: "endReason", id: 136, length: 1 },
  ];
  if (o.biflow && o.version === 10) {
    f.push(
      { kind: "revOctets", id: 1, length: 8, pen: PEN_REVERSE },
      { kind: "revPackets", id: 2, length: 8, pen: PEN_REVERSE },
      { kind: "revTcpFlags", id: 6, length: 1, pen: PEN_REVERSE },
    );
  } else if (o.biflow) {
    // v9 has no reverse elements; IN_/OUT_ counters (23 OUT_BYTES, 24 OUT_PKTS) are its biflow.
    f.push({ kind: "revOctets", id: 23, length: 8 }, { kind: "revPackets", id: 24, length: 8 });
  }
  const ntop = (kind: Kind, id: number, length: number): Field =>
    o.version === 10 ? { kind, id, length, pen: PEN_NTOP } : { kind, id: NTOP_V9_BASE + id, length };
  f.push(
    ntop("l7Name", 119, o.version === 10 ? VARLEN : V9_NAME_BYTES),
    ntop("cliLatency", 123, 4),
    ntop("srvLatency", 124, 4),
    ntop("applLatency", 125, 4),
    ntop("retxIn", 109, 4),
    ntop("retxOut", 110, 4),
    ntop("oooIn", 111, 4),
    ntop("oooOut", 112, 4),
  );
  return f;
}

/** One direction (or a biflow) of a flow, as a record is written. */
interface RecordView {
  srcAddr: string;
  dstAddr: string;
  srcPort: number;
  dstPort: number;
  tcpFlags: number;
  revTcpFlags: number;
  octets: bigint;
  packets: bigint;
  revOctets: bigint;
  revPackets: bigint;
  inIf: number;
  outIf: number;
  retxIn: number;
  retxOut: number;
  oooIn: number;
  oooOut: number;
}

const END_REASON: Record<number, number> = {
  [pb.EndReason.END_REASON_IDLE]: 1,
  [pb.EndReason.END_REASON_ACTIVE]: 2,
  [pb.EndReason.END_REASON_FIN]: 3,
  [pb.EndReason.END_REASON_RST]: 3,
  [pb.EndReason.END_REASON_EOF]: 4,
  [pb.EndReason.END_REASON_EVICTED]: 5,
};

function writeV4(buf: Buffer, at: number, addr: string): void {
  const p = addr.split(".");
  for (let i = 0; i < 4; i++) buf[at + i] = Number(p[i]) & 255;
}

function writeV6(buf: Buffer, at: number, addr: string): void {
  let a = addr;
  const zone = a.indexOf("%");
  if (zone >= 0) a = a.slice(0, zone);
  let groups: string[];
  const v4tail = a.includes(".") ? a.slice(a.lastIndexOf(":") + 1) : "";
  if (v4tail) {
    const p = v4tail.split(".").map(Number);
    a = `${a.slice(0, a.lastIndexOf(":") + 1)}${(((p[0] ?? 0) << 8) | (p[1] ?? 0)).toString(16)}:${(((p[2] ?? 0) << 8) | (p[3] ?? 0)).toString(16)}`;
  }
  const halves = a.split("::");
  if (halves.length === 2) {
    const head = halves[0] ? halves[0].split(":") : [];
    const tail = halves[1] ? halves[1].split(":") : [];
    groups = [...head, ...Array(8 - head.length - tail.length).fill("0"), ...tail];
  } else groups = a.split(":");
  for (let i = 0; i < 8; i++) buf.writeUInt16BE(Number.parseInt(groups[i] ?? "0", 16) & 0xffff, at + i * 2);
}

const u32 = (v: bigint | undefined): number => (v === undefined ? 0 : v > 0xffffffffn ? 0xffffffff : Number(v));
const ms = (us: bigint | undefined): number => (us === undefined ? 0 : u32((us + 500n) / 1000n));

/**
 * Encodes flows into export messages, templates first and again every `refreshEvery`
 * messages (UDP loses packets and collectors restart). Stateful: sequence numbers and the
 * template schedule live here.
 */
export class IpfixEncoder {
  private readonly templates: Array<{ id: number; fields: Field[]; set: Buffer }>;
  private readonly buf: Buffer;
  private sequence = 0; // IPFIX: data records sent; v9: messages sent
  private sinceTemplates = Number.POSITIVE_INFINITY;
  private readonly startedMs: number;
  records = 0;
  messages = 0;

  constructor(
    private readonly o: EncoderOptions,
    private readonly refreshEvery = 20,
    private readonly clock: () => number = Date.now,
  ) {
    if (o.maxMessageBytes < 512 || o.maxMessageBytes > 65_000) {
      throw new RangeError(`maxMessageBytes must be in [512, 65000], got ${o.maxMessageBytes}`);
    }
    this.startedMs = clock();
    this.templates = [false, true].map((v6, i) => {
      const fields = fieldsFor(v6, o);
      const id = 256 + i;
      let len = 4;
      for (const f of fields) len += f.pen ? 8 : 4;
      const set = Buffer.alloc(4 + len);
      set.writeUInt16BE(o.version === 10 ? 2 : 0, 0);
      set.writeUInt16BE(set.length, 2);
      set.writeUInt16BE(id, 4);
      set.writeUInt16BE(fields.length, 6);
      let at = 8;
      for (const f of fields) {
        set.writeUInt16BE(f.pen ? f.id | 0x8000 : f.id, at);
        set.writeUInt16BE(f.length, at + 2);
        at += 4;
        if (f.pen) {
          set.writeUInt32BE(f.pen, at);
          at += 4;
        }
      }
      return { id, fields, set };
    });
    this.buf = Buffer.alloc(o.maxMessageBytes);
  }

  /** Forces templates into the next message (e.g. after a collector came back). */
  resendTemplates(): void {
    this.sinceTemplates = Number.POSITIVE_INFINITY;
  }

  /** Encodes the flows into as many messages as they need; each message is a fresh Buffer. */
  encode(flows: readonly pb.Flow[]): Buffer[] {
    const views: Array<{ flow: pb.Flow; r: RecordView; v6: boolean }> = [];
    for (const f of flows) {
      const v6 = f.ipVersion === 6;
      const fwd: RecordView = {
        srcAddr: f.srcAddr,
        dstAddr: f.dstAddr,
        srcPort: f.srcPort,
        dstPort: f.dstPort,
        tcpFlags: f.srcTcpFlags,
        revTcpFlags: f.dstTcpFlags,
        octets: f.srcToDstBytes,
        packets: f.srcToDstPackets,
        revOctets: f.dstToSrcBytes,
        revPackets: f.dstToSrcPackets,
        inIf: f.inIf,
        outIf: f.outIf,
        retxIn: f.srcRetransmits,
        retxOut: f.dstRetransmits,
        oooIn: f.srcOutOfOrder,
        oooOut: f.dstOutOfOrder,
      };
      if (this.o.biflow || f.dstToSrcPackets === 0n) {
        views.push({ flow: f, r: this.o.biflow ? fwd : { ...fwd, revOctets: 0n, revPackets: 0n }, v6 });
        continue;
      }
      views.push({ flow: f, r: { ...fwd, revOctets: 0n, revPackets: 0n }, v6 });
      views.push({
        flow: f,
        v6,
        r: {
          srcAddr: f.dstAddr,
          dstAddr: f.srcAddr,
          // ICMP keeps type/code in dstPort whichever way the record goes.
          srcPort: f.proto === 1 || f.proto === 58 ? 0 : f.dstPort,
          dstPort: f.proto === 1 || f.proto === 58 ? f.dstPort : f.srcPort,
          tcpFlags: f.dstTcpFlags,
          revTcpFlags: f.srcTcpFlags,
          octets: f.dstToSrcBytes,
          packets: f.dstToSrcPackets,
          revOctets: 0n,
          revPackets: 0n,
          inIf: f.outIf,
          outIf: f.inIf,
          retxIn: f.dstRetransmits,
          retxOut: f.srcRetransmits,
          oooIn: f.dstOutOfOrder,
          oooOut: f.srcOutOfOrder,
        },
      });
    }
    const out: Buffer[] = [];
    let i = 0;
    while (i < views.length) i = this.message(views, i, out);
    return out;
  }

  /** A message holding only the templates, for the periodic refresh when no flow is due. */
  templateMessage(): Buffer {
    this.sinceTemplates = Number.POSITIVE_INFINITY;
    const out: Buffer[] = [];
    this.message([], 0, out);
    return out[0] as Buffer;
  }

  private headerBytes(): number {
    return this.o.version === 10 ? 16 : 20;
  }

  /** Writes one message starting at views[i]; returns the index of the first record left out. */
  private message(views: Array<{ flow: pb.Flow; r: RecordView; v6: boolean }>, start: number, out: Buffer[]): number {
    const buf = this.buf;
    let at = this.headerBytes();
    let count = 0; // v9 header: template + data records in the message
    if (this.sinceTemplates >= this.refreshEvery) {
      for (const t of this.templates) {
        t.set.copy(buf, at);
        at += t.set.length;
        count++;
      }
      this.sinceTemplates = 0;
    }
    let i = start;
    let dataRecords = 0;
    while (i < views.length) {
      const v6 = (views[i] as { v6: boolean }).v6;
      const t = this.templates[v6 ? 1 : 0] as (typeof this.templates)[number];
      const setStart = at;
      if (at + 4 > buf.length) break;
      at += 4;
      let inSet = 0;
      while (i < views.length && (views[i] as { v6: boolean }).v6 === v6) {
        const end = this.writeRecord(buf, at, t.fields, views[i] as { flow: pb.Flow; r: RecordView });
        if (end < 0) break;
        at = end;
        inSet++;
        i++;
      }
      if (inSet === 0) {
        at = setStart;
        break;
      }
      if (this.o.version === 9) while ((at - setStart) % 4 !== 0) buf[at++] = 0;
      buf.writeUInt16BE(t.id, setStart);
      buf.writeUInt16BE(at - setStart, setStart + 2);
      dataRecords += inSet;
      count += inSet;
    }
    if (i === start && start < views.length) {
      throw new RangeError(`a flow record does not fit in ${buf.length} bytes`);
    }
    const now = this.clock();
    if (this.o.version === 10) {
      buf.writeUInt16BE(10, 0);
      buf.writeUInt16BE(at, 2);
      buf.writeUInt32BE(Math.floor(now / 1000) >>> 0, 4);
      buf.writeUInt32BE(this.sequence >>> 0, 8);
      buf.writeUInt32BE(this.o.observationDomain >>> 0, 12);
      this.sequence += dataRecords;
    } else {
      buf.writeUInt16BE(9, 0);
      buf.writeUInt16BE(count, 2);
      buf.writeUInt32BE((now - this.startedMs) >>> 0, 4);
      buf.writeUInt32BE(Math.floor(now / 1000) >>> 0, 8);
      buf.writeUInt32BE(this.sequence >>> 0, 12);
      buf.writeUInt32BE(this.o.observationDomain >>> 0, 16);
      this.sequence++;
    }
    this.sinceTemplates++;
    this.records += dataRecords;
    this.messages++;
    out.push(Buffer.from(buf.subarray(0, at)));
    return i;
  }

  /** Writes one data record; returns the end offset, or -1 if it does not fit. */
  private writeRecord(buf: Buffer, start: number, fields: Field[], v: { flow: pb.Flow; r: RecordView }): number {
    const { flow: f, r } = v;
    let at = start;
    for (const field of fields) {
      if (field.length === VARLEN) {
        const name = Buffer.from(f.l7 || "Unknown", "utf8").subarray(0, 254);
        if (at + 1 + name.length > buf.length) return -1;
        buf[at++] = name.length;
        name.copy(buf, at);
        at += name.length;
        continue;
      }
      if (at + field.length > buf.length) return -1;
      switch (field.kind) {
        case "srcAddr":
          if (field.length === 4) writeV4(buf, at, r.srcAddr);
          else writeV6(buf, at, r.srcAddr);
          break;
        case "dstAddr":
          if (field.length === 4) writeV4(buf, at, r.dstAddr);
          else writeV6(buf, at, r.dstAddr);
          break;
        case "srcPort":
          buf.writeUInt16BE(r.srcPort & 0xffff, at);
          break;
        case "dstPort":
          buf.writeUInt16BE(r.dstPort & 0xffff, at);
          break;
        case "proto":
          buf[at] = f.proto & 255;
          break;
        case "tcpFlags":
          buf[at] = r.tcpFlags & 255;
          break;
        case "revTcpFlags":
          buf[at] = r.revTcpFlags & 255;
          break;
        case "vlan":
          buf.writeUInt16BE(f.vlan & 0xfff, at);
          break;
        case "inIf":
          buf.writeUInt32BE(r.inIf >>> 0, at);
          break;
        case "outIf":
          buf.writeUInt32BE(r.outIf >>> 0, at);
          break;
        case "octets":
          buf.writeBigUInt64BE(r.octets, at);
          break;
        case "packets":
          buf.writeBigUInt64BE(r.packets, at);
          break;
        case "revOctets":
          buf.writeBigUInt64BE(r.revOctets, at);
          break;
        case "revPackets":
          buf.writeBigUInt64BE(r.revPackets, at);
          break;
        case "start":
          buf.writeBigUInt64BE(BigInt.asUintN(64, f.firstSeenMs), at);
          break;
        case "end":
          buf.writeBigUInt64BE(BigInt.asUintN(64, f.lastSeenMs), at);
          break;
        case "endReason":
          buf[at] = END_REASON[f.endReason] ?? 0;
          break;
        case "l7Name": {
          buf.fill(0, at, at + field.length);
          Buffer.from(f.l7 || "Unknown", "utf8")
            .subarray(0, field.length - 1)
            .copy(buf, at);
          break;
        }
        case "cliLatency":
          buf.writeUInt32BE(ms(f.clientNwLatencyUs), at);
          break;
        case "srvLatency":
          buf.writeUInt32BE(ms(f.serverNwLatencyUs), at);
          break;
        case "applLatency":
          buf.writeUInt32BE(ms(f.applLatencyUs), at);
          break;
        case "retxIn":
          buf.writeUInt32BE(r.retxIn >>> 0, at);
          break;
        case "retxOut":
          buf.writeUInt32BE(r.retxOut >>> 0, at);
          break;
        case "oooIn":
          buf.writeUInt32BE(r.oooIn >>> 0, at);
          break;
        case "oooOut":
          buf.writeUInt32BE(r.oooOut >>> 0, at);
          break;
      }
      at += field.length;
    }
    return at;
  }
}
