// What every daemon subcommand shares: a JSON logger with levels, and waiting for a signal.
import { type Logger, pino } from "pino";
import { UsageError } from "./command.js";

const LEVELS = ["debug", "info", "warn", "error"];

export function createLogger(level: string, component: string): Logger {
  if (!LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LEVELS.join(", ")}, got '${level}'`);
  return pino(
    { level, base: { component }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: 2, sync: true }),
  );
}

/** Resolves with the signal's name on the first SIGINT or SIGTERM. */
export function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
      resolve(sig);
    };
    process.on("SIGINT", on);
    process.on("SIGTERM", on);
  });
}
