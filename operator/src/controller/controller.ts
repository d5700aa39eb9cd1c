// One controller: a work queue of namespace/name keys, a few workers calling the reconcile
// function, retries with per-key backoff when it throws, a requeue when it asks for one (a
// certificate to renew), and a periodic resync of every key so that anything a watch missed is
// caught up. The work queue guarantees one reconcile of a key at a time.
import type { Logger } from "pino";
import { KubeApiError } from "./kube/client.js";
import type { OperatorMetrics } from "./metrics.js";
import { type BackoffOptions, WorkQueue } from "./workqueue.js";

export interface ReconcileResult {
  /** Reconcile this key again after this long (e.g. when a certificate is due for renewal). */
  requeueAfterMs?: number;
}

export type ReconcileFn = (key: string) => Promise<ReconcileResult | undefined>;

export interface ControllerOptions {
  name: string;
  reconcile: ReconcileFn;
  /** Every key the controller is responsible for, for the periodic resync. */
  keys: () => string[];
  workers?: number;
  backoff?: BackoffOptions;
  resyncMs?: number;
  logger: Logger;
  metrics: OperatorMetrics;
}

export class Controller {
  readonly queue: WorkQueue;
  private workers: Promise<void>[] = [];
  private resync: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly o: ControllerOptions) {
    this.queue = new WorkQueue(o.backoff);
  }

  get name(): string {
    return this.o.name;
  }

  enqueue(key: string): void {
    if (!this.running) return;
    this.queue.add(key);
    this.o.metrics.queueDepth.set({ controller: this.o.name }, this.queue.depth());
  }

  start(): void {
    this.running = true;
    for (const k of this.o.keys()) this.queue.add(k);
    for (let i = 0; i < (this.o.workers ?? 2); i++) this.workers.push(this.work());
    if (this.o.resyncMs) {
      this.resync = setInterval(() => {
        for (const k of this.o.keys()) this.enqueue(k);
      }, this.o.resyncMs);
      this.resync.unref();
    }
  }

  /** Stops taking keys; waits for the reconciles in progress. */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.resync);
    this.queue.shutdown();
    await Promise.all(this.workers);
    this.workers = [];
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const { name, metrics, logger } = this.o;
      metrics.queueDepth.set({ controller: name }, this.queue.depth());
      const end = metrics.reconcileSeconds.startTimer({ controller: name });
      try {
        const result = await this.o.reconcile(key);
        this.queue.forget(key);
        if (result?.requeueAfterMs !== undefined) {
          this.queue.addAfter(key, result.requeueAfterMs);
          metrics.reconciles.inc({ controller: name, result: "requeue" });
        } else {
          metrics.reconciles.inc({ controller: name, result: "success" });
        }
      } catch (err) {
        const reason = errorReason(err);
        metrics.reconciles.inc({ controller: name, result: "error" });
        metrics.reconcileErrors.inc({ controller: name, reason });
        if (this.running) {
          const retryInMs = this.queue.addRateLimited(key);
          logger.warn(
            { controller: name, key, reason, err: (err as Error).message, retryInMs, retries: this.queue.retries(key) },
            "reconcile failed",
          );
        }
      } finally {
        end();
        this.queue.done(key);
      }
    }
  }
}

/** A bounded label value for an error: the HTTP status, or the error's code. */
function errorReason(err: unknown): string {
  if (err instanceof KubeApiError) return err.status === 0 ? "unreachable" : String(err.status);
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && /^[A-Z_]{1,40}$/.test(code) ? code : "other";
}
