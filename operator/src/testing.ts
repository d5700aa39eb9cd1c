// Test helpers: the sample resources under crds/samples, typed, as the API server would hand
// them to the reconcilers (namespace and uid set).
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { AlertRule, FlowCollector, FlowProbe } from "@flowlens/contracts";
import { parse } from "yaml";

export const crdsDir = fileURLToPath(new URL("../../crds/", import.meta.url));
export const samplesDir = fileURLToPath(new URL("../../crds/samples/", import.meta.url));

export type FlowlensResource = FlowProbe | FlowCollector | AlertRule;

export function sampleFiles(): string[] {
  return readdirSync(samplesDir)
    .filter((f) => f.endsWith(".yaml"))
    .sort();
}

export function loadSample<T extends FlowlensResource>(file: string): T {
  return parse(readFileSync(`${samplesDir}${file}`, "utf8")) as T;
}

let uids = 0;
/** A copy placed in a namespace with a uid, as if read back from the API server. */
export function stored<T extends FlowlensResource>(cr: T, namespace = "flowlens"): T {
  uids += 1;
  return {
    ...structuredClone(cr),
    metadata: { ...cr.metadata, namespace, uid: `00000000-0000-4000-8000-${String(uids).padStart(12, "0")}` },
  };
}
