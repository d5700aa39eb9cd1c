// AlertRule status: Accepted (it parses, by the aggregator's own parser), Ready once the rule
// is in its collector's rules ConfigMap (which the collector's reconcile writes), and the
// number of engaged alerts as the aggregator reports them, when it can be reached: best
// effort, cached, and never in the way of the rest.
import type { Logger } from "pino";
import { alertRulesConfigMapName } from "../names.js";
import { alertRuleCollectorKey, alertRuleErrors, deliveredRules } from "../reconcile/alert-rules.js";
import { collectorEndpoints } from "../reconcile/collector.js";
import type { ConditionInput } from "./conditions.js";
import { type CollectorObject, type ControllerContext, splitKey, writeStatus } from "./context.js";
import type { ReconcileResult } from "./controller.js";
import { RESOURCES } from "./kube/resources.js";

export interface RuleState {
  engaged: number;
  lastTransitionMs?: number;
}

/**
 * Reads engaged counts from an aggregator's GET /api/v1/alert-rules, at most once per
 * `ttlMs` per collector; unreachable or unparsable answers count as unknown.
 */
export class EngagedAlerts {
  private readonly cache = new Map<string, { at: number; rules: Map<string, RuleState> | undefined }>();
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly logger: Logger,
    private readonly ttlMs = 30_000,
    private readonly baseUrl: (fc: CollectorObject) => string = (fc) => collectorEndpoints(fc).http,
    private readonly timeoutMs = 2_000,
    /** Called when fresh numbers arrive, to reconcile the rules of that collector again. */
    private readonly onUpdate: (collectorKey: string) => void = () => {},
  ) {}

  /** What is known now; starts a refresh in the background if it is stale. Never waits. */
  get(fc: CollectorObject): Map<string, RuleState> | undefined {
    const key = `${fc.metadata.namespace}/${fc.metadata.name}`;
    const hit = this.cache.get(key);
    if ((!hit || Date.now() - hit.at > this.ttlMs) && !this.inFlight.has(key)) {
      this.inFlight.add(key);
      void this.refresh(fc, key).finally(() => this.inFlight.delete(key));
    }
    return hit?.rules;
  }

  forget(collectorKey: string): void {
    this.cache.delete(collectorKey);
  }

  private async refresh(fc: CollectorObject, key: string): Promise<void> {
    let rules: Map<string, RuleState> | undefined;
    try {
      const res = await fetch(`${this.baseUrl(fc)}/api/v1/alert-rules`, {
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (res.ok) rules = parseRuleStates(await res.json());
    } catch (err) {
      this.logger.debug({ collector: key, err: (err as Error).message }, "aggregator alert rules not reachable");
    }
    const before = this.cache.get(key)?.rules;
    this.cache.set(key, { at: Date.now(), rules });
    if (rules && !sameStates(before, rules)) this.onUpdate(key);
  }
}

/** `[{name, engaged, lastTransitionMs}]`, bare or under `items`/`rules`; names are namespace/name. */
export function parseRuleStates(body: unknown): Map<string, RuleState> | undefined {
  const list = Array.isArray(body)
    ? body
    : ((body as { items?: unknown; rules?: unknown } | null)?.items ?? (body as { rules?: unknown } | null)?.rules);
  if (!Array.isArray(list)) return undefined;
  const out = new Map<string, RuleState>();
  for (const r of list as { name?: unknown; engaged?: unknown; lastTransitionMs?: unknown }[]) {
    if (typeof r?.name !== "string" || typeof r.engaged !== "number" || !Number.isFinite(r.engaged)) continue;
    out.set(r.name, {
      engaged: Math.max(0, Math.floor(r.engaged)),
      ...(typeof r.lastTransitionMs === "number" ? { lastTransitionMs: r.lastTransitionMs } : {}),
    });
  }
  return out;
}

function sameStates(a: Map<string, RuleState> | undefined, b: Map<string, RuleState>): boolean {
  if (!a || a.size !== b.size) return false;
  for (const [k, v] of b) {
    const o = a.get(k);
    if (!o || o.engaged !== v.engaged || o.lastTransitionMs !== v.lastTransitionMs) return false;
  }
  return true;
}

export async function reconcileAlertRule(
  ctx: ControllerContext,
  engaged: EngagedAlerts,
  key: string,
): Promise<ReconcileResult | undefined> {
  const { namespace, name } = splitKey(key);
  const rule = ctx.caches.alertRules.get(namespace, name);
  if (!rule || rule.metadata.deletionTimestamp) return undefined;
  const errors = alertRuleErrors(rule);
  const ref = alertRuleCollectorKey(rule);
  const fc = ctx.caches.collectors.get(ref.namespace, ref.name);
  const conditions: ConditionInput[] = [];
  const fields: Record<string, unknown> = {};
  if (errors.length > 0) {
    const message = errors.join("; ");
    conditions.push(
      { type: "Accepted", status: "False", reason: "InvalidRule", message },
      { type: "Ready", status: "False", reason: "InvalidRule", message },
      { type: "ConfigurationIssue", status: "True", reason: "InvalidRule", message },
    );
  } else {
    conditions.push({ type: "Accepted", status: "True", reason: "Valid", message: "the rule parses" });
    if (!fc) {
      const message = `FlowCollector ${ref.namespace}/${ref.name} does not exist`;
      conditions.push(
        { type: "Ready", status: "False", reason: "CollectorNotFound", message },
        { type: "ConfigurationIssue", status: "True", reason: "CollectorNotFound", message },
      );
    } else {
      const cmName = alertRulesConfigMapName(ref.name);
      const cm = ctx.caches.configMaps.get(ref.namespace, cmName) as { data?: Record<string, string> } | undefined;
      const delivered = deliveredRules(cm?.data).has(key);
      conditions.push(
        delivered
          ? { type: "Ready", status: "True", reason: "Delivered", message: `in ConfigMap ${ref.namespace}/${cmName}` }
          : {
              type: "Ready",
              status: "False",
              reason: "Pending",
              message: `not yet in ConfigMap ${ref.namespace}/${cmName}`,
            },
        { type: "ConfigurationIssue", status: "False", reason: "Valid", message: "the spec is valid" },
      );
      const state = delivered ? engaged.get(fc)?.get(key) : undefined;
      if (state) {
        fields.engaged = state.engaged;
        if (state.lastTransitionMs !== undefined)
          fields.lastTransitionTime = new Date(state.lastTransitionMs).toISOString();
      }
    }
  }
  await writeStatus(ctx, RESOURCES.alertRules, rule, fields, conditions);
  return undefined;
}
