import type { Command } from "../command.js";
import { notBuiltYet } from "./not-built.js";
import { configFile, timeouts } from "./options.js";
import { pcapCommand } from "./pcap.js";

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
  notBuiltYet(
    {
      name: "agent",
      summary: "Run the probe daemon: capture on this node's interfaces and export flows to the aggregator.",
      usage: "agent [options]",
      options: {
        ...configFile,
        interface: {
          type: "string",
          short: "i",
          multiple: true,
          placeholder: "IF",
          description: "Interface to capture on (default: all up interfaces)",
        },
        "exclude-interface": {
          type: "string",
          multiple: true,
          placeholder: "IF",
          description: "Interface to leave out",
        },
        bpf: { type: "string", placeholder: "EXPR", description: "BPF filter" },
        sampling: { type: "string", placeholder: "N", description: "Sample 1 in N packets", default: "1" },
        ...timeouts,
        "max-flows": { type: "string", placeholder: "N", description: "Flow table bound", default: "1000000" },
        "grpc-target": { type: "string", placeholder: "HOST:PORT", description: "Aggregator gRPC endpoint" },
        "nats-url": { type: "string", placeholder: "URL", description: "NATS server for the JetStream transport" },
        "ipfix-target": {
          type: "string",
          multiple: true,
          placeholder: "HOST:PORT",
          description: "Also export IPFIX to this collector",
        },
        "metrics-address": {
          type: "string",
          placeholder: "ADDR",
          description: "Listen address of /metrics and /healthz",
          default: ":9101",
        },
      },
    },
    "the agent and aggregator issue (#4)",
  ),
  notBuiltYet(
    {
      name: "aggregator",
      summary:
        "Run the aggregator: ingest flows (gRPC, NATS, NetFlow/IPFIX/sFlow), keep live state, serve metrics, API and UI.",
      usage: "aggregator [options]",
      options: {
        ...configFile,
        "grpc-address": {
          type: "string",
          placeholder: "ADDR",
          description: "gRPC ingest listen address",
          default: ":9090",
        },
        "http-address": {
          type: "string",
          placeholder: "ADDR",
          description: "API, UI and /metrics listen address",
          default: ":3000",
        },
        "nats-url": {
          type: "string",
          placeholder: "URL",
          description: "Consume flows from this NATS JetStream server",
        },
        "netflow-port": {
          type: "string",
          placeholder: "PORT",
          description: "NetFlow/IPFIX UDP port (0 disables)",
          default: "2055",
        },
        "ipfix-port": {
          type: "string",
          placeholder: "PORT",
          description: "IPFIX UDP/TCP port (0 disables)",
          default: "4739",
        },
        "sflow-port": {
          type: "string",
          placeholder: "PORT",
          description: "sFlow UDP port (0 disables)",
          default: "6343",
        },
        "local-network": {
          type: "string",
          multiple: true,
          placeholder: "CIDR",
          description: "Network whose hosts count as local",
        },
        "top-hosts": {
          type: "string",
          placeholder: "N",
          description: "Hosts with their own metric series",
          default: "100",
        },
      },
    },
    "the agent and aggregator issue (#4)",
  ),
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
  notBuiltYet(
    {
      name: "up",
      summary:
        "Run probe and aggregator in one process on this machine: UI and API on http://127.0.0.1:3000, metrics on /metrics.",
      usage: "up [--interface IF | --pcap FILE [--loop]] [options]",
      options: {
        interface: {
          type: "string",
          short: "i",
          placeholder: "IF",
          description: "Interface to capture on (default: the default route's)",
        },
        pcap: { type: "string", placeholder: "FILE", description: "Replay this capture instead of capturing live" },
        loop: { type: "boolean", description: "Replay the capture forever" },
        "http-address": {
          type: "string",
          placeholder: "ADDR",
          description: "UI, API and metrics listen address",
          default: "127.0.0.1:3000",
        },
      },
    },
    "the agent and aggregator issue (#4)",
  ),
];
