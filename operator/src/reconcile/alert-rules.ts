// AlertRules -> the `<collector>-alert-rules` ConfigMap its aggregator reads (`--alert-rules`).
// Pure: which rules belong to which collector, whether each parses (the same parseAlertRule the
// aggregator runs, so the two never disagree), and the file they make.
import { type AlertRule, type FlowCollector, parseAlertRule } from "@flowlens/contracts";
import { parse, stringify } from "yaml";
import { alertRulesConfigMapName } from "../names.js";
import { configMap, type DesiredConfigMap, namespaceOf, objectMeta } from "./objects.js";

export const ALERT_RULES_FILE = "rules.yaml";

/** The namespace and name of the FlowCollector an AlertRule's collectorRef points at. */
export function alertRuleCollectorKey(rule: AlertRule): { namespace: string; name: string } {
  return { namespace: rule.spec.collectorRef.namespace ?? namespaceOf(rule), name: rule.spec.collectorRef.name };
}

export function belongsTo(rule: AlertRule, fc: FlowCollector): boolean {
  const k = alertRuleCollectorKey(rule);
  return k.name === fc.metadata.name && k.namespace === namespaceOf(fc);
}

/** The rule as the aggregator reads it: what identifies it and its spec, nothing of the server's. */
function ruleDocument(rule: AlertRule) {
  return {
    apiVersion: rule.apiVersion,
    kind: "AlertRule",
    metadata: { name: rule.metadata.name, namespace: namespaceOf(rule) },
    spec: rule.spec,
  };
}

/** Errors of a rule (empty: accepted), from the aggregator's own parser. */
export function alertRuleErrors(rule: AlertRule): string[] {
  const r = parseAlertRule(ruleDocument(rule), `AlertRule ${namespaceOf(rule)}/${rule.metadata.name}`);
  return r.ok ? [] : r.errors;
}

/**
 * The ConfigMap of a collector's rules: those of `rules` that name it and parse, sorted so that
 * the same rules always make the same file (no needless writes). Rules being deleted are left out.
 */
export function desiredAlertRulesConfigMap(fc: FlowCollector, rules: readonly AlertRule[]): DesiredConfigMap {
  const items = rules
    .filter((r) => belongsTo(r, fc) && !r.metadata.deletionTimestamp && alertRuleErrors(r).length === 0)
    .map(ruleDocument)
    .sort((a, b) =>
      `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`),
    );
  const text = `# Written by the Flowlens operator from the AlertRules naming this FlowCollector.\n${stringify(
    { apiVersion: "v1", kind: "List", items },
    { lineWidth: 0 },
  )}`;
  return configMap(objectMeta(fc, alertRulesConfigMapName(fc.metadata.name), "aggregator"), {
    file: ALERT_RULES_FILE,
    text,
    hash: "",
  });
}

/** The rules (namespace/name) a rules ConfigMap holds; empty if it is not one the operator wrote. */
export function deliveredRules(data: Record<string, string> | undefined): Set<string> {
  const out = new Set<string>();
  const text = data?.[ALERT_RULES_FILE];
  if (!text) return out;
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    return out;
  }
  const items = (doc as { items?: unknown } | null)?.items;
  if (!Array.isArray(items)) return out;
  for (const i of items as { metadata?: { name?: unknown; namespace?: unknown } }[]) {
    const { name, namespace } = i?.metadata ?? {};
    if (typeof name === "string" && typeof namespace === "string") out.add(`${namespace}/${name}`);
  }
  return out;
}
