import type { Command } from "../command.js";
import { agentCommand } from "./agent.js";
import { aggregatorCommand } from "./aggregator.js";
import { collectCommand } from "./collect.js";
import { notBuiltYet } from "./not-built.js";
import { configFile } from "./options.js";
import { pcapCommand } from "./pcap.js";
import { upCommand } from "./up.js";

export const commands: Command[] = [
  pcapCommand,
  collectCommand,
  agentCommand,
  aggregatorCommand,
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
  upCommand,
];
