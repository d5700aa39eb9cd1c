// Every API resource and verb the operator uses, and nothing else: the Helm chart's ClusterRole
// is checked against this list, the operator's client refuses any request outside it (so a
// new call cannot ship without its permission), and the tests run the operator under a
// ServiceAccount bound to exactly these rules.

export interface PolicyRule {
  apiGroups: readonly string[];
  resources: readonly string[];
  verbs: readonly string[];
}

export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete";

/** What the operator manages for a resource: cached by label, applied, pruned. */
const MANAGED: readonly Verb[] = ["list", "watch", "create", "patch", "delete"];

export const OPERATOR_RBAC: readonly PolicyRule[] = [
  // The custom resources: read through informers, status written by server-side apply.
  { apiGroups: ["flowlens.dev"], resources: ["flowcollectors", "flowprobes", "alertrules"], verbs: ["list", "watch"] },
  {
    apiGroups: ["flowlens.dev"],
    resources: ["flowcollectors/status", "flowprobes/status", "alertrules/status"],
    verbs: ["patch"],
  },
  // Owned objects carry owner references with blockOwnerDeletion; clusters that enforce
  // owner-reference permissions (OwnerReferencesPermissionEnforcement, e.g. OpenShift) require
  // update on the owner's finalizers subresource for that. The operator never calls it itself.
  { apiGroups: ["flowlens.dev"], resources: ["flowcollectors/finalizers", "flowprobes/finalizers"], verbs: ["update"] },
  // What a FlowCollector or FlowProbe becomes. Server-side apply is a PATCH, and a PATCH that
  // creates the object also needs create.
  { apiGroups: ["apps"], resources: ["deployments", "daemonsets"], verbs: MANAGED },
  { apiGroups: [""], resources: ["services", "configmaps"], verbs: MANAGED },
  { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: MANAGED },
  // Issued certificates (managed as above) and get for a collector's CA and provided Secrets.
  { apiGroups: [""], resources: ["secrets"], verbs: ["get", ...MANAGED] },
  // Leader election, in the Lease's namespace only (a Role is enough).
  { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
  { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create"] },
];

export function rbacAllows(group: string, resource: string, verb: Verb, rules = OPERATOR_RBAC): boolean {
  return rules.some(
    (r) =>
      (r.apiGroups.includes(group) || r.apiGroups.includes("*")) &&
      (r.resources.includes(resource) || r.resources.includes("*")) &&
      (r.verbs.includes(verb) || r.verbs.includes("*")),
  );
}

export class RbacError extends Error {
  readonly code = "RBAC_NOT_DECLARED";
  constructor(group: string, resource: string, verb: Verb) {
    super(`the operator tried to ${verb} ${resource}${group ? `.${group}` : ""}, which OPERATOR_RBAC does not grant`);
  }
}
