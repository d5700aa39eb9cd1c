import type { Command } from "../command.js";
import { agentCommand } from "./agent.js";
import { aggregatorCommand } from "./aggregator.js";
import { notBuiltYet } from "./not-built.js";
import { configFile } from "./options.js";
import { pcapCommand } from "./pcap.js";
import { upCommand } from "./up.js";

export const commands: Command[] = [
  pcapCommand,
  notBuiltYet(
    {
      name: "collect",
      summary: "Decode the NetFlow v5/v9, IPFIX and sFlow v5 datagrams found in a capture (any UDP port).",
      usage: "collect --pcap FILE [options]",
      options: {
        pcap: { type: "string", placeholder: "FILE", description: "Capture holding flow-export datagrams" },
        format: { type: "string", placeholder: "ndjson|table", description: "Output format", default: "ndjson" },
      },
    },
    "the collector issue (#5)",
  ),
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
