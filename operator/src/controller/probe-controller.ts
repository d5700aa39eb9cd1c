// FlowProbe -> its agents: validate against the collector it names, issue its client
// certificate (the collector's tls.mode auto), apply the DaemonSet and ConfigMap, prune, and
// report nodes desired/ready from the DaemonSet's status.
import { resolveCollectorSpec } from "../crds/flowcollector.js";
import { resolveProbeSpec } from "../crds/flowprobe.js";
import { agentTlsSecretName, probeObjectName } from "../names.js";
import { collectorKey, desiredProbeObjects, validateProbe } from "../reconcile/probe.js";
import { idOf } from "./applier.js";
import type { ConditionInput } from "./conditions.js";
import { type ControllerContext, issueConditions, reconcileFailed, splitKey, VALID, writeStatus } from "./context.js";
import type { ReconcileResult } from "./controller.js";
import { RESOURCES } from "./kube/resources.js";
import type { IssuedTls } from "./tls/manager.js";

const WAIT_FOR_CA_MS = 5_000;

interface DaemonSetState {
  metadata: { generation?: number };
  status?: {
    observedGeneration?: number;
    desiredNumberScheduled?: number;
    numberReady?: number;
    updatedNumberScheduled?: number;
    numberUnavailable?: number;
  };
}

export function agentConditions(ds: DaemonSetState | undefined): {
  nodes: { nodesDesired: number; nodesReady: number };
  conditions: ConditionInput[];
} {
  const s = ds?.status ?? {};
  const desired = s.desiredNumberScheduled ?? 0;
  const ready = s.numberReady ?? 0;
  const current =
    ds !== undefined &&
    (s.observedGeneration ?? 0) >= (ds.metadata.generation ?? 1) &&
    (s.updatedNumberScheduled ?? 0) >= desired;
  const message = `${ready}/${desired} nodes have a ready agent`;
  const readyCondition: ConditionInput =
    desired === 0
      ? {
          type: "Ready",
          status: "False",
          reason: "NoNodes",
          message:
            "no node runs an agent: none matches nodeSelector and tolerations, or the DaemonSet is not counted yet",
        }
      : ready >= desired && current
        ? { type: "Ready", status: "True", reason: "AgentsReady", message }
        : { type: "Ready", status: "False", reason: "Deploying", message };
  // Missing agents after the rollout finished is a problem; during a rollout it is the rollout.
  const degraded: ConditionInput =
    current && desired > 0 && ready < desired
      ? { type: "Degraded", status: "True", reason: "AgentsUnavailable", message }
      : { type: "Degraded", status: "False", reason: "AsExpected", message: "no failure reported" };
  return { nodes: { nodesDesired: desired, nodesReady: ready }, conditions: [readyCondition, degraded, VALID] };
}

export async function reconcileProbe(ctx: ControllerContext, key: string): Promise<ReconcileResult | undefined> {
  const { namespace, name } = splitKey(key);
  const fp = ctx.caches.probes.get(namespace, name);
  if (!fp || fp.metadata.deletionTimestamp) return undefined;
  const ref = collectorKey(fp);
  const fc = ctx.caches.collectors.get(ref.namespace, ref.name);
  const issues = validateProbe(fp, fc);
  if (!fc || issues.length > 0) {
    await writeStatus(ctx, RESOURCES.flowProbes, fp, {}, issueConditions(issues));
    return undefined;
  }
  const now = ctx.now();
  let tls: IssuedTls | undefined;
  const keep = new Set<string>();
  try {
    if (resolveProbeSpec(fp.spec).export.transport === "grpc" && resolveCollectorSpec(fc.spec).tls?.mode === "auto") {
      ctx.applier.guard();
      tls = await ctx.tls.ensureProbe(fp, fc, now);
      if (!tls) {
        await writeStatus(ctx, RESOURCES.flowProbes, fp, {}, [
          {
            type: "Ready",
            status: "False",
            reason: "WaitingForCertificateAuthority",
            message: `FlowCollector ${ref.namespace}/${ref.name} has not issued its CA yet`,
          },
          { type: "Degraded", status: "False", reason: "AsExpected", message: "waiting" },
          VALID,
        ]);
        return { requeueAfterMs: WAIT_FOR_CA_MS };
      }
      keep.add(`Secret/${agentTlsSecretName(name)}`);
    }
    const desired = desiredProbeObjects(fp, fc, { ...ctx.reconcileOptions, tlsHash: tls?.hash });
    await ctx.applier.apply(desired);
    for (const o of desired) keep.add(idOf(o));
    const c = ctx.caches;
    const pruned = await ctx.applier.prune(
      fp,
      [
        { resource: RESOURCES.daemonSets, cache: c.daemonSets },
        { resource: RESOURCES.configMaps, cache: c.configMaps },
        { resource: RESOURCES.secrets, cache: c.secrets },
      ],
      keep,
    );
    if (pruned.length > 0) ctx.logger.info({ probe: key, pruned }, "pruned objects no longer wanted");
  } catch (err) {
    return await reconcileFailed(ctx, RESOURCES.flowProbes, fp, err);
  }
  const ds = ctx.caches.daemonSets.get(namespace, probeObjectName(name)) as DaemonSetState | undefined;
  const { nodes, conditions } = agentConditions(ds);
  await writeStatus(ctx, RESOURCES.flowProbes, fp, nodes, conditions);
  return tls ? { requeueAfterMs: Math.max(1000, tls.renewAt - now.getTime()) } : undefined;
}
