// The API resources the operator touches, with their REST paths. Every request goes through a
// path built here, so that this list, the verbs in ../rbac.ts and what the operator really
// does cannot drift apart (the client refuses a request its RBAC rules do not grant).
import { GROUP, VERSION } from "@flowlens/contracts";

export interface ResourceType {
  /** "" for the core group. */
  group: string;
  version: string;
  plural: string;
  kind: string;
}

const r = (group: string, version: string, plural: string, kind: string): ResourceType => ({
  group,
  version,
  plural,
  kind,
});

export const RESOURCES = {
  flowCollectors: r(GROUP, VERSION, "flowcollectors", "FlowCollector"),
  flowProbes: r(GROUP, VERSION, "flowprobes", "FlowProbe"),
  alertRules: r(GROUP, VERSION, "alertrules", "AlertRule"),
  deployments: r("apps", "v1", "deployments", "Deployment"),
  daemonSets: r("apps", "v1", "daemonsets", "DaemonSet"),
  services: r("", "v1", "services", "Service"),
  configMaps: r("", "v1", "configmaps", "ConfigMap"),
  secrets: r("", "v1", "secrets", "Secret"),
  networkPolicies: r("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy"),
  leases: r("coordination.k8s.io", "v1", "leases", "Lease"),
  events: r("events.k8s.io", "v1", "events", "Event"),
} as const;

export type ResourceName = keyof typeof RESOURCES;

export function apiVersionOf(t: ResourceType): string {
  return t.group ? `${t.group}/${t.version}` : t.version;
}

function prefix(t: ResourceType): string {
  return t.group ? `/apis/${t.group}/${t.version}` : `/api/${t.version}`;
}

/** The collection, in one namespace or (namespace undefined) in all. */
export function collectionPath(t: ResourceType, namespace?: string): string {
  return namespace
    ? `${prefix(t)}/namespaces/${encodeURIComponent(namespace)}/${t.plural}`
    : `${prefix(t)}/${t.plural}`;
}

export function objectPath(t: ResourceType, namespace: string, name: string, subresource?: string): string {
  return `${collectionPath(t, namespace)}/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ""}`;
}

/** The resource whose kind and apiVersion these are, among those the operator manages. */
export function resourceOfKind(apiVersion: string, kind: string): ResourceType | undefined {
  return Object.values(RESOURCES).find((t) => t.kind === kind && apiVersionOf(t) === apiVersion);
}
