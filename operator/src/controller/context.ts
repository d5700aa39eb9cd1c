// What the three controllers share: the caches, the apply path, status writes with Events on
// transitions, and the operator's options.
import type { AlertRule, Condition, FlowCollector, FlowProbe } from "@flowlens/contracts";
import type { Logger } from "pino";
import { ConfigurationError, type ConfigurationIssue } from "../reconcile/issues.js";
import type { ReconcileOptions } from "../reconcile/objects.js";
import type { Applier } from "./applier.js";
import { type ConditionInput, mergeConditions, sameStatus, transitions } from "./conditions.js";
import type { EventRecorder } from "./events.js";
import type { ResourceCache } from "./kube/cache.js";
import { KubeApiError, type KubeClient, type KubeObject } from "./kube/client.js";
import type { ResourceType } from "./kube/resources.js";
import type { OperatorMetrics } from "./metrics.js";
import type { TlsManager } from "./tls/manager.js";

export type CollectorObject = FlowCollector & KubeObject;
export type ProbeObject = FlowProbe & KubeObject;
export type AlertRuleObject = AlertRule & KubeObject;

export interface Caches {
  collectors: ResourceCache<CollectorObject>;
  probes: ResourceCache<ProbeObject>;
  alertRules: ResourceCache<AlertRuleObject>;
  deployments: ResourceCache<KubeObject>;
  daemonSets: ResourceCache<KubeObject>;
  services: ResourceCache<KubeObject>;
  configMaps: ResourceCache<KubeObject>;
  secrets: ResourceCache<KubeObject>;
  networkPolicies: ResourceCache<KubeObject>;
}

export interface ControllerContext {
  client: KubeClient;
  caches: Caches;
  applier: Applier;
  events: EventRecorder;
  tls: TlsManager;
  metrics: OperatorMetrics;
  logger: Logger;
  reconcileOptions: ReconcileOptions;
  /** While a Secret a spec names is missing, look again after this long (no watch covers it). */
  secretRetryMs: number;
  now: () => Date;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf("/");
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export const keyFor = (namespace: string, name: string) => `${namespace}/${name}`;

type StatusOf = { conditions?: Condition[] };

/**
 * Writes the status (server-side apply on the status subresource) if it says something new,
 * and records an Event for each condition that changed. Returns whether it wrote.
 */
export async function writeStatus(
  ctx: ControllerContext,
  resource: ResourceType,
  cr: KubeObject & { status?: StatusOf },
  fields: Record<string, unknown>,
  conditions: ConditionInput[],
): Promise<boolean> {
  const merged = mergeConditions(cr.status?.conditions, conditions, cr.metadata.generation, ctx.now());
  const status = { observedGeneration: cr.metadata.generation, ...fields, conditions: merged };
  if (sameStatus(cr.status ?? {}, status)) return false;
  ctx.applier.guard();
  const { name, namespace = "" } = cr.metadata;
  await ctx.client.apply(
    resource,
    namespace,
    name,
    { apiVersion: cr.apiVersion, kind: cr.kind, metadata: { name, namespace }, status },
    "status",
  );
  for (const t of transitions(cr.status?.conditions, merged)) {
    const note = noteFor(t.to);
    if (!note) continue;
    await ctx.events.emit(
      { apiVersion: cr.apiVersion ?? "", kind: cr.kind ?? "", metadata: cr.metadata },
      note.type,
      t.to.reason,
      note.action,
      t.to.message,
    );
  }
  return true;
}

/** Which transitions are worth an Event, and of which type. */
function noteFor(c: Condition): { type: "Normal" | "Warning"; action: string } | undefined {
  if (c.type === "Ready" && c.status === "True") return { type: "Normal", action: "Reconcile" };
  if ((c.type === "ConfigurationIssue" || c.type === "Degraded") && c.status === "True") {
    return { type: "Warning", action: "Reconcile" };
  }
  if (c.type === "Accepted" && c.status === "False") return { type: "Warning", action: "Validate" };
  return undefined;
}

/** The conditions of a resource whose spec has issues: nothing is applied until they are fixed. */
export function issueConditions(issues: readonly ConfigurationIssue[]): ConditionInput[] {
  const first = issues[0];
  const message = issues.map((i) => `${i.field}: ${i.message}`).join("; ");
  return [
    { type: "Ready", status: "False", reason: first?.reason ?? "ConfigurationIssue", message },
    {
      type: "Degraded",
      status: "False",
      reason: "ConfigurationIssue",
      message: "nothing applied until the issue is fixed",
    },
    { type: "ConfigurationIssue", status: "True", reason: first?.reason ?? "Invalid", message },
  ];
}

export const VALID: ConditionInput = {
  type: "ConfigurationIssue",
  status: "False",
  reason: "Valid",
  message: "the spec is valid",
};

/** A failed write the API server refused for good (until the spec or the RBAC changes). */
export function permanentApplyError(err: unknown): KubeApiError | undefined {
  return err instanceof KubeApiError && [400, 403, 422].includes(err.status) ? err : undefined;
}

/** The Degraded/Ready conditions of a resource whose objects the API server refused. */
export function applyFailedConditions(err: KubeApiError): ConditionInput[] {
  const reason = err.status === 403 ? "Forbidden" : "ApplyFailed";
  return [
    { type: "Ready", status: "False", reason, message: err.message },
    { type: "Degraded", status: "True", reason, message: err.message },
    VALID,
  ];
}

/**
 * A reconcile that failed while issuing or applying objects: something in the cluster in the
 * way (a Secret of another owner) becomes a condition and a look again later, as for a missing
 * Secret; a write the API server refused for good becomes Degraded; either way the status says
 * it. Other errors are rethrown for the work queue's backoff.
 */
export async function reconcileFailed(
  ctx: ControllerContext,
  resource: ResourceType,
  cr: KubeObject & { status?: StatusOf },
  err: unknown,
): Promise<{ requeueAfterMs: number }> {
  if (err instanceof ConfigurationError) {
    await writeStatus(ctx, resource, cr, {}, issueConditions(err.issues));
    return { requeueAfterMs: ctx.secretRetryMs };
  }
  const permanent = permanentApplyError(err);
  if (permanent) await writeStatus(ctx, resource, cr, {}, applyFailedConditions(permanent));
  throw err;
}
