// Typed values out of option strings, with the one-line usage errors of the CLI contract.
import { UsageError } from "../command.js";

type Values = Record<string, string | boolean | string[] | undefined>;

export function intOption(cmd: string, values: Values, name: string, min: number, max: number): number {
  const raw = values[name];
  const v = Number(raw);
  if (typeof raw !== "string" || !/^\d+$/.test(raw.trim()) || v < min || v > max) {
    throw new UsageError(`${cmd}: --${name} must be an integer from ${min} to ${max}, got '${raw}'`);
  }
  return v;
}

export function secondsOption(cmd: string, values: Values, name: string): number {
  const raw = values[name];
  const v = Number(raw);
  if (typeof raw !== "string" || raw.trim() === "" || !Number.isFinite(v) || v <= 0 || v > 86_400) {
    throw new UsageError(`${cmd}: --${name} must be a number of seconds in (0, 86400], got '${raw}'`);
  }
  return v;
}

/** 64k, 16M, 1G, or plain bytes. */
export function sizeOption(cmd: string, values: Values, name: string): number {
  const raw = values[name];
  const m = typeof raw === "string" ? /^(\d+)([kKmMgG]?)i?[bB]?$/.exec(raw.trim()) : null;
  if (!m) throw new UsageError(`${cmd}: --${name} must be a size like 65536, 64k, 16M or 1G, got '${raw}'`);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] as string).toLowerCase()] as number;
  return Number(m[1]) * mult;
}

export function stringOption(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" && v !== "" ? v : undefined;
}

export function listOption(values: Values, name: string): string[] {
  const v = values[name];
  if (Array.isArray(v))
    return v
      .flatMap((s) => s.split(","))
      .map((s) => s.trim())
      .filter(Boolean);
  return typeof v === "string" && v ? [v] : [];
}
