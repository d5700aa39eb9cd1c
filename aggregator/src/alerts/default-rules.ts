// The rule set Flowlens ships, on unless turned off: scan and flood detection, nDPI risk checks
// and DNS error bursts. A rule of the same name in the rules files replaces one of these (with
// params.enabled: "false" it turns it off).
import { parseAlertRule } from "@flowlens/contracts";
import type { LoadedRule } from "./engine.js";

export const DEFAULT_RULE_PREFIX = "flowlens-default-";

const specs: Array<{ name: string; severity: string; check: string; params?: Record<string, string | number> }> = [
  { name: "port-scan", severity: "warning", check: "port-scan" },
  { name: "syn-flood", severity: "error", check: "syn-flood" },
  { name: "icmp-flood", severity: "warning", check: "icmp-flood" },
  { name: "flow-flood", severity: "warning", check: "flow-flood" },
  { name: "dns-errors", severity: "warning", check: "dns-errors" },
  { name: "tls-risks", severity: "warning", check: "tls-risks" },
  { name: "flow-risks", severity: "error", check: "flow-risks" },
];

/** The default rules, parsed (they always parse: a test says so). */
export function defaultRules(): LoadedRule[] {
  return specs.map((s) => {
    const name = `${DEFAULT_RULE_PREFIX}${s.name}`;
    const origin = `default rule ${name}`;
    const r = parseAlertRule(
      { name, severity: s.severity, check: { name: s.check, ...(s.params ? { params: s.params } : {}) } },
      origin,
    );
    return r.ok ? { origin, name, rule: r.rule, errors: [] } : { origin, name, errors: r.errors };
  });
}
