// The command list. Only the specs are loaded up front (help, parsing); each command's module,
// with what it imports, is loaded when the command runs, so `flowlens pcap` does not pay for
// the daemons' gRPC, NATS and HTTP stacks.
import type { Command, CommandContext } from "../command.js";
import { notBuiltYet } from "./not-built.js";
import { configFile } from "./options.js";
import { agentSpec, aggregatorSpec, type CommandSpec, collectSpec, pcapSpec, upSpec } from "./specs.js";

function lazy(spec: CommandSpec, load: () => Promise<Command>): Command {
  return { ...spec, run: async (ctx: CommandContext) => (await load()).run(ctx) };
}

export const commands: Command[] = [
  lazy(pcapSpec, async () => (await import("./pcap.js")).pcapCommand),
  lazy(collectSpec, async () => (await import("./collect.js")).collectCommand),
  lazy(agentSpec, async () => (await import("./agent.js")).agentCommand),
  lazy(aggregatorSpec, async () => (await import("./aggregator.js")).aggregatorCommand),
  notBuiltYet(
    {
      name: "operator",
      summary: "Run the Kubernetes operator reconciling FlowProbe, FlowCollector and AlertRule resources.",
      usage: "operator [options]",
      options: {
        ...configFile,
        kubeconfig: {
          type: "string",
          placeholder: "FILE",
          description: "Kubeconfig (default: in-cluster, then $KUBECONFIG)",
        },
        namespace: { type: "string", placeholder: "NS", description: "Watch only this namespace (default: all)" },
        "metrics-address": {
          type: "string",
          placeholder: "ADDR",
          description: "Listen address of /metrics, /healthz, /readyz",
          default: ":8080",
        },
        "leader-elect": { type: "boolean", description: "Use a Lease so only one replica reconciles" },
      },
    },
    "the operator issue (#6)",
  ),
  lazy(upSpec, async () => (await import("./up.js")).upCommand),
];
