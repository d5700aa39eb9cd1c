#!/usr/bin/env node
// flowlens: one CLI for every Flowlens component. Exit codes (DESIGN.md): 0 ok, 1 runtime
// failure, 2 bad usage or bad input, each failure with a one-line reason on stderr.
import { FLOWLENS_VERSION } from "@flowlens/contracts";
import { helpText, parseCommandArgs, UsageError } from "./command.js";
import { commands } from "./commands/index.js";

function topHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    "Usage: flowlens <command> [options]",
    "",
    "Flow-based network monitoring for Kubernetes.",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    "",
    "Run `flowlens <command> --help` for the options of a command.",
    "",
  ].join("\n");
}

export async function main(argv: string[], stdout = process.stdout, stderr = process.stderr): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    stdout.write(topHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "version") {
    stdout.write(`flowlens ${FLOWLENS_VERSION}\n`);
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
  try {
    if (!cmd) throw new UsageError(`unknown command '${name}' (run 'flowlens --help')`);
    const { help, ctx } = parseCommandArgs(cmd, rest);
    if (help) {
      stdout.write(helpText(cmd));
      return 0;
    }
    return await cmd.run({ ...ctx, stdout, stderr });
  } catch (err) {
    const e = err as Error;
    stderr.write(`flowlens: ${e.message}\n`);
    return err instanceof UsageError ? err.exitCode : 1;
  }
}

// A reader that went away (`flowlens pcap x.pcap | head`) ends the output, not the program with
// a stack trace: stop quietly, as Unix tools do.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  process.stderr.write(`flowlens: writing output: ${err.message}\n`);
  process.exit(1);
});

process.exitCode = await main(process.argv.slice(2));
