// The command list. Only the specs are loaded up front (help, parsing); each command's module,
// with what it imports, is loaded when the command runs, so `flowlens pcap` does not pay for
// the daemons' gRPC, NATS and HTTP stacks.
import type { Command, CommandContext } from "../command.js";
import { agentSpec, aggregatorSpec, type CommandSpec, collectSpec, operatorSpec, pcapSpec, upSpec } from "./specs.js";

function lazy(spec: CommandSpec, load: () => Promise<Command>): Command {
  return { ...spec, run: async (ctx: CommandContext) => (await load()).run(ctx) };
}

export const commands: Command[] = [
  lazy(pcapSpec, async () => (await import("./pcap.js")).pcapCommand),
  lazy(collectSpec, async () => (await import("./collect.js")).collectCommand),
  lazy(agentSpec, async () => (await import("./agent.js")).agentCommand),
  lazy(aggregatorSpec, async () => (await import("./aggregator.js")).aggregatorCommand),
  lazy(operatorSpec, async () => (await import("./operator.js")).operatorCommand),
  lazy(upSpec, async () => (await import("./up.js")).upCommand),
];
