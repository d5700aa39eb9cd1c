// Rendered chart output as typed objects, for the tests that look inside it.
import type { KubernetesObject } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";

export interface Manifest extends KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export function parseManifests(yaml: string): Manifest[] {
  const out: Manifest[] = [];
  for (const doc of parseAllDocuments(yaml)) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors[0]?.message}`);
    const o = doc.toJS() as Manifest | null;
    if (o === null) continue;
    if (!o.kind || !o.apiVersion || !o.metadata?.name) {
      throw new Error(`rendered object without kind, apiVersion or name: ${JSON.stringify(o).slice(0, 200)}`);
    }
    out.push(o);
  }
  return out;
}

export function findManifest(all: Manifest[], kind: string, name?: string): Manifest {
  const found = all.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  if (found.length !== 1) {
    throw new Error(
      `expected one ${kind}${name ? ` ${name}` : ""}, found ${found.length} in: ${all.map((m) => `${m.kind}/${m.metadata.name}`).join(", ")}`,
    );
  }
  return found[0] as Manifest;
}
