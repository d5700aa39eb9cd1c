// The chart grants the operator exactly what the operator declares it uses
// (OPERATOR_RBAC, which its Kubernetes client also enforces on every request): no verb more,
// no verb less, the leader-election Lease only in the release namespace.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { OPERATOR_RBAC, type PolicyRule } from "@flowlens/operator";
import { makeTempDir, removeTempDir } from "@flowlens/testkit";
import { Helm } from "./helm.js";
import { findManifest, type Manifest, parseManifests } from "./manifests.js";

/** Rules as a set of `group/resource verb` grants, the unit RBAC authorizes by. */
function grants(rules: readonly PolicyRule[]): Set<string> {
  const out = new Set<string>();
  for (const r of rules) {
    for (const g of r.apiGroups) for (const res of r.resources) for (const v of r.verbs) out.add(`${g}/${res} ${v}`);
  }
  return out;
}

const rulesOf = (m: Manifest) => (m.rules as PolicyRule[] | undefined) ?? [];
const isLease = (grant: string) => grant.startsWith("coordination.k8s.io/leases ");

describe("chart RBAC against the operator's OPERATOR_RBAC", () => {
  let dir: string;
  let helm: Helm;
  let declared: Set<string>;
  before(() => {
    dir = makeTempDir("chart-rbac");
    helm = new Helm(dir);
    declared = grants(OPERATOR_RBAC);
  });
  after(() => removeTempDir(dir));

  it("grants exactly the declared rules: cluster-wide for resources, a Role for the Lease", () => {
    const all = parseManifests(helm.render({}, { release: "flowlens", namespace: "flowlens-system" }));
    const cluster = findManifest(all, "ClusterRole");
    const leader = findManifest(all, "Role");
    assert.equal(leader.metadata.namespace, "flowlens-system");

    const clusterGrants = grants(rulesOf(cluster));
    const leaderGrants = grants(rulesOf(leader));
    assert.deepEqual([...clusterGrants].filter(isLease), [], "Leases are not granted cluster-wide");
    assert.deepEqual(
      [...leaderGrants].filter((g) => !isLease(g)),
      [],
      "the leader-election Role grants Leases only",
    );
    const granted = new Set([...clusterGrants, ...leaderGrants]);
    assert.deepEqual(
      [...granted].filter((g) => !declared.has(g)).sort(),
      [],
      "the chart grants what the operator does not use",
    );
    assert.deepEqual(
      [...declared].filter((g) => !granted.has(g)).sort(),
      [],
      "the operator uses what the chart does not grant",
    );
    // No wildcard ever, and nothing beyond the named resources.
    for (const r of [...rulesOf(cluster), ...rulesOf(leader)]) {
      assert.ok(!r.verbs.includes("*") && !r.resources.includes("*") && !r.apiGroups.includes("*"));
      assert.equal((r as { resourceNames?: unknown }).resourceNames, undefined);
    }
  });

  it("binds both to the operator's ServiceAccount, in the release namespace", () => {
    const all = parseManifests(helm.render({}, { release: "flowlens", namespace: "flowlens-system" }));
    const sa = findManifest(all, "ServiceAccount");
    const deployment = findManifest(all, "Deployment");
    const podSpec = (deployment.spec as { template: { spec: { serviceAccountName: string } } }).template.spec;
    assert.equal(podSpec.serviceAccountName, sa.metadata.name);
    for (const [kind, roleKind] of [
      ["ClusterRoleBinding", "ClusterRole"],
      ["RoleBinding", "Role"],
    ] as const) {
      const b = findManifest(all, kind);
      const role = findManifest(all, roleKind);
      assert.deepEqual(b.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: roleKind, name: role.metadata.name });
      assert.deepEqual(b.subjects, [{ kind: "ServiceAccount", name: sa.metadata.name, namespace: "flowlens-system" }]);
    }
  });

  it("with operator.watchNamespaces: a Role with the same grants in each, no ClusterRole", () => {
    const all = parseManifests(
      helm.render(
        { operator: { watchNamespaces: ["team-a", "team-b"] } },
        { release: "flowlens", namespace: "flowlens-system" },
      ),
    );
    assert.equal(
      all.some((m) => m.kind === "ClusterRole" || m.kind === "ClusterRoleBinding"),
      false,
    );
    const roles = all.filter((m) => m.kind === "Role");
    const leader = roles.find((r) => r.metadata.namespace === "flowlens-system");
    assert.ok(leader, `Roles: ${roles.map((r) => `${r.metadata.namespace}/${r.metadata.name}`)}`);
    for (const ns of ["team-a", "team-b"]) {
      const watched = roles.find((r) => r.metadata.namespace === ns);
      assert.ok(watched, `no Role in ${ns}`);
      const granted: Set<string> = new Set([...grants(rulesOf(watched)), ...grants(rulesOf(leader))]);
      assert.deepEqual([...granted].sort(), [...declared].sort());
      const binding = all.find((m) => m.kind === "RoleBinding" && m.metadata.namespace === ns);
      assert.deepEqual(binding?.subjects, [
        {
          kind: "ServiceAccount",
          name: findManifest(all, "ServiceAccount").metadata.name,
          namespace: "flowlens-system",
        },
      ]);
    }
    const args = (
      findManifest(all, "Deployment").spec as { template: { spec: { containers: Array<{ args: string[] }> } } }
    ).template.spec.containers[0]?.args;
    assert.deepEqual(
      args?.filter((a) => a.startsWith("--namespace")),
      ["--namespace=team-a", "--namespace=team-b"],
    );
  });

  it("without leader election: no Lease permission at all; rbac.create=false: no RBAC objects", () => {
    const noLeader = parseManifests(helm.render({ operator: { leaderElection: { enabled: false } } }));
    assert.equal(
      noLeader.some((m) => m.kind === "Role"),
      false,
    );
    const args = (
      findManifest(noLeader, "Deployment").spec as { template: { spec: { containers: Array<{ args: string[] }> } } }
    ).template.spec.containers[0]?.args;
    assert.ok(args && !args.includes("--leader-elect"), `args: ${args}`);

    const none = parseManifests(
      helm.render({ rbac: { create: false }, serviceAccount: { create: false, name: "existing" } }),
    );
    assert.deepEqual(
      none.filter((m) => /Role/.test(m.kind) || m.kind === "ServiceAccount").map((m) => m.kind),
      [],
    );
  });
});
