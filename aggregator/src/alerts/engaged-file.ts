// Engaged alerts across a restart: a snapshot file (engaged.json) under the data directory,
// replaced whole and atomically (temporary file, fsync, rename, directory fsync), so a crash
// leaves either the old snapshot or the new one. A damaged snapshot is set aside and counted:
// the engine starts with nothing engaged rather than not at all.
import { mkdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { replaceFileDurably } from "./durable-file.js";
import type { AlertRecord } from "./types.js";

const FILE = "engaged.json";
const VERSION = 1;

function isEngaged(v: unknown): v is AlertRecord {
  const a = v as AlertRecord;
  return (
    typeof a === "object" &&
    a !== null &&
    typeof a.id === "string" &&
    typeof a.rule === "string" &&
    a.state === "engaged" &&
    typeof a.startedAtMs === "number" &&
    typeof a.lastSeenMs === "number" &&
    typeof a.value === "number" &&
    typeof a.peak === "number" &&
    typeof a.entity === "object" &&
    a.entity !== null &&
    typeof a.entity.kind === "string" &&
    typeof a.entity.value === "string"
  );
}

export class EngagedFile {
  /** Entries of the last load that did not parse (or a file that did not). */
  damaged = 0;
  writeErrors = 0;
  bytes = 0;

  constructor(private readonly dir: string) {}

  /** The engaged alerts saved last; [] when there are none (or the file is damaged). */
  load(): AlertRecord[] {
    const path = join(this.dir, FILE);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    this.bytes = Buffer.byteLength(text);
    let doc: { version?: unknown; alerts?: unknown };
    try {
      doc = JSON.parse(text) as typeof doc;
    } catch {
      this.damaged++;
      // Kept for a post-mortem; the next save writes a fresh snapshot.
      renameSync(path, `${path}.damaged`);
      return [];
    }
    if (doc?.version !== VERSION || !Array.isArray(doc.alerts)) {
      this.damaged++;
      return [];
    }
    const out: AlertRecord[] = [];
    for (const a of doc.alerts) {
      if (isEngaged(a)) out.push(a);
      else this.damaged++;
    }
    return out;
  }

  save(alerts: readonly AlertRecord[]): void {
    mkdirSync(this.dir, { recursive: true });
    const buf = Buffer.from(JSON.stringify({ version: VERSION, savedAtMs: Date.now(), alerts }));
    replaceFileDurably(this.dir, join(this.dir, FILE), buf);
    this.bytes = buf.length;
  }
}
