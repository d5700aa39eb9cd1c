// What each command is (name, help, options), apart from what it does: `flowlens --help`,
// option parsing and the command list load this small module, and a command's own module (with
// the engine, gRPC, NATS, Fastify behind it) is imported only when that command runs.
import type { Command } from "../command.js";
import { configFile, timeouts } from "./options.js";

export type CommandSpec = Omit<Command, "run">;

const tlsOptions = (prefix: string, peer: string) =>
  ({
    [`${prefix}-ca`]: {
      type: "string",
      placeholder: "FILE",
      description: `CA bundle to verify the ${peer} (enables TLS)`,
    },
    [`${prefix}-cert`]: {
      type: "string",
      placeholder: "FILE",
      description: `Client certificate for mTLS with the ${peer}`,
    },
    [`${prefix}-key`]: { type: "string", placeholder: "FILE", description: `Key of the client certificate` },
  }) as const;

/**
 * The NetFlow/IPFIX/sFlow listeners: on by default in the aggregator, asked for by port in `up`
 * (a laptop should not open collector ports unless told to).
 */
function collectorOptions(ports: { netflow: string; ipfix: string; ipfixTcp: string; sflow: string }) {
  return {
    "netflow-port": {
      type: "string",
      placeholder: "PORT",
      description: "NetFlow v5/v9 and IPFIX UDP port (0 disables)",
      default: ports.netflow,
    },
    "ipfix-port": {
      type: "string",
      placeholder: "PORT",
      description: "IPFIX UDP port (0 disables)",
      default: ports.ipfix,
    },
    "ipfix-tcp-port": {
      type: "string",
      placeholder: "PORT",
      description: "IPFIX over TCP port (RFC 7011; 0 disables)",
      default: ports.ipfixTcp,
    },
    "sflow-port": {
      type: "string",
      placeholder: "PORT",
      description: "sFlow v5 UDP port (0 disables)",
      default: ports.sflow,
    },
    "collector-address": {
      type: "string",
      placeholder: "ADDR",
      description: "Address the NetFlow/IPFIX/sFlow sockets bind (:: is IPv4 and IPv6)",
      default: "::",
    },
    "collector-buffer": {
      type: "string",
      placeholder: "SIZE",
      description: "Receive buffer of each collector socket",
      default: "32M",
    },
  } as const;
}

/** Alert options of the aggregator and of up (whose data directory has a default). */
function alertOptions(dataDirDefault: string) {
  return {
    "alert-rules": {
      type: "string",
      placeholder: "PATH",
      description:
        "AlertRules: a YAML/JSON file (a rule, a list, or a Kubernetes List) or a directory of them, reloaded on change; the default rules stay on unless a rule of the same name turns one off",
    },
    "data-dir": {
      type: "string",
      placeholder: "DIR",
      description: `Where past and engaged alerts persist across restarts (default: ${dataDirDefault})`,
    },
    "alert-evaluation-interval": {
      type: "string",
      placeholder: "SECONDS",
      description: "How often threshold rules are judged and quiet alerts released",
      default: "10",
    },
    "alert-window-scale": {
      type: "string",
      placeholder: "FACTOR",
      description: "Threshold rule periods last FACTOR times their window (tests and demos: 0.1 makes 1m six seconds)",
      default: "1",
    },
    "smtp-server": {
      type: "string",
      placeholder: "HOST:PORT",
      description:
        "SMTP server of email endpoints that name none (an AlertRule resource cannot: email from AlertRules needs it)",
    },
    "smtp-from": {
      type: "string",
      placeholder: "ADDRESS",
      description: "Sender of email endpoints that name none (email from AlertRules needs it)",
    },
    "smtp-user": { type: "string", placeholder: "USER", description: "SMTP AUTH user of email endpoints" },
    "smtp-password-file": {
      type: "string",
      placeholder: "FILE",
      description: "File holding the SMTP AUTH password (with --smtp-user)",
    },
    "smtp-tls": {
      type: "string",
      placeholder: "starttls|tls|none",
      description:
        "SMTP TLS of email endpoints that set none: STARTTLS required (the default), TLS from the start, none",
    },
    "smtp-ca": { type: "string", placeholder: "FILE", description: "CA bundle to verify the SMTP server" },
    "webhook-secret-file": {
      type: "string",
      placeholder: "FILE",
      description: "HMAC secret (16+ characters) of webhook endpoints that set none",
    },
  } as const;
}

export const agentOptions = {
  ...configFile,
  node: { type: "string", placeholder: "NAME", description: "Node name (default: $NODE_NAME, then the hostname)" },
  interface: {
    type: "string",
    short: "i",
    multiple: true,
    placeholder: "IF",
    description: "Interface or glob (eth*) to capture on (default: every up, non-loopback interface)",
  },
  "exclude-interface": {
    type: "string",
    multiple: true,
    placeholder: "IF",
    description: "Interface or glob to leave out",
  },
  bpf: { type: "string", placeholder: "EXPR", description: "BPF filter" },
  sampling: { type: "string", placeholder: "N", description: "Sample 1 in N packets", default: "1" },
  ...timeouts,
  "max-flows": { type: "string", placeholder: "N", description: "Flow table bound", default: "1000000" },
  "no-dpi": { type: "boolean", description: "Do not classify applications with nDPI" },
  workers: {
    type: "string",
    placeholder: "N",
    description: "Capture threads per interface (PACKET_FANOUT)",
    default: "1",
  },
  promisc: { type: "boolean", description: "Put the interfaces in promiscuous mode" },
  "ring-block-size": { type: "string", placeholder: "SIZE", description: "TPACKET_V3 block size", default: "1M" },
  "ring-blocks": { type: "string", placeholder: "N", description: "TPACKET_V3 blocks per ring", default: "64" },
  "grpc-target": { type: "string", placeholder: "HOST:PORT", description: "Aggregator gRPC endpoint" },
  ...tlsOptions("grpc", "aggregator"),
  "grpc-server-name": {
    type: "string",
    placeholder: "NAME",
    description: "Name to expect in the aggregator's certificate",
  },
  "grpc-token-file": {
    type: "string",
    placeholder: "FILE",
    description: "File holding the bearer token for the aggregator",
  },
  "nats-url": {
    type: "string",
    multiple: true,
    placeholder: "URL",
    description: "NATS server(s) for the JetStream transport",
  },
  "nats-user": { type: "string", placeholder: "USER", description: "NATS user" },
  "nats-password-file": { type: "string", placeholder: "FILE", description: "File holding the NATS password" },
  "nats-token-file": { type: "string", placeholder: "FILE", description: "File holding the NATS token" },
  "nats-creds": { type: "string", placeholder: "FILE", description: "NATS credentials file (JWT + nkey)" },
  ...tlsOptions("nats", "NATS server"),
  "queue-max-flows": {
    type: "string",
    placeholder: "N",
    description: "Export queue bound in flows",
    default: "1000000",
  },
  "queue-max-bytes": {
    type: "string",
    placeholder: "SIZE",
    description: "Export queue bound in bytes",
    default: "256M",
  },
  "batch-max-flows": { type: "string", placeholder: "N", description: "Flows per batch", default: "1000" },
  "batch-max-delay": {
    type: "string",
    placeholder: "MS",
    description: "Longest a flow waits for its batch",
    default: "1000",
  },
  "ipfix-target": {
    type: "string",
    multiple: true,
    placeholder: "HOST:PORT",
    description: "Also export IPFIX (or NetFlow v9) over UDP to this collector",
  },
  "ipfix-version": { type: "string", placeholder: "10|9", description: "10: IPFIX, 9: NetFlow v9", default: "10" },
  "ipfix-biflow": {
    type: "boolean",
    description: "One bidirectional record per flow (RFC 5103) instead of one record per direction",
  },
  "metrics-address": {
    type: "string",
    placeholder: "ADDR",
    description: "Listen address of /metrics and /healthz (empty disables)",
    default: ":9101",
  },
} as const;

export const aggregatorOptions = {
  ...configFile,
  "grpc-address": {
    type: "string",
    placeholder: "ADDR",
    description: "gRPC ingest listen address (empty disables)",
    default: ":9090",
  },
  "grpc-tls-cert": { type: "string", placeholder: "FILE", description: "Server certificate (enables TLS)" },
  "grpc-tls-key": { type: "string", placeholder: "FILE", description: "Key of the server certificate" },
  "grpc-client-ca": { type: "string", placeholder: "FILE", description: "CA of agent certificates (requires mTLS)" },
  "grpc-token-file": {
    type: "string",
    placeholder: "FILE",
    description: "Bearer tokens agents must present, one per line",
  },
  "http-address": {
    type: "string",
    placeholder: "ADDR",
    description: "API and /metrics listen address",
    default: ":3000",
  },
  "nats-url": {
    type: "string",
    multiple: true,
    placeholder: "URL",
    description: "Consume flows from this NATS JetStream server",
  },
  "nats-user": { type: "string", placeholder: "USER", description: "NATS user" },
  "nats-password-file": { type: "string", placeholder: "FILE", description: "File holding the NATS password" },
  "nats-token-file": { type: "string", placeholder: "FILE", description: "File holding the NATS token" },
  "nats-creds": { type: "string", placeholder: "FILE", description: "NATS credentials file (JWT + nkey)" },
  "nats-ca": { type: "string", placeholder: "FILE", description: "CA bundle to verify the NATS server (enables TLS)" },
  "nats-cert": { type: "string", placeholder: "FILE", description: "Client certificate for mTLS with NATS" },
  "nats-key": { type: "string", placeholder: "FILE", description: "Key of the client certificate" },
  "nats-stream": {
    type: "string",
    placeholder: "NAME",
    description: "JetStream stream holding flow batches",
    default: "FLOWLENS_FLOWS",
  },
  "nats-consumer": {
    type: "string",
    placeholder: "NAME",
    description: "Durable consumer name",
    default: "flowlens-aggregator",
  },
  ...collectorOptions({ netflow: "2055", ipfix: "4739", ipfixTcp: "4739", sflow: "6343" }),
  "local-network": {
    type: "string",
    multiple: true,
    placeholder: "CIDR",
    description: "Network whose hosts count as local",
  },
  "top-hosts": { type: "string", placeholder: "N", description: "Hosts with their own metric series", default: "100" },
  "max-hosts": { type: "string", placeholder: "N", description: "Hosts tracked individually", default: "100000" },
  ...alertOptions("none: past and engaged alerts are kept in memory only"),
} as const;

export const pcapSpec: CommandSpec = {
  name: "pcap",
  summary: "Read pcap/pcapng files and print their flows (NDJSON or a table) on stdout, a summary on stderr.",
  usage: "pcap FILE... [options]",
  details:
    "Files are read in order as one stream of packets. Exit 2 when a file is missing, truncated or not a capture.",
  positionals: true,
  options: {
    format: { type: "string", placeholder: "ndjson|table", description: "Output format", default: "ndjson" },
    ...timeouts,
    "no-dpi": { type: "boolean", description: "Skip nDPI application classification" },
    bpf: {
      type: "string",
      placeholder: "EXPR",
      description: "BPF filter applied before decoding (pcap-filter syntax)",
    },
    "max-flows": {
      type: "string",
      placeholder: "N",
      description: "Flow table bound (oldest idle flow evicted past it)",
      default: "1000000",
    },
  },
};

export const collectSpec: CommandSpec = {
  name: "collect",
  summary: "Decode NetFlow v5/v9, IPFIX and sFlow v5 datagrams: from a capture (any UDP port) or live from exporters.",
  usage: "collect (--pcap FILE | --listen [HOST:]PORT... | --read FILE) [options]",
  details:
    "Templates are kept per exporter and observation domain, in arrival order, as a collector would.\n" +
    "sFlow flow samples' packet headers go through the probe's decoder; counter samples are summed up on stderr.\n" +
    "Flows go to stdout or --output (NDJSON, a table, or length-delimited protobuf Flows of flow.proto), a summary\n" +
    "to stderr. --listen collects until SIGINT or SIGTERM; --read prints a protobuf file it wrote.",
  options: {
    pcap: { type: "string", placeholder: "FILE", description: "Capture holding flow-export datagrams" },
    listen: {
      type: "string",
      multiple: true,
      placeholder: "[HOST:]PORT",
      description: "UDP port to collect on, any format (HOST defaults to ::, IPv4 and IPv6; port 0 picks one)",
    },
    read: { type: "string", placeholder: "FILE", description: "Flows written by --format protobuf" },
    format: {
      type: "string",
      placeholder: "ndjson|table|protobuf",
      description: "Output format",
      default: "ndjson",
    },
    output: { type: "string", placeholder: "FILE", description: "Write flows to FILE instead of stdout" },
    buffer: {
      type: "string",
      placeholder: "SIZE",
      description: "Receive buffer of each --listen socket",
      default: "32M",
    },
  },
};

export const agentSpec: CommandSpec = {
  name: "agent",
  summary: "Run the probe daemon: capture on this node's interfaces and export flows to the aggregator.",
  usage: "agent [options]",
  configurable: true,
  options: agentOptions,
};

export const aggregatorSpec: CommandSpec = {
  name: "aggregator",
  summary:
    "Run the aggregator: ingest flows (gRPC, NATS JetStream), keep live state, serve Prometheus metrics and the REST API.",
  usage: "aggregator [options]",
  configurable: true,
  options: aggregatorOptions,
};

export const operatorSpec: CommandSpec = {
  name: "operator",
  summary: "Run the Kubernetes operator reconciling FlowProbe, FlowCollector and AlertRule resources.",
  usage: "operator [options]",
  details:
    "Watches the flowlens.dev resources and keeps their aggregator Deployments, agent DaemonSets, Services,\n" +
    "ConfigMaps, NetworkPolicies and certificates as they say (server-side apply, field manager flowlens-operator).\n" +
    "Run several replicas with --leader-elect: one reconciles, the others wait on the Lease.",
  configurable: true,
  options: {
    ...configFile,
    kubeconfig: {
      type: "string",
      placeholder: "FILE",
      description: "Kubeconfig (default: $KUBECONFIG, ~/.kube/config, then the in-cluster service account)",
    },
    namespace: {
      type: "string",
      multiple: true,
      placeholder: "NS",
      description: "Watch only this namespace (default: all)",
    },
    "metrics-address": {
      type: "string",
      placeholder: "ADDR",
      description: "Listen address of /metrics, /healthz, /readyz (empty disables)",
      default: ":8080",
    },
    "leader-elect": { type: "boolean", description: "Use a Lease so only one replica reconciles" },
    "lease-name": {
      type: "string",
      placeholder: "NAME",
      description: "Lease for leader election",
      default: "flowlens-operator",
    },
    "lease-namespace": {
      type: "string",
      placeholder: "NS",
      description: "Namespace of the Lease (default: $POD_NAMESPACE, the in-cluster namespace, then default)",
    },
    "lease-duration": {
      type: "string",
      placeholder: "S",
      description: "Seconds a standby waits on an unrenewed Lease before taking it",
      default: "15",
    },
    "renew-deadline": {
      type: "string",
      placeholder: "S",
      description: "Seconds the leader keeps trying to renew before it stops reconciling",
      default: "10",
    },
    "retry-period": { type: "string", placeholder: "S", description: "Seconds between Lease attempts", default: "2" },
    image: {
      type: "string",
      placeholder: "IMAGE",
      description: "Image of the agents and aggregators whose resource sets no spec.image (default: this version's)",
    },
    workers: { type: "string", placeholder: "N", description: "Concurrent reconciles per controller", default: "2" },
    resync: {
      type: "string",
      placeholder: "S",
      description: "Seconds between full resyncs of every resource",
      default: "600",
    },
  },
};

export const upSpec: CommandSpec = {
  name: "up",
  summary:
    "Run probe and aggregator in one process on this machine: API on http://127.0.0.1:3000/api/v1, metrics on /metrics.",
  usage: "up [--interface IF | --pcap FILE [--loop]] [options]",
  details:
    "Live capture needs CAP_NET_RAW (root, or `setcap cap_net_raw,cap_net_admin+eip` on node). Without it, up says so\n" +
    "and keeps serving the API and metrics without capture; replay a capture with --pcap meanwhile.",
  configurable: true,
  options: {
    ...configFile,
    interface: {
      type: "string",
      short: "i",
      multiple: true,
      placeholder: "IF",
      description: "Interface to capture on (default: the default route's)",
    },
    pcap: { type: "string", placeholder: "FILE", description: "Replay this capture instead of capturing live" },
    loop: { type: "boolean", description: "Replay the capture forever (pausing between rounds)" },
    bpf: { type: "string", placeholder: "EXPR", description: "BPF filter" },
    ...timeouts,
    "no-dpi": { type: "boolean", description: "Do not classify applications with nDPI" },
    "http-address": {
      type: "string",
      placeholder: "ADDR",
      description: "API and metrics listen address",
      default: "127.0.0.1:3000",
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
    "max-hosts": { type: "string", placeholder: "N", description: "Hosts tracked individually", default: "100000" },
    ...collectorOptions({ netflow: "0", ipfix: "0", ipfixTcp: "0", sflow: "0" }),
    ...alertOptions('$XDG_STATE_HOME/flowlens, else ~/.local/state/flowlens; "" keeps alerts in memory only'),
  },
};
