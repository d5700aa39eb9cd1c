// Time parameters of the API: epoch milliseconds, RFC 3339, or a duration before now
// (`-15m`, `-1h`, `-2d`), so that both scripts and people can write them.
import { badRequest } from "./errors.js";

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseTime(name: string, value: string | undefined, now: number): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (/^\d{1,16}$/.test(value)) return Number(value);
  const rel = /^-(\d{1,9})([smhd])$/.exec(value);
  if (rel) return now - Number(rel[1]) * (UNIT_MS[rel[2] as string] as number);
  if (/^\d{4}-\d{2}-\d{2}T/.test(value)) {
    const t = Date.parse(value);
    if (Number.isFinite(t)) return t;
  }
  throw badRequest(`${name}: expected epoch milliseconds, RFC 3339 time or -<n>{s,m,h,d}, got '${value}'`);
}

export function parseRange(q: { since?: string; until?: string }, now: number): { sinceMs?: number; untilMs?: number } {
  const sinceMs = parseTime("since", q.since, now);
  const untilMs = parseTime("until", q.until, now);
  if (sinceMs !== undefined && untilMs !== undefined && sinceMs > untilMs) {
    throw badRequest(`since (${sinceMs}) is after until (${untilMs})`);
  }
  return { ...(sinceMs !== undefined ? { sinceMs } : {}), ...(untilMs !== undefined ? { untilMs } : {}) };
}
