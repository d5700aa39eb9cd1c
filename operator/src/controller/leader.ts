// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
// the holder renews every retry period; a candidate takes the Lease once it has seen the same
// record unchanged for a whole lease duration (times are measured on the candidate's own clock,
// so clock skew between replicas does not matter); a leader that could not renew for the
// renew deadline (shorter than the lease duration) stops leading before anyone may take over.
// Updates carry the resourceVersion they read, so two candidates cannot both win a race.
// On shutdown the leader releases the Lease so that a standby takes over at once.
import type { Logger } from "pino";
import { isConflict, type KubeClient, type KubeObject } from "./kube/client.js";
import { RESOURCES } from "./kube/resources.js";

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export const DEFAULT_LEASE_TIMING = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

export interface LeaderCallbacks {
  /** Called when this replica becomes the leader. */
  onStartedLeading(): void;
  /** Called when it stops (lost the Lease, or released it); it must stop reconciling. */
  onStoppedLeading(): void;
}

function microTime(d: Date): string {
  return d.toISOString().replace("Z", "000Z");
}

export class LeaderElector {
  private leading = false;
  private lastRenew = 0;
  private observed: { record: string; at: number } | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private failure: { status: number; message: string; since: number } | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly o: LeaderElectionOptions,
    private readonly callbacks: LeaderCallbacks,
    private readonly logger: Logger,
  ) {
    if (!(o.renewDeadlineMs < o.leaseDurationMs && o.retryPeriodMs < o.renewDeadlineMs)) {
      throw new Error("leader election: need retry period < renew deadline < lease duration");
    }
  }

  /** Whether this replica leads now: it renewed within the renew deadline. */
  isLeader(): boolean {
    return this.leading && Date.now() - this.lastRenew < this.o.renewDeadlineMs;
  }

  /** The last Lease read or write that failed, while none has succeeded since. */
  failing(): { status: number; message: string; since: number } | undefined {
    return this.failure;
  }

  start(): void {
    this.loop = this.run();
  }

  /** Stops campaigning; releases the Lease if held. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake?.();
    await this.loop;
    if (this.leading) {
      this.setLeading(false);
      await this.release();
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      // The time before the write: others start counting the lease duration after it landed.
      const attempt = Date.now();
      try {
        const ok = await this.tryAcquireOrRenew();
        this.failure = undefined;
        if (ok) {
          this.lastRenew = attempt;
          if (!this.leading) this.setLeading(true);
        }
      } catch (err) {
        const status = (err as { status?: unknown }).status;
        this.failure = {
          status: typeof status === "number" ? status : 0,
          message: (err as Error).message,
          since: this.failure?.since ?? Date.now(),
        };
        this.logger.warn({ err: (err as Error).message, lease: this.o.name }, "lease update failed");
      }
      if (this.leading && Date.now() - this.lastRenew >= this.o.renewDeadlineMs) {
        this.logger.error({ lease: this.o.name }, "could not renew the lease within the renew deadline: stepping down");
        this.setLeading(false);
      }
      await this.sleep(this.o.retryPeriodMs);
    }
  }

  private setLeading(v: boolean): void {
    this.leading = v;
    this.logger.info(
      { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity },
      v ? "leading" : "not leading",
    );
    if (v) this.callbacks.onStartedLeading();
    else this.callbacks.onStoppedLeading();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.timer = setTimeout(resolve, ms);
      this.wake = () => resolve();
    });
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    const lease = await this.client.get<Lease>(RESOURCES.leases, this.o.namespace, this.o.name);
    const mine: LeaseSpec = {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.ceil(this.o.leaseDurationMs / 1000),
      renewTime: microTime(now),
    };
    if (!lease) {
      try {
        await this.client.create(RESOURCES.leases, this.o.namespace, {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: this.o.name, namespace: this.o.namespace },
          spec: { ...mine, acquireTime: microTime(now), leaseTransitions: 0 },
        });
        return true;
      } catch (err) {
        if (isConflict(err)) return false; // someone else created it first
        throw err;
      }
    }
    const spec = lease.spec ?? {};
    const record = JSON.stringify(spec);
    if (!this.observed || this.observed.record !== record) this.observed = { record, at: Date.now() };
    const held = spec.holderIdentity && spec.holderIdentity !== this.o.identity;
    const durationMs = (spec.leaseDurationSeconds ?? 0) * 1000;
    if (held && Date.now() - this.observed.at < durationMs) return false;
    const takeover = spec.holderIdentity !== this.o.identity;
    try {
      await this.client.update(RESOURCES.leases, this.o.namespace, this.o.name, {
        ...lease,
        spec: {
          ...spec,
          ...mine,
          acquireTime: takeover ? microTime(now) : (spec.acquireTime ?? microTime(now)),
          leaseTransitions: (spec.leaseTransitions ?? 0) + (takeover && spec.holderIdentity ? 1 : 0),
        },
      });
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  /** Gives the Lease up: empty holder, so that a standby need not wait out the duration. */
  private async release(): Promise<void> {
    try {
      const lease = await this.client.get<Lease>(RESOURCES.leases, this.o.namespace, this.o.name);
      if (!lease || lease.spec?.holderIdentity !== this.o.identity) return;
      await this.client.update(RESOURCES.leases, this.o.namespace, this.o.name, {
        ...lease,
        spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: microTime(new Date()) },
      });
      this.logger.info({ lease: this.o.name }, "lease released");
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, "lease release failed");
    }
  }
}
