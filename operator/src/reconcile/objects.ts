// Pieces every desired object shares: ownership, labels, the config file a daemon reads, and
// the security settings. Pure: same CR in, same objects out (the config hash included).
import { createHash } from "node:crypto";
import { API_VERSION, FLOWLENS_VERSION, type ResourceRequirements } from "@flowlens/contracts";
import type {
  V1ConfigMap,
  V1DaemonSet,
  V1Deployment,
  V1NetworkPolicy,
  V1ObjectMeta,
  V1OwnerReference,
  V1ResourceRequirements,
  V1SecurityContext,
  V1Service,
} from "@kubernetes/client-node";
import { stringify } from "yaml";
import { type Component, commonLabels } from "../labels.js";

/** The image when neither the resource nor the operator's options name one. */
export const DEFAULT_IMAGE = `ghcr.io/flowlens/flowlens:${FLOWLENS_VERSION}`;

export interface ReconcileOptions {
  /** Image for resources that do not set spec.image (the operator's --image); default DEFAULT_IMAGE. */
  image?: string;
  /**
   * With tls.mode auto: a hash of the issued certificates the Pods mount, in the Pod template so
   * that a rotation rolls them (the daemons read their certificates at start).
   */
  tlsHash?: string;
}

/** Where the daemons find what the operator mounts for them. */
export const PATHS = {
  configDir: "/etc/flowlens/config",
  tlsDir: "/etc/flowlens/tls",
  alertRulesDir: "/etc/flowlens/alert-rules",
  natsDir: "/etc/flowlens/nats",
  natsCredsKey: "nats.creds",
} as const;

export const CONFIG_HASH_ANNOTATION = "flowlens.dev/config-hash";
export const TLS_HASH_ANNOTATION = "flowlens.dev/tls-hash";

// Desired objects are @kubernetes/client-node models, to be sent through its ObjectSerializer
// (as KubernetesObjectApi does): a few fields have other names there, e.g. NetworkPolicy's
// `from` is `_from`, and plain JSON.stringify would drop them.
type Meta = V1ObjectMeta & { name: string; namespace: string };
type Typed<K extends string, T> = Omit<T, "apiVersion" | "kind" | "metadata"> & {
  apiVersion: string;
  kind: K;
  metadata: Meta;
};
export type DesiredConfigMap = Typed<"ConfigMap", V1ConfigMap>;
export type DesiredDeployment = Typed<"Deployment", V1Deployment>;
export type DesiredDaemonSet = Typed<"DaemonSet", V1DaemonSet>;
export type DesiredService = Typed<"Service", V1Service>;
export type DesiredNetworkPolicy = Typed<"NetworkPolicy", V1NetworkPolicy>;
export type DesiredObject =
  | DesiredConfigMap
  | DesiredDeployment
  | DesiredDaemonSet
  | DesiredService
  | DesiredNetworkPolicy;

/** What the reconcilers need of a custom resource. */
export interface OwnerResource {
  kind: string;
  metadata: { name: string; namespace?: string; uid?: string };
}

/** The namespace of a namespaced resource read from the API server; anything else is a bug. */
export function namespaceOf(cr: OwnerResource): string {
  if (!cr.metadata.namespace) throw new Error(`${cr.kind} ${cr.metadata.name}: no metadata.namespace`);
  return cr.metadata.namespace;
}

/** Garbage collection deletes the objects with their resource; `controller` lets watches map back to it. */
export function ownerReference(cr: OwnerResource): V1OwnerReference {
  if (!cr.metadata.uid) {
    throw new Error(`${cr.kind} ${cr.metadata.name}: no metadata.uid (objects are built from resources as stored)`);
  }
  return {
    apiVersion: API_VERSION,
    kind: cr.kind,
    name: cr.metadata.name,
    uid: cr.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function objectMeta(cr: OwnerResource, name: string, component: Component): Meta {
  return {
    name,
    namespace: namespaceOf(cr),
    labels: commonLabels(cr.metadata.name, component),
    ownerReferences: [ownerReference(cr)],
  };
}

/** A value of a `flowlens <daemon> --config` file: the same types its flags take. */
export type SettingValue = string | number | boolean | string[];

export interface ConfigFile {
  /** The file name in the ConfigMap and in PATHS.configDir. */
  file: string;
  text: string;
  /** Changes with the text: in the Pod template, so that a new config rolls the Pods (read at start only). */
  hash: string;
}

export function configFile(file: string, settings: Record<string, SettingValue | undefined>): ConfigFile {
  const defined = Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined));
  const text = `# Written by the Flowlens operator; keys are the command's flags.\n${stringify(defined, { lineWidth: 0 })}`;
  return { file, text, hash: createHash("sha256").update(text).digest("hex").slice(0, 16) };
}

export function configMap(meta: Meta, config: ConfigFile): DesiredConfigMap {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: meta, data: { [config.file]: config.text } };
}

/** Quantities as the Pod spec types them (strings); the CRD also takes plain integers. */
export function containerResources(r: ResourceRequirements): V1ResourceRequirements {
  const q = (m: Record<string, string | number> | undefined) =>
    m ? Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)])) : undefined;
  const limits = q(r.limits);
  const requests = q(r.requests);
  return { ...(limits ? { limits } : {}), ...(requests ? { requests } : {}) };
}

/** The restricted Pod Security Standard, for containers that need no privilege. */
export const restrictedContainer: V1SecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};

export function imageOf(spec: { image?: string }, options: ReconcileOptions): string {
  return spec.image ?? options.image ?? DEFAULT_IMAGE;
}
