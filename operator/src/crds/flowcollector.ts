// FlowCollector: the aggregator Deployment, its Services and its configuration. The defaults
// are those of `flowlens aggregator`; the NetFlow/IPFIX/sFlow listeners are off unless a port
// is given, as they are in the CLI.
import { FLOWS_STREAM, type FlowCollectorSpec, type FlowCollectorStatus } from "@flowlens/contracts";
import { DNS1035_LABEL, DNS1123_LABEL, MAX_COLLECTOR_NAME } from "../names.js";
import {
  cidrListSchema,
  conditionsSchema,
  imageSchema,
  observedGenerationSchema,
  resourcesSchema,
  secretNameSchema,
} from "./common.js";
import type { CrdDefinition } from "./crd.js";
import { type Defaulted, members, type Schema, withDefaults } from "./schema.js";

const port = (description: string) =>
  ({ type: "integer", description, minimum: 1, maximum: 65535 }) as const satisfies Schema<number>;

export const LISTENER_PORTS = ["grpcPort", "httpPort", "netflowPort", "ipfixPort", "sflowPort"] as const;
export const FLOW_LISTENER_PORTS = ["netflowPort", "ipfixPort", "sflowPort"] as const;

// CEL has no cheap "distinct" over a handful of optional fields; the pairwise test is written
// out here once so the rule follows the list of listeners.
const distinctPortsRule = LISTENER_PORTS.flatMap((a, i) =>
  LISTENER_PORTS.slice(i + 1).map((b) => `(!has(self.${a}) || !has(self.${b}) || self.${a} != self.${b})`),
).join(" && ");

export const flowCollectorSpecSchema = {
  type: "object",
  description: "The aggregator: where flows are collected, kept as live state and served.",
  properties: {
    replicas: {
      type: "integer",
      format: "int32",
      description: "Aggregator Pods. Each keeps the state of the flows it receives.",
      default: 1,
      minimum: 0,
      maximum: 64,
    },
    listeners: {
      type: "object",
      description: "Ports of the aggregator; NetFlow, IPFIX and sFlow are off unless set.",
      default: {},
      properties: {
        grpcPort: { ...port("gRPC ingest from the agents (TCP)."), default: 9090 },
        httpPort: { ...port("REST API, web UI, /metrics, /healthz and /readyz (TCP)."), default: 3000 },
        netflowPort: port("NetFlow v5/v9 and IPFIX from routers and switches (UDP); usually 2055."),
        ipfixPort: port("IPFIX (UDP); usually 4739."),
        sflowPort: port("sFlow v5 (UDP); usually 6343."),
      },
      "x-kubernetes-validations": [{ rule: distinctPortsRule, message: "listener ports must be distinct" }],
    },
    nats: {
      type: "object",
      description: "Consume flows from NATS JetStream; FlowProbes with export.transport nats publish there.",
      properties: {
        url: {
          type: "string",
          required: true,
          description: "NATS server, e.g. nats://nats.nats.svc:4222 (tls:// for TLS).",
          minLength: 1,
          maxLength: 1024,
          pattern: "^((nats|tls)://)?[^\\s,/]+$",
        },
        stream: {
          type: "string",
          description: "JetStream stream holding the flow batches; the aggregator creates it.",
          default: FLOWS_STREAM,
          minLength: 1,
          maxLength: 255,
          pattern: "^[^\\s.*>/\\\\]+$",
        },
        credentialsSecret: {
          ...secretNameSchema,
          description:
            "Secret with the key nats.creds: a NATS credentials file (JWT and nkey), for the aggregator and the agents.",
        },
      },
    },
    tls: {
      type: "object",
      description:
        "TLS of the gRPC ingest; by default (mode auto) the operator issues the certificates for agent<->aggregator mTLS. With mode disabled, agents send in plain text.",
      default: { mode: "auto" },
      properties: {
        mode: {
          type: "string",
          required: true,
          description:
            "auto: the operator issues a CA, the aggregator's certificate and each FlowProbe's client certificate (mTLS) in Secrets, and renews them before expiry; provided: from secretName (tls.crt, tls.key, ca.crt; the certificate names <name>-aggregator.<namespace>.svc); disabled.",
          enum: members({ auto: true, provided: true, disabled: true }),
        },
        secretName: { ...secretNameSchema, description: "The kubernetes.io/tls Secret, for mode provided." },
      },
      "x-kubernetes-validations": [
        {
          rule: "(self.mode == 'provided') == has(self.secretName)",
          message: "secretName is required with mode provided, and only then",
        },
      ],
    },
    localNetworks: cidrListSchema("Networks whose hosts count as local (ntopng's -m)."),
    metrics: {
      type: "object",
      description: "Cardinality of the Prometheus metrics.",
      default: {},
      properties: {
        topHosts: {
          type: "integer",
          description: "Hosts with their own metric series; the others are aggregated.",
          default: 100,
          minimum: 0,
          maximum: 10000,
        },
      },
    },
    retention: {
      type: "object",
      description:
        "How much history the aggregator keeps in memory; default: the aggregator's. Not in this version: reported as RetentionNotSupported.",
      properties: {
        recentFlows: { type: "integer", description: "Ended flows kept for the API.", minimum: 0, maximum: 10_000_000 },
        pastAlerts: {
          type: "integer",
          description: "Resolved alerts kept for the API.",
          minimum: 0,
          maximum: 1_000_000,
        },
      },
    },
    serviceType: {
      type: "string",
      description:
        "Type of the <name>-collector Service of the NetFlow/IPFIX/sFlow listeners; NodePort or LoadBalancer lets routers outside the cluster reach it.",
      enum: members({ ClusterIP: true, NodePort: true, LoadBalancer: true }),
      default: "ClusterIP",
    },
    networkPolicy: {
      type: "object",
      description: "A NetworkPolicy in front of the aggregator Pods.",
      properties: {
        enabled: { type: "boolean", required: true },
        ingressCIDRs: cidrListSchema(
          "Sources allowed to reach the gRPC and flow listeners; default: any. Agents run on the host network: include the node addresses.",
        ),
        apiNamespaces: {
          type: "array",
          description: "Namespaces whose Pods may reach the HTTP API and /metrics (e.g. monitoring), besides this one.",
          maxItems: 64,
          "x-kubernetes-list-type": "set",
          items: { type: "string", maxLength: 63, pattern: DNS1123_LABEL },
        },
      },
    },
    resources: resourcesSchema({ requests: { cpu: "200m", memory: "512Mi" }, limits: { memory: "2Gi" } }),
    image: imageSchema,
  },
  "x-kubernetes-validations": [
    {
      rule: `!has(self.serviceType) || self.serviceType == 'ClusterIP' || (has(self.listeners) && (${FLOW_LISTENER_PORTS.map((p) => `has(self.listeners.${p})`).join(" || ")}))`,
      message: "serviceType applies to the NetFlow/IPFIX/sFlow listeners: set one of their ports",
      fieldPath: ".serviceType",
    },
  ],
} as const satisfies Schema<FlowCollectorSpec>;

export const flowCollectorStatusSchema = {
  type: "object",
  description: "Written by the operator.",
  properties: {
    observedGeneration: observedGenerationSchema,
    endpoints: {
      type: "object",
      description: "Where to reach the aggregator.",
      properties: {
        grpc: { type: "string", maxLength: 1024 },
        http: { type: "string", maxLength: 1024 },
        netflow: { type: "string", maxLength: 1024 },
        sflow: { type: "string", maxLength: 1024 },
      },
    },
    conditions: conditionsSchema,
  },
} as const satisfies Schema<FlowCollectorStatus>;

export type ResolvedCollectorSpec = Defaulted<FlowCollectorSpec, typeof flowCollectorSpecSchema>;

export function resolveCollectorSpec(spec: FlowCollectorSpec): ResolvedCollectorSpec {
  return withDefaults(flowCollectorSpecSchema, spec) as ResolvedCollectorSpec;
}

export const flowCollectorCrd: CrdDefinition = {
  kind: "FlowCollector",
  plural: "flowcollectors",
  singular: "flowcollector",
  shortNames: ["fc"],
  description: "A flow collector: the Flowlens aggregator, fed by FlowProbes and by NetFlow/IPFIX/sFlow exporters.",
  spec: flowCollectorSpecSchema,
  status: flowCollectorStatusSchema,
  name: {
    maxLength: MAX_COLLECTOR_NAME,
    pattern: DNS1035_LABEL,
    names: "the Services <name>-aggregator and <name>-collector",
  },
  printerColumns: [
    { name: "Replicas", type: "integer", jsonPath: ".spec.replicas" },
    { name: "gRPC", type: "string", jsonPath: ".status.endpoints.grpc" },
    { name: "Status", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].reason' },
    { name: "Service-Type", type: "string", jsonPath: ".spec.serviceType", priority: 1 },
  ],
};
