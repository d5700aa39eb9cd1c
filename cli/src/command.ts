// A small subcommand framework over node:util parseArgs: each command declares its options
// once, and that declaration drives parsing, validation and `--help`.
import { parseArgs } from "node:util";
import { resolveSettings } from "./settings.js";

export type OptionSpec =
  | { type: "string"; description: string; default?: string; multiple?: false; placeholder?: string; short?: string }
  | { type: "string"; description: string; multiple: true; placeholder?: string; short?: string }
  | { type: "boolean"; description: string; short?: string };

export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Longer text printed by --help after the usage line. */
  details?: string;
  options: Record<string, OptionSpec>;
  /** Whether positional arguments are accepted. */
  positionals?: boolean;
  /** Daemons: options also come from FLOWLENS_* variables and the --config file. */
  configurable?: boolean;
  run(ctx: CommandContext): Promise<number>;
}

export interface CommandContext {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Exit code 2 with a one-line reason: bad usage or bad input. */
export class UsageError extends Error {
  readonly exitCode = 2;
}

export function helpText(cmd: Command, prog = "flowlens"): string {
  const lines = [`Usage: ${prog} ${cmd.usage}`, "", cmd.summary];
  if (cmd.details) lines.push("", cmd.details);
  if (cmd.configurable) {
    lines.push(
      "",
      "Every option can also be set in the environment as FLOWLENS_<OPTION> (FLOWLENS_GRPC_TARGET) or in the",
      "--config file as `option-name: value`; a flag beats the environment, which beats the file.",
    );
  }
  const opts = Object.entries(cmd.options);
  lines.push("", "Options:");
  const rows = opts.map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ""}--${name}${o.type === "string" ? ` ${o.placeholder ?? "VALUE"}` : ""}`;
    const def = o.type === "string" && !o.multiple && o.default !== undefined ? ` (default: ${o.default})` : "";
    const rep = o.type === "string" && o.multiple ? " (repeatable)" : "";
    return [flag, `${o.description}${def}${rep}`] as const;
  });
  rows.push(["-h, --help", "Show this help"]);
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  for (const [f, d] of rows) lines.push(`  ${f.padEnd(width)}${d}`);
  return `${lines.join("\n")}\n`;
}

export function parseCommandArgs(
  cmd: Command,
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): { help: boolean; ctx: Omit<CommandContext, "stdout" | "stderr"> } {
  const options: NonNullable<Parameters<typeof parseArgs>[0]>["options"] = { help: { type: "boolean", short: "h" } };
  for (const [name, o] of Object.entries(cmd.options)) {
    options[name] = {
      type: o.type,
      ...(o.short ? { short: o.short } : {}),
      ...(o.type === "string" && o.multiple ? { multiple: true } : {}),
    };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${cmd.name}: ${(err as Error).message.split("\n")[0]}`);
  }
  const help = parsed.values.help === true;
  if (!help && !cmd.positionals && parsed.positionals.length > 0) {
    throw new UsageError(`${cmd.name}: unexpected argument '${parsed.positionals[0]}'`);
  }
  let values = parsed.values as CommandContext["values"];
  if (!help && cmd.configurable) values = resolveSettings(cmd.name, cmd.options, values, env);
  // Defaults last, so that a default never hides the environment or the config file.
  for (const [name, o] of Object.entries(cmd.options)) {
    if (values[name] === undefined && o.type === "string" && !o.multiple && o.default !== undefined) {
      values[name] = o.default;
    }
  }
  return { help, ctx: { values, positionals: parsed.positionals } };
}
