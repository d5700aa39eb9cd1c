// Short strings that repeat from record to record (application names, categories, exporters),
// made once: looked up by their bytes first, so that a record costs no string of its own.
import { wireText } from "./ingest-flow.js";

export class NameCache {
  static readonly SLOTS = 1024;
  static readonly MAX_LEN = 48;
  private readonly lens = new Int32Array(NameCache.SLOTS).fill(-1);
  private readonly bytes = new Uint8Array(NameCache.SLOTS * NameCache.MAX_LEN);
  private readonly strings: string[] = new Array<string>(NameCache.SLOTS).fill("");

  /** The string of buf[start, end) (UTF-8, as wireText reads it), from the cache when there. */
  text(buf: Uint8Array, start: number, end: number): string {
    let h = 0x811c9dc5;
    for (let i = start; i < end; i++) h = Math.imul(h ^ (buf[i] as number), 0x01000193);
    const slot = (h >>> 0) & (NameCache.SLOTS - 1);
    const cached = this.find(buf, start, end, slot);
    if (cached !== undefined) return cached;
    const s = wireText(buf, start, end);
    this.store(buf, start, end, slot, s);
    return s;
  }

  /** The cached string for buf[start, end), or undefined. */
  private find(buf: Uint8Array, start: number, end: number, slot: number): string | undefined {
    const len = end - start;
    if (this.lens[slot] !== len) return undefined;
    const bytes = this.bytes;
    const o = slot * NameCache.MAX_LEN;
    for (let i = 0; i < len; i++) if (bytes[o + i] !== buf[start + i]) return undefined;
    return this.strings[slot];
  }

  private store(buf: Uint8Array, start: number, end: number, slot: number, s: string): void {
    const len = end - start;
    if (len > NameCache.MAX_LEN) return;
    this.bytes.set(buf.subarray(start, end), slot * NameCache.MAX_LEN);
    this.lens[slot] = len;
    this.strings[slot] = s;
  }
}
