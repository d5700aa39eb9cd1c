// Finding and reading desired objects in the reconcilers' tests.
import assert from "node:assert/strict";
import { parse } from "yaml";
import type { DesiredObject } from "./objects.js";

export function find<K extends DesiredObject["kind"]>(
  objects: DesiredObject[],
  kind: K,
  name?: string,
): Extract<DesiredObject, { kind: K }> {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.equal(found.length, 1, `one ${kind}${name ? ` ${name}` : ""}, got ${found.length}`);
  return found[0] as Extract<DesiredObject, { kind: K }>;
}

/** The settings in the ConfigMap's one config file. */
export function configOf(objects: DesiredObject[], file: string): Record<string, unknown> {
  const text = find(objects, "ConfigMap").data?.[file];
  assert.ok(text, `ConfigMap has ${file}`);
  return parse(text) as Record<string, unknown>;
}

export function podSpecOf(objects: DesiredObject[]) {
  const w = objects.find((o) => o.kind === "Deployment" || o.kind === "DaemonSet");
  assert.ok(w && (w.kind === "Deployment" || w.kind === "DaemonSet"), "a workload");
  const spec = w.spec?.template.spec;
  assert.ok(spec, "a pod spec");
  return spec;
}

export function containerOf(objects: DesiredObject[]) {
  const spec = podSpecOf(objects);
  assert.equal(spec.containers.length, 1);
  return spec.containers[0] as NonNullable<(typeof spec.containers)[number]>;
}
