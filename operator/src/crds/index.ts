import { alertRuleCrd } from "./alertrule.js";
import { crdFileName, crdYaml, customResourceDefinition } from "./crd.js";
import { flowCollectorCrd } from "./flowcollector.js";
import { flowProbeCrd } from "./flowprobe.js";

export { alertRuleCrd, alertRuleSpecSchema, alertRuleStatusSchema } from "./alertrule.js";
export {
  CATEGORY,
  type CrdDefinition,
  type CustomResourceDefinition,
  crdFileName,
  crdYaml,
  customResourceDefinition,
  type PrinterColumn,
} from "./crd.js";
export {
  FLOW_LISTENER_PORTS,
  flowCollectorCrd,
  flowCollectorSpecSchema,
  flowCollectorStatusSchema,
  LISTENER_PORTS,
  type ResolvedCollectorSpec,
  resolveCollectorSpec,
} from "./flowcollector.js";
export {
  flowProbeCrd,
  flowProbeSpecSchema,
  flowProbeStatusSchema,
  type ResolvedProbeSpec,
  resolveProbeSpec,
} from "./flowprobe.js";
export {
  type Defaulted,
  type EnumOf,
  type LooseSchema,
  members,
  type Schema,
  toOpenApi,
  type ValidationRule,
  withDefaults,
} from "./schema.js";

export const crdDefinitions = [flowProbeCrd, flowCollectorCrd, alertRuleCrd] as const;

/** What `make gen` writes under crds/: file name -> content. */
export function renderCrdFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const d of crdDefinitions) {
    const crd = customResourceDefinition(d);
    files.set(crdFileName(crd), crdYaml(crd));
  }
  return files;
}
