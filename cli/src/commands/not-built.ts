import { type Command, UsageError } from "../command.js";

/**
 * A subcommand whose options are fixed by DESIGN.md but whose implementation lands with a
 * later issue: `--help` documents it, running it says so and exits 2.
 */
export function notBuiltYet(cmd: Omit<Command, "run">, landsWith: string): Command {
  return {
    ...cmd,
    details: [cmd.details, `Status: not built yet; lands with ${landsWith}.`].filter(Boolean).join("\n\n"),
    run() {
      throw new UsageError(`${cmd.name}: not built yet (lands with ${landsWith})`);
    },
  };
}
