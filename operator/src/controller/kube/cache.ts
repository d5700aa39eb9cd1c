// The informers of one resource over the namespaces the operator watches: one informer for all
// namespaces, or one per listed namespace, behind a single get/list/on.
import type { Logger } from "pino";
import type { BackoffOptions } from "../workqueue.js";
import type { KubeClient, KubeObject } from "./client.js";
import { Informer, type InformerFailure, type InformerHandler } from "./informer.js";
import type { ResourceType } from "./resources.js";

export interface CacheOptions {
  /** Empty: all namespaces. */
  namespaces: readonly string[];
  labelSelector?: string;
  watchTimeoutSeconds?: number;
  backoff?: BackoffOptions;
  logger: Logger;
  onRestart?: (resource: string, reason: string) => void;
}

export class ResourceCache<T extends KubeObject> {
  private readonly informers: Informer<T>[];

  constructor(
    client: KubeClient,
    readonly resource: ResourceType,
    o: CacheOptions,
  ) {
    const scopes = o.namespaces.length > 0 ? o.namespaces : [undefined];
    this.informers = scopes.map(
      (namespace) =>
        new Informer<T>(client, {
          resource,
          namespace,
          labelSelector: o.labelSelector,
          watchTimeoutSeconds: o.watchTimeoutSeconds,
          backoff: o.backoff,
          logger: o.logger,
          onRestart: (reason) => o.onRestart?.(resource.plural, reason),
        }),
    );
  }

  on(handler: InformerHandler<T>): void {
    for (const i of this.informers) i.on(handler);
  }

  get(namespace: string, name: string): T | undefined {
    for (const i of this.informers) {
      const o = i.get(namespace, name);
      if (o) return o;
    }
    return undefined;
  }

  list(namespace?: string): T[] {
    return this.informers.flatMap((i) => i.list(namespace));
  }

  synced(): boolean {
    return this.informers.every((i) => i.synced());
  }

  /** The informers whose lists or watches fail now, by namespace ("" for all namespaces). */
  failing(): { namespace: string; failure: InformerFailure }[] {
    const out: { namespace: string; failure: InformerFailure }[] = [];
    for (const i of this.informers) {
      const failure = i.failing();
      if (failure) out.push({ namespace: i.namespace ?? "", failure });
    }
    return out;
  }

  async waitSynced(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.waitSynced()));
  }

  start(): void {
    for (const i of this.informers) i.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }
}
