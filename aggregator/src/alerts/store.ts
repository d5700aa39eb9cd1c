// The store of past alerts: an append-only JSONL log under the data directory, replayed at
// start. Appends are buffered and written with one write and one fdatasync per flush (group
// commit on a timer, and at close); the log is compacted (rewritten to a temporary file,
// fsynced, renamed over the old one, directory fsynced) when it has grown to twice what it
// holds, and at start after a damaged line. A corrupt or truncated line is skipped and counted.
import { closeSync, fdatasyncSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { replaceFileDurably } from "./durable-file.js";
import type { AlertRecord } from "./types.js";

const FILE = "alerts.jsonl";

type Entry = { op: "past"; alert: AlertRecord } | { op: "ack"; id: string; atMs: number };

export interface AlertStoreStats {
  /** Past alerts held. */
  entries: number;
  /** Bytes of the log file. */
  bytes: number;
  /** Lines skipped at load because they did not parse. */
  corruptLines: number;
  /** Past alerts dropped because the store was full (oldest first). */
  dropped: number;
  writeErrors: number;
}

function isAlert(v: unknown): v is AlertRecord {
  const a = v as AlertRecord;
  return (
    typeof a === "object" &&
    a !== null &&
    typeof a.id === "string" &&
    typeof a.rule === "string" &&
    typeof a.startedAtMs === "number" &&
    typeof a.entity === "object" &&
    a.entity !== null &&
    typeof a.entity.value === "string"
  );
}

export class PastAlertStore {
  /** Past alerts, oldest first, at most `max`. */
  private readonly alerts = new Map<string, AlertRecord>();
  private fd: number | null = null;
  private pending: string[] = [];
  private fileLines = 0;
  private fileBytes = 0;
  readonly stats: AlertStoreStats = { entries: 0, bytes: 0, corruptLines: 0, dropped: 0, writeErrors: 0 };

  constructor(
    private readonly dir: string | undefined,
    private readonly max: number,
    private readonly onError: (err: Error) => void = () => {},
  ) {}

  /** Reads the log (if there is a data directory) and opens it for appending. */
  open(): void {
    if (this.dir === undefined) return;
    mkdirSync(this.dir, { recursive: true });
    const path = join(this.dir, FILE);
    let text = "";
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    let damaged = false;
    for (const line of text.split("\n")) {
      if (line === "") continue;
      let e: Entry;
      try {
        e = JSON.parse(line) as Entry;
      } catch {
        this.stats.corruptLines++;
        damaged = true;
        continue;
      }
      if (e?.op === "past" && isAlert(e.alert)) this.put(e.alert);
      else if (e?.op === "ack" && typeof e.id === "string") this.applyAck(e.id, e.atMs);
      else {
        this.stats.corruptLines++;
        damaged = true;
      }
    }
    if (!text.endsWith("\n") && text.length > 0) damaged = true;
    this.fileLines = text.split("\n").length - 1;
    this.fileBytes = Buffer.byteLength(text);
    if (damaged || this.fileLines > 2 * this.max) this.compact();
    this.fd = openSync(path, "a");
  }

  private put(a: AlertRecord): void {
    this.alerts.delete(a.id);
    this.alerts.set(a.id, a);
    while (this.alerts.size > this.max) {
      const oldest = this.alerts.keys().next().value as string;
      this.alerts.delete(oldest);
      this.stats.dropped++;
    }
  }

  private applyAck(id: string, atMs: number): boolean {
    const a = this.alerts.get(id);
    if (a === undefined) return false;
    a.acknowledged = true;
    a.acknowledgedAtMs = atMs;
    return true;
  }

  add(a: AlertRecord): void {
    this.put(a);
    this.append({ op: "past", alert: a });
  }

  ack(id: string, atMs: number): AlertRecord | undefined {
    if (!this.applyAck(id, atMs)) return undefined;
    this.append({ op: "ack", id, atMs });
    return this.alerts.get(id);
  }

  get(id: string): AlertRecord | undefined {
    return this.alerts.get(id);
  }

  /** Past alerts, newest first. */
  list(): AlertRecord[] {
    return [...this.alerts.values()].reverse();
  }

  get size(): number {
    return this.alerts.size;
  }

  private append(e: Entry): void {
    if (this.dir === undefined) return;
    this.pending.push(`${JSON.stringify(e)}\n`);
  }

  /** Writes what is pending with one write and one fdatasync. */
  flush(): void {
    if (this.fd === null || this.pending.length === 0) return;
    const text = this.pending.join("");
    const n = this.pending.length;
    this.pending = [];
    try {
      const buf = Buffer.from(text);
      writeSync(this.fd, buf);
      fdatasyncSync(this.fd);
      this.fileLines += n;
      this.fileBytes += buf.length;
    } catch (err) {
      this.stats.writeErrors++;
      this.onError(err as Error);
    }
    if (this.fileLines > 2 * this.max + 64) this.compact();
  }

  /** Rewrites the log to hold exactly the alerts kept. */
  compact(): void {
    if (this.dir === undefined) return;
    const path = join(this.dir, FILE);
    try {
      const lines: string[] = [];
      for (const a of this.alerts.values()) lines.push(`${JSON.stringify({ op: "past", alert: a })}\n`);
      const buf = Buffer.from(lines.join(""));
      replaceFileDurably(this.dir, path, buf);
      if (this.fd !== null) {
        closeSync(this.fd);
        this.fd = openSync(path, "a");
      }
      this.fileLines = lines.length;
      this.fileBytes = buf.length;
    } catch (err) {
      this.stats.writeErrors++;
      this.onError(err as Error);
    }
  }

  close(): void {
    this.flush();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  snapshotStats(): AlertStoreStats {
    this.stats.entries = this.alerts.size;
    this.stats.bytes = this.fileBytes;
    return this.stats;
  }
}
