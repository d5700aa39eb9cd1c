// Schema parts shared by the three CRDs: the collector reference, conditions, resources and
// scheduling fields, with the same validation wherever they appear.
import type { Condition, ObjectRef, ResourceRequirements, Toleration } from "@flowlens/contracts";
import { DNS1035_LABEL, DNS1123_LABEL, DNS1123_SUBDOMAIN, MAX_COLLECTOR_NAME } from "../names.js";
import { members, type Schema } from "./schema.js";

export const collectorRefSchema = {
  type: "object",
  description: "The FlowCollector this resource belongs to.",
  properties: {
    name: {
      type: "string",
      required: true,
      description: "Name of the FlowCollector.",
      minLength: 1,
      maxLength: MAX_COLLECTOR_NAME,
      pattern: DNS1035_LABEL,
    },
    namespace: {
      type: "string",
      description: "Namespace of the FlowCollector; default: the namespace of this resource.",
      maxLength: 63,
      pattern: DNS1123_LABEL,
    },
  },
  "x-kubernetes-validations": [
    {
      // Moving to another collector is a new deployment (other endpoint, other credentials,
      // other history); letting it happen in place would leave the old one half fed.
      rule: "self == oldSelf",
      message: "collectorRef is immutable: create a new resource to use another FlowCollector",
    },
  ],
} as const satisfies Schema<ObjectRef>;

const QUANTITY =
  "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$";
const quantity = {
  "x-kubernetes-int-or-string": true,
  anyOf: [{ type: "integer" }, { type: "string" }],
  pattern: QUANTITY,
  maxLength: 64,
} as const satisfies Schema<string | number>;
const quantities = {
  type: "object",
  additionalProperties: quantity,
  maxProperties: 8,
} as const satisfies Schema<Record<string, string | number>>;

/** Compute resources with a default; the kubelet's own check of requests <= limits, done at apply time. */
export function resourcesSchema(defaults: ResourceRequirements) {
  return {
    type: "object",
    description:
      "Compute resources of the container (https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/).",
    default: defaults,
    properties: {
      limits: { ...quantities, description: "Most the container may use." },
      requests: { ...quantities, description: "What the scheduler reserves for the container." },
    },
    "x-kubernetes-validations": [
      {
        // Caught here, the mistake is a refused `kubectl apply`; caught by the Pod's own
        // validation it would be a workload that silently never gets its Pods.
        rule: "!has(self.requests) || !has(self.limits) || self.requests.all(k, !(k in self.limits) || !isQuantity(string(self.requests[k])) || !isQuantity(string(self.limits[k])) || quantity(string(self.requests[k])).compareTo(quantity(string(self.limits[k]))) <= 0)",
        message: "requests must not exceed limits",
      },
    ],
  } as const satisfies Schema<ResourceRequirements>;
}

export const nodeSelectorSchema = {
  type: "object",
  description: "Run only on nodes with these labels.",
  additionalProperties: { type: "string", maxLength: 63 },
  maxProperties: 32,
} as const satisfies Schema<Record<string, string>>;

export const tolerationsSchema = {
  type: "array",
  description: "Taints to tolerate, as in a Pod spec; `[{operator: Exists}]` runs on every node.",
  maxItems: 32,
  "x-kubernetes-list-type": "atomic",
  items: {
    type: "object",
    properties: {
      key: { type: "string", maxLength: 316, description: "Taint key; empty with operator Exists matches all." },
      operator: { type: "string", enum: members({ Exists: true, Equal: true }) },
      value: { type: "string", maxLength: 63 },
      effect: { type: "string", enum: members({ NoSchedule: true, PreferNoSchedule: true, NoExecute: true }) },
      tolerationSeconds: { type: "integer", format: "int64", description: "For NoExecute: how long to stay." },
    },
    "x-kubernetes-validations": [
      {
        rule: "!has(self.operator) || self.operator != 'Exists' || !has(self.value)",
        message: "operator Exists takes no value",
      },
      {
        rule: "has(self.key) || (has(self.operator) && self.operator == 'Exists')",
        message: "an empty key needs operator Exists",
      },
    ],
  },
} as const satisfies Schema<Toleration[]>;

export const imageSchema = {
  type: "string",
  description: "Container image; default: the Flowlens image of the operator's version.",
  minLength: 1,
  maxLength: 512,
  pattern: "^\\S+$",
} as const satisfies Schema<string>;

export const secretNameSchema = {
  type: "string",
  minLength: 1,
  maxLength: 253,
  pattern: DNS1123_SUBDOMAIN,
} as const satisfies Schema<string>;

export const conditionsSchema = {
  type: "array",
  description: "Ready, Degraded and ConfigurationIssue, with the reason in CamelCase.",
  maxItems: 8,
  "x-kubernetes-list-type": "map",
  "x-kubernetes-list-map-keys": ["type"],
  items: {
    type: "object",
    properties: {
      type: { type: "string", required: true, maxLength: 316, pattern: "^[A-Za-z][A-Za-z0-9]*$" },
      status: { type: "string", required: true, enum: members({ True: true, False: true, Unknown: true }) },
      reason: { type: "string", required: true, maxLength: 1024, pattern: "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$" },
      message: { type: "string", required: true, maxLength: 32768 },
      lastTransitionTime: { type: "string", required: true, format: "date-time" },
      observedGeneration: { type: "integer", format: "int64", minimum: 0 },
    },
  },
} as const satisfies Schema<Condition[]>;

export const observedGenerationSchema = {
  type: "integer",
  format: "int64",
  minimum: 0,
  description: "The metadata.generation this status describes.",
} as const satisfies Schema<number>;

/** `isCIDR` needs Kubernetes 1.31 (the CEL network library); the message shows the form. */
export function cidrListSchema(description: string) {
  return {
    type: "array",
    description,
    maxItems: 64,
    "x-kubernetes-list-type": "set",
    items: {
      type: "string",
      maxLength: 43,
      "x-kubernetes-validations": [{ rule: "isCIDR(self)", message: "must be a CIDR such as 10.0.0.0/8 or fd00::/8" }],
    },
  } as const satisfies Schema<string[]>;
}
