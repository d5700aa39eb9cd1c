// Flow exporters (routers and switches sending NetFlow/IPFIX/sFlow) and their interfaces, both
// capped: exporters make room by evicting the least recently seen one (counted); an exporter
// full of interfaces counts traffic on further ones as overflow rather than grow.
import { CappedCounters } from "./capped-counters.js";
import type {
  ExporterSummary,
  InterfaceCounterDeltas,
  InterfaceCounterHistory,
  InterfaceCounters,
  InterfaceSummary,
} from "./types.js";

/** Applications remembered per interface (the rest counted together). */
export const APPS_PER_INTERFACE = 8;
/** Rough heap bytes of an exporter and of an interface with all its applications. */
export const EXPORTER_BYTES = 300;
export const INTERFACE_BYTES = 200 + APPS_PER_INTERFACE * 120;
/** Distinct export versions remembered per exporter (there are four real ones). */
const MAX_VERSIONS = 8;

export function exportVersionName(v: number): string {
  return v === 100 ? "sflow5" : String(v);
}

export class InterfaceEntry {
  bytesIn = 0;
  bytesOut = 0;
  packetsIn = 0;
  packetsOut = 0;
  flowsIn = 0;
  flowsOut = 0;
  readonly apps = new CappedCounters(APPS_PER_INTERFACE);
  counters: InterfaceCounters | undefined = undefined;
  history: InterfaceCounterHistory | undefined = undefined;
  constructor(readonly ifIndex: number) {}

  /** The latest counters, and how far each moved since the previous ones. */
  applyCounters(c: InterfaceCounters): void {
    const prev = this.counters;
    this.counters = { ...c };
    let h = this.history;
    if (h === undefined) {
      h = { samples: 0, totals: zeroDeltas(), last: zeroDeltas(), lastSpanMs: 0, resets: 0 };
      this.history = h;
    }
    h.samples++;
    if (prev === undefined) return;
    let reset = false;
    for (const k of DELTA_KEYS) {
      const d = counterStep(prev[k], c[k], k === "inOctets" || k === "outOctets");
      if (d < 0) reset = true;
      const step = d < 0 ? c[k] : d;
      h.last[k] = step;
      h.totals[k] += step;
    }
    if (reset) h.resets++;
    h.lastSpanMs = Math.max(0, c.atMs - prev.atMs);
  }
}

const DELTA_KEYS = [
  "inOctets",
  "outOctets",
  "inPackets",
  "outPackets",
  "inErrors",
  "outErrors",
  "inDiscards",
  "outDiscards",
] as const satisfies ReadonlyArray<keyof InterfaceCounterDeltas>;

function zeroDeltas(): InterfaceCounterDeltas {
  return {
    inOctets: 0,
    outOctets: 0,
    inPackets: 0,
    outPackets: 0,
    inErrors: 0,
    outErrors: 0,
    inDiscards: 0,
    outDiscards: 0,
  };
}

const TWO32 = 4294967296;

/**
 * How far a counter moved from `a` to `b`: 32-bit counters (packets, errors, discards; octets
 * too on agents that only have ifInOctets) wrap at 2^32, which is undone; -1 when it went back
 * further than a wrap explains (the device restarted its counters).
 */
export function counterStep(a: number, b: number, wide: boolean): number {
  if (b >= a) return b - a;
  if (a < TWO32 && b < TWO32 && (!wide || a >= TWO32 / 2)) return b + TWO32 - a;
  return -1;
}

export class ExporterEntry {
  readonly versions: number[] = [];
  records = 0;
  flows = 0;
  bytes = 0;
  packets = 0;
  lastSeenMs: number;
  /** Datagrams lost by sequence numbers; -1 until a source with sequence numbers reports. */
  datagramsLost = -1;
  /** IPFIX data records lost by sequence numbers; -1 until an IPFIX source reports. */
  recordsLost = -1;
  readonly interfaces = new Map<number, InterfaceEntry>();
  constructor(
    readonly exporter: string,
    readonly firstSeenMs: number,
  ) {
    this.lastSeenMs = firstSeenMs;
  }

  addVersion(v: number): void {
    const vs = this.versions;
    if (vs[0] === v || vs.length >= MAX_VERSIONS || vs.includes(v)) return;
    vs.push(v);
  }

  summary(): ExporterSummary {
    const s: ExporterSummary = {
      exporter: this.exporter,
      exportVersions: this.versions.map(exportVersionName),
      flows: this.flows,
      bytes: this.bytes,
      packets: this.packets,
      interfaces: this.interfaces.size,
      firstSeenMs: this.firstSeenMs,
      lastSeenMs: this.lastSeenMs,
    };
    if (this.datagramsLost >= 0) s.datagramsLost = this.datagramsLost;
    if (this.recordsLost >= 0) s.recordsLost = this.recordsLost;
    return s;
  }
}

export class ExporterTable {
  private readonly byName = new Map<string, ExporterEntry>();
  /** Records of one exporter come in runs: the last one found skips the Map. */
  private last: ExporterEntry | null = null;
  evictions = 0;
  /** Interfaces in all exporters. */
  interfaceCount = 0;
  /** Interface updates dropped because their exporter had maxInterfacesPerExporter already. */
  interfaceOverflow = 0;

  constructor(
    readonly capacity: number,
    readonly maxInterfaces: number,
  ) {}

  get size(): number {
    return this.byName.size;
  }

  get(exporter: string): ExporterEntry | undefined {
    return this.byName.get(exporter);
  }

  /** The entry for an exporter (a bounded label), marked seen now. */
  touch(exporter: string, now: number): ExporterEntry {
    const last = this.last;
    if (last !== null && last.exporter === exporter) {
      last.lastSeenMs = now;
      return last;
    }
    let e = this.byName.get(exporter);
    if (e !== undefined) this.byName.delete(exporter);
    else {
      if (this.byName.size >= this.capacity) {
        const oldest = this.byName.values().next();
        if (!oldest.done) {
          this.byName.delete(oldest.value.exporter);
          this.interfaceCount -= oldest.value.interfaces.size;
          this.evictions++;
        }
      }
      e = new ExporterEntry(exporter, now);
    }
    this.byName.set(exporter, e);
    e.lastSeenMs = now;
    this.last = e;
    return e;
  }

  /** The interface entry, or null when the exporter has no room for another one. */
  interface(e: ExporterEntry, ifIndex: number): InterfaceEntry | null {
    let i = e.interfaces.get(ifIndex);
    if (i !== undefined) return i;
    if (e.interfaces.size >= this.maxInterfaces) {
      this.interfaceOverflow++;
      return null;
    }
    i = new InterfaceEntry(ifIndex);
    e.interfaces.set(ifIndex, i);
    this.interfaceCount++;
    return i;
  }

  /** A collected record: its bytes went in on inIf and out on outIf (0: unknown, not counted). */
  account(
    e: ExporterEntry,
    version: number,
    inIf: number,
    outIf: number,
    app: string,
    bytes: number,
    packets: number,
    flows: number,
  ): void {
    e.addVersion(version);
    e.records++;
    e.flows += flows;
    e.bytes += bytes;
    e.packets += packets;
    if (isIfIndex(inIf)) {
      const i = this.interface(e, inIf);
      if (i !== null) {
        i.bytesIn += bytes;
        i.packetsIn += packets;
        i.flowsIn += flows;
        i.apps.add(app, "", bytes, packets, flows);
      }
    }
    if (isIfIndex(outIf)) {
      const o = this.interface(e, outIf);
      if (o !== null) {
        o.bytesOut += bytes;
        o.packetsOut += packets;
        o.flowsOut += flows;
        if (outIf !== inIf) o.apps.add(app, "", bytes, packets, flows);
      }
    }
  }

  summaries(): ExporterSummary[] {
    return [...this.byName.values()].map((e) => e.summary()).sort((a, b) => (a.exporter < b.exporter ? -1 : 1));
  }

  interfaces(exporter: string): InterfaceSummary[] | undefined {
    const e = this.byName.get(exporter);
    if (e === undefined) return undefined;
    const out: InterfaceSummary[] = [];
    for (const i of e.interfaces.values()) {
      const s: InterfaceSummary = {
        exporter,
        ifIndex: i.ifIndex,
        bytesIn: i.bytesIn,
        bytesOut: i.bytesOut,
        packetsIn: i.packetsIn,
        packetsOut: i.packetsOut,
        flowsIn: i.flowsIn,
        flowsOut: i.flowsOut,
        topApplications: i.apps.sorted().map((c) => ({ name: c.key, bytes: c.bytes })),
      };
      if (i.counters !== undefined) s.counters = { ...i.counters };
      if (i.history !== undefined) {
        const h = i.history;
        s.counterDeltas = { ...h, totals: { ...h.totals }, last: { ...h.last } };
      }
      out.push(s);
    }
    return out.sort((a, b) => a.ifIndex - b.ifIndex);
  }
}

export function isIfIndex(n: number): boolean {
  return n > 0 && n <= 0xffffffff && Number.isInteger(n);
}
