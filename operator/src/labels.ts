// The labels every object the operator creates carries: the recommended app.kubernetes.io set,
// so that selectors, `kubectl get -l` and garbage collection all agree on what is ours.
export const MANAGED_BY = "flowlens-operator";

export type Component = "agent" | "aggregator" | "operator";

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export function commonLabels(instance: string, component: Component): Record<string, string> {
  if (instance.length > 63 || !LABEL_VALUE.test(instance)) {
    throw new Error(`labels: instance '${instance}' is not a valid label value`);
  }
  return {
    "app.kubernetes.io/name": "flowlens",
    "app.kubernetes.io/instance": instance,
    "app.kubernetes.io/component": component,
    "app.kubernetes.io/managed-by": MANAGED_BY,
  };
}

/** The subset used in selectors: stable for the life of the object (no version labels). */
export function selectorLabels(instance: string, component: Component): Record<string, string> {
  const l = commonLabels(instance, component);
  return {
    "app.kubernetes.io/instance": l["app.kubernetes.io/instance"] ?? instance,
    "app.kubernetes.io/component": component,
  };
}
