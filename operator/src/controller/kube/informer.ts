// A list-and-watch cache of one resource, as client-go's reflector keeps it: list (in pages),
// then watch from the list's resourceVersion; a watch that ends normally is resumed where it
// stopped; "410 Gone" (the version was compacted away) means list again, and what vanished in
// between is reported as deleted; any other failure (API server down, connection reset) is
// retried with exponential backoff, forever, until stop(). A watch silent for longer than its
// server-side timeout plus a margin is presumed dead and replaced.
import type { Logger } from "pino";
import type { Verb } from "../rbac.js";
import type { BackoffOptions } from "../workqueue.js";
import { isGone, type KubeClient, type KubeObject } from "./client.js";
import { apiVersionOf, collectionPath, type ResourceType } from "./resources.js";

export type InformerEventType = "add" | "update" | "delete";

/** The last list or watch that failed, while it has not succeeded since. */
export interface InformerFailure {
  /** HTTP status; 0 when the API server was not reached. */
  status: number;
  message: string;
  /** Date.now() of the first failure of this run of failures. */
  since: number;
}
export type InformerHandler<T> = (type: InformerEventType, obj: T) => void;

export interface InformerOptions {
  resource: ResourceType;
  /** Undefined: all namespaces. */
  namespace?: string;
  labelSelector?: string;
  /** Server-side watch timeout; each watch picks a random one in [t, 2t) so they do not all end together. */
  watchTimeoutSeconds?: number;
  backoff?: BackoffOptions;
  pageSize?: number;
  logger: Logger;
  /** Counts relists and watch restarts by reason, for metrics. */
  onRestart?: (reason: "expired" | "error" | "closed" | "stalled") => void;
}

export class Informer<T extends KubeObject> {
  private readonly store = new Map<string, T>();
  private readonly handlers: InformerHandler<T>[] = [];
  private resourceVersion = "";
  private stopped = true;
  private hasSynced = false;
  /** Ends the watch in progress, connected or still waiting for the API server's answer. */
  private cancelWatch: (() => void) | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private syncWaiters: (() => void)[] = [];
  private failure: InformerFailure | undefined;
  /** The message of the last 410 a watch reported (the API server says where it came from). */
  private expiredMessage = "";

  constructor(
    private readonly client: KubeClient,
    private readonly o: InformerOptions,
  ) {}

  get resource(): ResourceType {
    return this.o.resource;
  }

  on(handler: InformerHandler<T>): void {
    this.handlers.push(handler);
  }

  get(namespace: string, name: string): T | undefined {
    return this.store.get(`${namespace}/${name}`);
  }

  list(namespace?: string): T[] {
    const all = [...this.store.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata.namespace === namespace);
  }

  synced(): boolean {
    return this.hasSynced;
  }

  /** Undefined while lists and watches work (or are retried after a normal end). */
  failing(): InformerFailure | undefined {
    return this.failure;
  }

  get namespace(): string | undefined {
    return this.o.namespace;
  }

  private failed(err: unknown): void {
    const status =
      (err as { status?: number; statusCode?: number }).status ?? (err as { statusCode?: number }).statusCode;
    this.failure = {
      status: typeof status === "number" ? status : 0,
      message: (err as Error).message ?? String(err),
      since: this.failure?.since ?? Date.now(),
    };
  }

  /** Resolves after the first complete list. */
  waitSynced(): Promise<void> {
    if (this.hasSynced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelWatch?.();
    this.wake?.();
    await this.loop;
    for (const w of this.syncWaiters.splice(0)) w();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        if (!this.resourceVersion) await this.relist();
        const end = await this.watchOnce();
        failures = 0;
        if (end !== "closed") this.o.onRestart?.(end);
        if (end === "expired") this.expired(this.expiredMessage);
      } catch (err) {
        if (this.stopped) break;
        if (isGone(err)) {
          this.o.onRestart?.("expired");
          this.expired((err as Error).message);
          continue;
        }
        failures += 1;
        this.failed(err);
        this.o.onRestart?.("error");
        const b = this.o.backoff ?? { baseMs: 200, maxMs: 30_000 };
        const delay = Math.min(b.maxMs, b.baseMs * 2 ** Math.min(failures - 1, 20));
        this.o.logger.warn(
          { resource: this.o.resource.plural, err: (err as Error).message, retryInMs: delay },
          "list/watch failed",
        );
        await this.sleep(delay);
      }
    }
  }

  /** The watch's resourceVersion is gone (etcd compacted it): the next round lists again. */
  private expired(message: string): void {
    this.o.logger.info(
      { resource: this.o.resource.plural, namespace: this.o.namespace, resourceVersion: this.resourceVersion, message },
      "watch expired (410 Gone): relisting",
    );
    this.resourceVersion = "";
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async relist(): Promise<void> {
    const fresh = new Map<string, T>();
    let cont: string | undefined;
    let rv = "";
    do {
      const page = await this.client.list<T>(this.o.resource, this.o.namespace, {
        labelSelector: this.o.labelSelector,
        limit: this.o.pageSize ?? 500,
        continue: cont,
      });
      for (const item of page.items) {
        // List items of built-in kinds come without apiVersion and kind; watch events have them.
        item.apiVersion ??= apiVersionOf(this.o.resource);
        item.kind ??= this.o.resource.kind;
        fresh.set(keyOf(item), item);
      }
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion ?? "";
    } while (cont);
    for (const [key, old] of this.store) {
      if (!fresh.has(key)) {
        this.store.delete(key);
        this.emit("delete", old);
      }
    }
    for (const [key, obj] of fresh) {
      const old = this.store.get(key);
      this.store.set(key, obj);
      if (!old) this.emit("add", obj);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.emit("update", obj);
    }
    this.resourceVersion = rv;
    this.failure = undefined;
    if (!this.hasSynced) {
      this.hasSynced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  /** One watch from this.resourceVersion; resolves with why it ended, rejects on failure. */
  private async watchOnce(): Promise<"closed" | "expired" | "stalled"> {
    const verb: Verb = "watch";
    this.client.authorize(verb, this.o.resource);
    const base = this.o.watchTimeoutSeconds ?? 300;
    const timeoutSeconds = base + Math.floor(Math.random() * base);
    const started = performance.now();
    let expired = false;
    let stalled = false;
    let watchdog: NodeJS.Timeout | undefined;
    const path = collectionPath(this.o.resource, this.o.namespace);
    return new Promise((resolve, reject) => {
      let controller: AbortController | undefined;
      let ended = false;
      // Aborts a connected watch (its done follows); one still waiting for response headers
      // (a peer gone silent) cannot be aborted through the client, so it is abandoned, and
      // aborted once it answers.
      const cancel = () => {
        if (controller) controller.abort();
        else done(null);
      };
      this.cancelWatch = cancel;
      const pet = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(
          () => {
            stalled = true;
            cancel();
          },
          (timeoutSeconds + 30) * 1000,
        );
        watchdog.unref();
      };
      const done = (err: unknown) => {
        if (ended) return;
        ended = true;
        clearTimeout(watchdog);
        if (this.cancelWatch === cancel) this.cancelWatch = undefined;
        const status = (err as { statusCode?: number } | null)?.statusCode ?? (err ? 0 : 200);
        this.client.record(verb, this.o.resource, status, started);
        if (this.stopped) resolve("closed");
        else if (expired || status === 410) resolve("expired");
        else if (stalled) resolve("stalled");
        else if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else resolve("closed");
      };
      pet();
      this.client.watcher
        .watch(
          path,
          {
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds,
            labelSelector: this.o.labelSelector,
          },
          (type: string, obj: T & { code?: number }) => {
            if (ended) return;
            pet();
            if (type === "ERROR") {
              // A Status object: 410 means our version is gone; the server ends the watch after it.
              if (obj.code === 410) {
                expired = true;
                this.expiredMessage = String((obj as { message?: unknown }).message ?? "");
              }
              return;
            }
            if (obj.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
            if (type === "BOOKMARK") return;
            const key = keyOf(obj);
            if (type === "DELETED") {
              if (this.store.delete(key)) this.emit("delete", obj);
            } else if (type === "ADDED" || type === "MODIFIED") {
              const had = this.store.has(key);
              this.store.set(key, obj);
              this.emit(had ? "update" : "add", obj);
            }
          },
          done,
        )
        .then(
          (c) => {
            controller = c;
            if (ended) {
              c.abort();
              return;
            }
            // The API server answered 200: the watch runs, whatever failed before is over.
            this.failure = undefined;
            if (this.stopped) c.abort();
          },
          (err) => done(err),
        );
    });
  }

  private emit(type: InformerEventType, obj: T): void {
    for (const h of this.handlers) {
      try {
        h(type, obj);
      } catch (err) {
        this.o.logger.error({ err, resource: this.o.resource.plural }, "informer handler failed");
      }
    }
  }
}

export function keyOf(obj: { metadata: { namespace?: string; name: string } }): string {
  return `${obj.metadata.namespace ?? ""}/${obj.metadata.name}`;
}
