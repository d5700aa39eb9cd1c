// The one path by which desired objects reach the cluster: server-side apply with the
// operator's field manager and force (the operator owns these fields; a hand edit of them is
// drift, and is taken back), then pruning: objects this resource controls (controller owner
// reference with its uid) that it no longer wants are deleted, e.g. the NetworkPolicy once
// networkPolicy.enabled is false. Every write first checks that this replica still leads.
import type { DesiredObject, OwnerResource } from "../reconcile/objects.js";
import type { KubeClient, KubeObject } from "./kube/client.js";
import type { ResourceType } from "./kube/resources.js";
import type { OperatorMetrics } from "./metrics.js";

export class NotLeaderError extends Error {
  readonly code = "NOT_LEADER";
  constructor() {
    super("this replica does not hold the leader Lease: no writes");
  }
}

export interface OwnedKind {
  resource: ResourceType;
  /** The cache of the operator's objects of this kind (by the managed-by label). */
  cache: { list(namespace?: string): KubeObject[] };
}

export class Applier {
  constructor(
    private readonly client: KubeClient,
    private readonly metrics: OperatorMetrics,
    /** Throws NotLeaderError when writes must stop. */
    readonly guard: () => void,
  ) {}

  async apply(objects: readonly DesiredObject[]): Promise<void> {
    for (const obj of objects) {
      this.guard();
      await this.client.applyModel(obj);
      this.metrics.applies.inc({ kind: obj.kind });
    }
  }

  /**
   * Deletes what `owner` controls among `kinds` and is not in `keep` ("Kind/name"); returns the
   * deleted objects as "Kind/name".
   */
  async prune(owner: OwnerResource, kinds: readonly OwnedKind[], keep: ReadonlySet<string>): Promise<string[]> {
    const uid = owner.metadata.uid;
    const namespace = owner.metadata.namespace;
    if (!uid || !namespace) return [];
    const deleted: string[] = [];
    for (const { resource, cache } of kinds) {
      for (const obj of cache.list(namespace)) {
        const controlled = obj.metadata.ownerReferences?.some((r) => r.controller && r.uid === uid);
        const id = `${resource.kind}/${obj.metadata.name}`;
        if (!controlled || keep.has(id)) continue;
        this.guard();
        await this.client.delete(resource, namespace, obj.metadata.name, obj.metadata.uid);
        this.metrics.prunes.inc({ kind: resource.kind });
        deleted.push(id);
      }
    }
    return deleted;
  }
}

export function idOf(o: { kind: string; metadata: { name: string } }): string {
  return `${o.kind}/${o.metadata.name}`;
}
