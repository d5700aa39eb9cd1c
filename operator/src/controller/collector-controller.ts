// FlowCollector -> its aggregator: validate, issue certificates (tls.mode auto), apply the
// desired objects and the AlertRules ConfigMap, prune what is no longer wanted, and report the
// Deployment's state, the endpoints and the conditions in the status.
import { resolveCollectorSpec } from "../crds/flowcollector.js";
import { collectorObjectNames, tlsSecretNames } from "../names.js";
import { desiredAlertRulesConfigMap } from "../reconcile/alert-rules.js";
import { collectorEndpoints, desiredCollectorObjects, validateCollector } from "../reconcile/collector.js";
import type { ConfigurationIssue } from "../reconcile/issues.js";
import { idOf } from "./applier.js";
import type { ConditionInput } from "./conditions.js";
import {
  type CollectorObject,
  type ControllerContext,
  issueConditions,
  reconcileFailed,
  splitKey,
  VALID,
  writeStatus,
} from "./context.js";
import type { ReconcileResult } from "./controller.js";
import type { KubeObject } from "./kube/client.js";
import { RESOURCES } from "./kube/resources.js";
import type { IssuedTls } from "./tls/manager.js";

/** Secrets the spec names that do not exist: the Pods could not start without them. */
async function missingSecrets(ctx: ControllerContext, fc: CollectorObject): Promise<ConfigurationIssue[]> {
  const spec = resolveCollectorSpec(fc.spec);
  const ns = fc.metadata.namespace ?? "";
  const wanted: [string, string, string[]][] = [];
  if (spec.tls?.mode === "provided" && spec.tls.secretName) {
    wanted.push(["spec.tls.secretName", spec.tls.secretName, ["tls.crt", "tls.key"]]);
  }
  if (spec.nats?.credentialsSecret)
    wanted.push(["spec.nats.credentialsSecret", spec.nats.credentialsSecret, ["nats.creds"]]);
  const issues: ConfigurationIssue[] = [];
  for (const [field, name, keys] of wanted) {
    const s = await ctx.client.get<KubeObject & { data?: Record<string, string> }>(RESOURCES.secrets, ns, name);
    const absent = keys.filter((k) => !s?.data?.[k]);
    if (!s || absent.length > 0) {
      issues.push({
        reason: "SecretNotFound",
        message: s ? `Secret ${ns}/${name} has no ${absent.join(", ")}` : `Secret ${ns}/${name} does not exist`,
        field,
      });
    }
  }
  return issues;
}

interface DeploymentState {
  metadata: { generation?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

function workloadConditions(dep: DeploymentState | undefined, desired: number): ConditionInput[] {
  const s = dep?.status ?? {};
  const available = s.availableReplicas ?? 0;
  const current = (s.observedGeneration ?? 0) >= (dep?.metadata.generation ?? 1) && (s.updatedReplicas ?? 0) >= desired;
  const ready: ConditionInput =
    desired === 0
      ? { type: "Ready", status: "True", reason: "ScaledToZero", message: "replicas is 0" }
      : available >= desired && current
        ? {
            type: "Ready",
            status: "True",
            reason: "Available",
            message: `${available}/${desired} aggregator replicas available`,
          }
        : {
            type: "Ready",
            status: "False",
            reason: "Deploying",
            message: `${available}/${desired} aggregator replicas available`,
          };
  const failure = s.conditions?.find(
    (c) =>
      (c.type === "ReplicaFailure" && c.status === "True") ||
      (c.type === "Progressing" && c.status === "False" && c.reason === "ProgressDeadlineExceeded"),
  );
  const degraded: ConditionInput = failure
    ? { type: "Degraded", status: "True", reason: failure.reason ?? failure.type, message: failure.message ?? "" }
    : { type: "Degraded", status: "False", reason: "AsExpected", message: "no failure reported" };
  return [ready, degraded, VALID];
}

export async function reconcileCollector(ctx: ControllerContext, key: string): Promise<ReconcileResult | undefined> {
  const { namespace, name } = splitKey(key);
  const fc = ctx.caches.collectors.get(namespace, name);
  // Gone or going: the garbage collector removes what it owns (owner references).
  if (!fc || fc.metadata.deletionTimestamp) return undefined;
  const issues = validateCollector(fc);
  if (issues.length === 0) issues.push(...(await missingSecrets(ctx, fc)));
  if (issues.length > 0) {
    await writeStatus(ctx, RESOURCES.flowCollectors, fc, {}, issueConditions(issues));
    return issues.some((i) => i.reason === "SecretNotFound") ? { requeueAfterMs: ctx.secretRetryMs } : undefined;
  }
  const spec = resolveCollectorSpec(fc.spec);
  const now = ctx.now();
  let tls: IssuedTls | undefined;
  const keep = new Set<string>();
  try {
    if (spec.tls?.mode === "auto") {
      ctx.applier.guard();
      tls = await ctx.tls.ensureCollector(fc, now);
      const names = tlsSecretNames(fc.metadata.name);
      keep.add(`Secret/${names.ca}`).add(`Secret/${names.server}`);
      if (tls.issued.length > 0) {
        ctx.logger.info({ collector: key, issued: tls.issued }, "certificates issued");
        await ctx.events.emit(
          fc,
          "Normal",
          "CertificatesIssued",
          "IssueCertificates",
          `issued: ${tls.issued.join(", ")}`,
        );
      }
    }
    const desired = [
      ...desiredCollectorObjects(fc, { ...ctx.reconcileOptions, tlsHash: tls?.hash }),
      desiredAlertRulesConfigMap(fc, ctx.caches.alertRules.list()),
    ];
    await ctx.applier.apply(desired);
    for (const o of desired) keep.add(idOf(o));
    const c = ctx.caches;
    const pruned = await ctx.applier.prune(
      fc,
      [
        { resource: RESOURCES.deployments, cache: c.deployments },
        { resource: RESOURCES.services, cache: c.services },
        { resource: RESOURCES.configMaps, cache: c.configMaps },
        { resource: RESOURCES.networkPolicies, cache: c.networkPolicies },
        { resource: RESOURCES.secrets, cache: c.secrets },
      ],
      keep,
    );
    if (pruned.length > 0) ctx.logger.info({ collector: key, pruned }, "pruned objects no longer wanted");
  } catch (err) {
    return await reconcileFailed(ctx, RESOURCES.flowCollectors, fc, err);
  }
  const dep = ctx.caches.deployments.get(namespace, collectorObjectNames(name).aggregator) as
    | DeploymentState
    | undefined;
  const e = collectorEndpoints(fc);
  const endpoints = {
    grpc: e.grpc,
    http: e.http,
    ...(e.netflow ? { netflow: e.netflow } : {}),
    ...(e.sflow ? { sflow: e.sflow } : {}),
  };
  await writeStatus(ctx, RESOURCES.flowCollectors, fc, { endpoints }, workloadConditions(dep, spec.replicas));
  return tls ? { requeueAfterMs: Math.max(1000, tls.renewAt - now.getTime()) } : undefined;
}
