// FlowProbe: the agent DaemonSet that captures on the nodes' interfaces. The defaults are the
// ones `flowlens agent` has, so a FlowProbe with only a collectorRef behaves like the CLI.
import type { FlowProbeSpec, FlowProbeStatus } from "@flowlens/contracts";
import { DNS1123_LABEL, MAX_PROBE_NAME } from "../names.js";
import {
  collectorRefSchema,
  conditionsSchema,
  imageSchema,
  nodeSelectorSchema,
  observedGenerationSchema,
  resourcesSchema,
  tolerationsSchema,
} from "./common.js";
import type { CrdDefinition } from "./crd.js";
import { type Defaulted, members, type Schema, withDefaults } from "./schema.js";

// Interface names and globs; a comma would split the value in FLOWLENS_INTERFACE.
const interfaceList = (description: string) =>
  ({
    type: "array",
    description,
    maxItems: 64,
    "x-kubernetes-list-type": "set",
    items: { type: "string", minLength: 1, maxLength: 32, pattern: "^[^\\s/:,]+$" },
  }) as const satisfies Schema<string[]>;

export const flowProbeSpecSchema = {
  type: "object",
  description: "What the agents capture on the selected nodes and where they send the flows.",
  properties: {
    collectorRef: { ...collectorRefSchema, required: true },
    nodeSelector: nodeSelectorSchema,
    tolerations: tolerationsSchema,
    interfaces: interfaceList(
      "Interfaces or globs (`eth*`) to capture on; default: every up, non-loopback interface of the node.",
    ),
    excludeInterfaces: interfaceList("Interfaces or globs to leave out."),
    bpfFilter: { type: "string", description: "BPF filter (tcpdump syntax) applied in the kernel.", maxLength: 4096 },
    sampling: {
      type: "integer",
      description: "Sample 1 packet in N; 1 sees every packet.",
      default: 1,
      minimum: 1,
      maximum: 1 << 30,
    },
    timeouts: {
      type: "object",
      description: "When a flow is exported.",
      default: {},
      properties: {
        idleSeconds: {
          type: "integer",
          description: "Seconds without packets before a flow ends.",
          default: 30,
          minimum: 1,
          maximum: 86400,
        },
        activeSeconds: {
          type: "integer",
          description: "Seconds after which a long flow is exported and continues.",
          default: 300,
          minimum: 1,
          maximum: 86400,
        },
      },
      "x-kubernetes-validations": [
        {
          // A flow idle for longer than the active timeout has already been exported by it, so
          // such an idle timeout never fires as configured: almost certainly swapped values.
          rule: "!has(self.idleSeconds) || !has(self.activeSeconds) || self.idleSeconds <= self.activeSeconds",
          message: "idleSeconds must not exceed activeSeconds",
        },
      ],
    },
    maxFlows: {
      type: "integer",
      description: "Bound of the flow table per agent; the oldest flows are exported early beyond it.",
      default: 1_000_000,
      minimum: 1024,
      maximum: 1 << 27,
    },
    dpi: { type: "boolean", description: "Classify applications with nDPI.", default: true },
    export: {
      type: "object",
      description: "Where the flows go besides the collector's transport.",
      default: {},
      properties: {
        transport: {
          type: "string",
          description: "How flows reach the FlowCollector: its gRPC Service, or its NATS JetStream (spec.nats).",
          enum: members({ grpc: true, nats: true }),
          default: "grpc",
        },
        ipfix: {
          type: "array",
          description: "Also export IPFIX or NetFlow v9 over UDP to these collectors.",
          maxItems: 8,
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": ["host", "port"],
          items: {
            type: "object",
            properties: {
              host: {
                type: "string",
                required: true,
                description: "IP address or DNS name of the collector.",
                minLength: 1,
                maxLength: 253,
                "x-kubernetes-validations": [
                  {
                    rule: "isIP(self) || self.matches(r'^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$')",
                    message: "must be an IP address or a DNS name",
                  },
                ],
              },
              port: { type: "integer", required: true, minimum: 1, maximum: 65535 },
              protocol: {
                type: "string",
                description: "ipfix (IPFIX, version 10) or netflow9.",
                enum: members({ ipfix: true, netflow9: true }),
                default: "ipfix",
              },
            },
          },
        },
      },
    },
    resources: resourcesSchema({ requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } }),
    image: imageSchema,
  },
  "x-kubernetes-validations": [
    {
      rule: "!has(self.interfaces) || !has(self.excludeInterfaces) || !self.interfaces.exists(i, i in self.excludeInterfaces)",
      message: "an interface cannot be both in interfaces and in excludeInterfaces",
    },
  ],
} as const satisfies Schema<FlowProbeSpec>;

export const flowProbeStatusSchema = {
  type: "object",
  description: "Written by the operator.",
  properties: {
    observedGeneration: observedGenerationSchema,
    nodesDesired: { type: "integer", format: "int32", minimum: 0, description: "Nodes that should run an agent." },
    nodesReady: { type: "integer", format: "int32", minimum: 0, description: "Nodes whose agent is ready." },
    conditions: conditionsSchema,
  },
} as const satisfies Schema<FlowProbeStatus>;

export type ResolvedProbeSpec = Defaulted<FlowProbeSpec, typeof flowProbeSpecSchema>;

/** The spec as the API server stores it, defaults filled in, for specs that did not come from it. */
export function resolveProbeSpec(spec: FlowProbeSpec): ResolvedProbeSpec {
  return withDefaults(flowProbeSpecSchema, spec) as ResolvedProbeSpec;
}

export const flowProbeCrd: CrdDefinition = {
  kind: "FlowProbe",
  plural: "flowprobes",
  singular: "flowprobe",
  shortNames: ["fp"],
  description: "A flow probe: the Flowlens agent on every selected node, exporting flows to a FlowCollector.",
  spec: flowProbeSpecSchema,
  status: flowProbeStatusSchema,
  name: { maxLength: MAX_PROBE_NAME, pattern: DNS1123_LABEL, names: "the agent DaemonSet <name>-agent" },
  printerColumns: [
    { name: "Collector", type: "string", jsonPath: ".spec.collectorRef.name" },
    {
      name: "Desired",
      type: "integer",
      jsonPath: ".status.nodesDesired",
      description: "Nodes that should run an agent",
    },
    { name: "Ready", type: "integer", jsonPath: ".status.nodesReady", description: "Nodes whose agent is ready" },
    { name: "Status", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].reason' },
    { name: "Transport", type: "string", jsonPath: ".spec.export.transport", priority: 1 },
  ],
};
