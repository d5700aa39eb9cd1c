// Replacing a file so that a crash at any point leaves either the old or the new content, never
// a torn one: write a temporary file, fsync it, rename it over the target, fsync the directory
// (without which the rename itself may not survive a power loss).
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";

function fsyncPath(path: string, flags: string): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `data` to `path` (in `dir`) durably and atomically. */
export function replaceFileDurably(dir: string, path: string, data: Uint8Array): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncPath(dir, "r");
}
