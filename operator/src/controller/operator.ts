// The running operator: the HTTP endpoints, leader election, and (while leading) the caches
// and the three controllers, wired so that a change to any object reaches the reconcile of the
// resource it belongs to. Losing the Lease stops the controllers and caches; winning it again
// starts fresh ones, so a replica never acts on what it saw while it was not in charge.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { Registry } from "prom-client";
import { MANAGED_BY } from "../labels.js";
import { tlsSecretNames } from "../names.js";
import { alertRuleCollectorKey } from "../reconcile/alert-rules.js";
import { collectorKey } from "../reconcile/probe.js";
import { EngagedAlerts, reconcileAlertRule } from "./alertrule-controller.js";
import { Applier, NotLeaderError } from "./applier.js";
import { reconcileCollector } from "./collector-controller.js";
import type { AlertRuleObject, Caches, CollectorObject, ControllerContext, ProbeObject } from "./context.js";
import { keyFor } from "./context.js";
import { Controller } from "./controller.js";
import { EventRecorder } from "./events.js";
import { type HttpEndpoints, startHttp } from "./http.js";
import { ResourceCache } from "./kube/cache.js";
import { KubeClient, type KubeObject, type RequestRecord } from "./kube/client.js";
import { keyOf } from "./kube/informer.js";
import { RESOURCES, type ResourceType } from "./kube/resources.js";
import { DEFAULT_LEASE_TIMING, LeaderElector } from "./leader.js";
import { OperatorMetrics } from "./metrics.js";
import { reconcileProbe } from "./probe-controller.js";
import { DEFAULT_TLS_TIMING, type TlsTiming } from "./tls/certificates.js";
import { TlsManager } from "./tls/manager.js";
import type { BackoffOptions } from "./workqueue.js";

export interface LeaderElectionConfig {
  namespace: string;
  name: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  /** Namespaces to watch; empty: all. */
  namespaces?: readonly string[];
  /** Image for resources without spec.image. */
  image?: string;
  /** Listen address of /metrics, /healthz, /readyz; undefined or "": none. */
  metricsAddress?: string;
  /** Undefined: no leader election (a single replica). */
  leaderElection?: LeaderElectionConfig;
  /** Names this replica in the Lease and in Events; default hostname_random. */
  identity?: string;
  workers?: number;
  resyncMs?: number;
  backoff?: BackoffOptions;
  watchTimeoutSeconds?: number;
  tlsTiming?: TlsTiming;
  /** While a Secret a FlowCollector names is missing, look again after this long; default 30 s. */
  secretRetryMs?: number;
  /** A cache whose list or watch has failed for this long makes the replica unready; default 30 s. */
  staleAfterMs?: number;
  registry?: Registry;
  /** Every API request, after it completed (tests count them). */
  onRequest?: (r: RequestRecord) => void;
  /** Where the aggregator of a collector answers (default: its Service URL). */
  aggregatorUrl?: (fc: CollectorObject) => string;
}

const DEFAULT_RESYNC_MS = 10 * 60_000;
const DEFAULT_STALE_AFTER_MS = 30_000;

interface Run {
  caches: Caches;
  controllers: Controller[];
}

export class Operator {
  readonly metrics: OperatorMetrics;
  readonly registry: Registry;
  readonly identity: string;
  private readonly client: KubeClient;
  private readonly logger: Logger;
  private elector: LeaderElector | undefined;
  private http: HttpEndpoints | undefined;
  private run: Run | undefined;
  /** Starts and stops of runs, one after the other. */
  private transitions: Promise<void> = Promise.resolve();
  private leading = false;

  constructor(private readonly o: OperatorOptions) {
    this.logger = o.logger;
    this.registry = o.registry ?? new Registry();
    this.metrics = new OperatorMetrics(this.registry);
    this.identity = o.identity ?? `${hostname()}_${randomBytes(6).toString("hex")}`;
    this.client = new KubeClient(o.kubeConfig, {
      onRequest: (r) => {
        this.metrics.request(r);
        o.onRequest?.(r);
      },
    });
  }

  /** The port /metrics listens on (0 when there is no HTTP listener). */
  get httpPort(): number {
    return this.http?.port ?? 0;
  }

  isLeader(): boolean {
    return this.o.leaderElection ? (this.elector?.isLeader() ?? false) : this.leading;
  }

  /**
   * Ready when leading with every cache synced and no list or watch refused (401/403: RBAC that
   * retrying will not fix) or failing for longer than `staleAfterMs` (the cache is out of date);
   * or when standing by, which the reason says: a standby has nothing to sync until it leads,
   * and a standby kept unready would stall the chart's rolling update (maxUnavailable 0).
   */
  readiness(): { ok: boolean; reason: string } {
    const le = this.o.leaderElection;
    const now = Date.now();
    const staleAfterMs = this.o.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
    if (!this.leading) {
      if (!le) return { ok: false, reason: "not started" };
      const lease = `Lease ${le.namespace}/${le.name}`;
      // A standby that cannot read or write the Lease could never take over.
      const f = this.elector?.failing();
      if (f && (f.status === 401 || f.status === 403 || now - f.since >= staleAfterMs)) {
        return { ok: false, reason: `standby that cannot campaign: ${lease}: ${f.message}`.slice(0, 2000) };
      }
      return { ok: true, reason: `standby: not leading (${lease})` };
    }
    const run = this.run;
    if (!run) return { ok: false, reason: "starting the caches" };
    const caches = Object.values(run.caches) as ResourceCache<KubeObject>[];
    const problems: string[] = [];
    for (const c of caches) {
      for (const { namespace, failure } of c.failing()) {
        const refused = failure.status === 401 || failure.status === 403;
        if (refused || !c.synced() || now - failure.since >= staleAfterMs) {
          const where = namespace ? `in ${namespace}` : "in all namespaces";
          problems.push(`${c.resource.plural} ${where}: ${failure.status || "unreachable"} ${failure.message}`);
        }
      }
    }
    const unsynced = caches.filter((c) => !c.synced()).map((c) => c.resource.plural);
    if (unsynced.length > 0) problems.unshift(`not synced: ${unsynced.join(", ")}`);
    if (problems.length > 0) return { ok: false, reason: problems.join("; ").slice(0, 2000) };
    return { ok: true, reason: le ? "leading, caches synced" : "caches synced" };
  }

  /** See readiness(). */
  ready(): boolean {
    return this.readiness().ok;
  }

  async start(): Promise<void> {
    if (this.o.metricsAddress) {
      this.http = await startHttp(
        this.o.metricsAddress,
        this.registry,
        () => ({ ok: true }),
        () => this.readiness(),
      );
      this.logger.info({ address: this.o.metricsAddress, port: this.http.port }, "metrics and health listening");
    }
    const le = this.o.leaderElection;
    if (le) {
      this.elector = new LeaderElector(
        this.client,
        {
          namespace: le.namespace,
          name: le.name,
          identity: this.identity,
          leaseDurationMs: le.leaseDurationMs ?? DEFAULT_LEASE_TIMING.leaseDurationMs,
          renewDeadlineMs: le.renewDeadlineMs ?? DEFAULT_LEASE_TIMING.renewDeadlineMs,
          retryPeriodMs: le.retryPeriodMs ?? DEFAULT_LEASE_TIMING.retryPeriodMs,
        },
        { onStartedLeading: () => this.setLeading(true), onStoppedLeading: () => this.setLeading(false) },
        this.logger,
      );
      this.elector.start();
    } else {
      this.setLeading(true);
    }
    await this.transitions;
  }

  async stop(): Promise<void> {
    if (this.elector) await this.elector.stop();
    else this.setLeading(false);
    await this.transitions;
    await this.http?.close();
  }

  private setLeading(v: boolean): void {
    this.leading = v;
    this.metrics.leader.set(v ? 1 : 0);
    this.transitions = this.transitions.then(async () => {
      try {
        if (v && !this.run) await this.startRun();
        else if (!v && this.run) await this.stopRun();
      } catch (err) {
        this.logger.error({ err }, "starting or stopping the controllers failed");
      }
    });
  }

  private guard = (): void => {
    if (!this.leading || (this.elector && !this.elector.isLeader())) throw new NotLeaderError();
  };

  private async startRun(): Promise<void> {
    const o = this.o;
    const namespaces = o.namespaces ?? [];
    const cacheOf = <T extends KubeObject>(resource: ResourceType, owned: boolean) =>
      new ResourceCache<T>(this.client, resource, {
        namespaces,
        labelSelector: owned ? `app.kubernetes.io/managed-by=${MANAGED_BY}` : undefined,
        watchTimeoutSeconds: o.watchTimeoutSeconds,
        backoff: o.backoff ? { baseMs: o.backoff.baseMs, maxMs: Math.min(o.backoff.maxMs, 30_000) } : undefined,
        logger: this.logger,
        onRestart: (resource, reason) => this.metrics.watchRestarts.inc({ resource, reason }),
      });
    const caches: Caches = {
      collectors: cacheOf<CollectorObject>(RESOURCES.flowCollectors, false),
      probes: cacheOf<ProbeObject>(RESOURCES.flowProbes, false),
      alertRules: cacheOf<AlertRuleObject>(RESOURCES.alertRules, false),
      deployments: cacheOf(RESOURCES.deployments, true),
      daemonSets: cacheOf(RESOURCES.daemonSets, true),
      services: cacheOf(RESOURCES.services, true),
      configMaps: cacheOf(RESOURCES.configMaps, true),
      secrets: cacheOf(RESOURCES.secrets, true),
      networkPolicies: cacheOf(RESOURCES.networkPolicies, true),
    };
    const ctx: ControllerContext = {
      client: this.client,
      caches,
      applier: new Applier(this.client, this.metrics, this.guard),
      events: new EventRecorder(this.client, this.identity, this.logger),
      tls: new TlsManager(this.client, o.tlsTiming ?? DEFAULT_TLS_TIMING, (kind) =>
        this.metrics.certificatesIssued.inc({ kind }),
      ),
      metrics: this.metrics,
      logger: this.logger,
      reconcileOptions: o.image ? { image: o.image } : {},
      secretRetryMs: o.secretRetryMs ?? 30_000,
      now: () => new Date(),
    };
    const common = {
      workers: o.workers,
      backoff: o.backoff,
      resyncMs: o.resyncMs ?? DEFAULT_RESYNC_MS,
      logger: this.logger,
      metrics: this.metrics,
    };
    const collectors = new Controller({
      ...common,
      name: "flowcollector",
      reconcile: (k) => reconcileCollector(ctx, k),
      keys: () => caches.collectors.list().map(keyOf),
    });
    const probes = new Controller({
      ...common,
      name: "flowprobe",
      reconcile: (k) => reconcileProbe(ctx, k),
      keys: () => caches.probes.list().map(keyOf),
    });
    const engaged = new EngagedAlerts(this.logger, 30_000, o.aggregatorUrl, 2_000, (collector) => {
      for (const r of rulesOf(collector)) rules.enqueue(r);
    });
    const rules = new Controller({
      ...common,
      name: "alertrule",
      reconcile: (k) => reconcileAlertRule(ctx, engaged, k),
      keys: () => caches.alertRules.list().map(keyOf),
    });

    const probesOf = (collector: string) =>
      caches.probes
        .list()
        .filter((p) => {
          const k = collectorKey(p);
          return keyFor(k.namespace, k.name) === collector;
        })
        .map(keyOf);
    const rulesOf = (collector: string) =>
      caches.alertRules
        .list()
        .filter((r) => {
          const k = alertRuleCollectorKey(r);
          return keyFor(k.namespace, k.name) === collector;
        })
        .map(keyOf);

    caches.collectors.on((_t, fc) => {
      const key = keyOf(fc);
      collectors.enqueue(key);
      for (const p of probesOf(key)) probes.enqueue(p);
      for (const r of rulesOf(key)) rules.enqueue(r);
    });
    caches.probes.on((_t, fp) => probes.enqueue(keyOf(fp)));
    caches.alertRules.on((_t, r) => {
      rules.enqueue(keyOf(r));
      const k = alertRuleCollectorKey(r);
      collectors.enqueue(keyFor(k.namespace, k.name));
    });
    // Owned objects: back to the resource that controls them (drift repair, status).
    const owned = [
      caches.deployments,
      caches.daemonSets,
      caches.services,
      caches.configMaps,
      caches.secrets,
      caches.networkPolicies,
    ];
    for (const cache of owned) {
      cache.on((_t, obj) => {
        const owner = obj.metadata.ownerReferences?.find((r) => r.controller);
        const ns = obj.metadata.namespace ?? "";
        if (!owner) return;
        const key = keyFor(ns, owner.name);
        if (owner.kind === "FlowCollector") {
          collectors.enqueue(key);
          // Rules report delivery from the rules ConfigMap; probes take their certificates from the CA.
          if (cache === caches.configMaps) for (const r of rulesOf(key)) rules.enqueue(r);
          if (cache === caches.secrets && obj.metadata.name === tlsSecretNames(owner.name).ca) {
            for (const p of probesOf(key)) probes.enqueue(p);
          }
        } else if (owner.kind === "FlowProbe") {
          probes.enqueue(key);
        }
      });
    }
    const all = Object.values(caches) as ResourceCache<KubeObject>[];
    for (const c of all) c.start();
    const run: Run = { caches, controllers: [collectors, probes, rules] };
    this.run = run;
    // Not awaited: with the API server away, syncing waits, and losing the Lease meanwhile
    // must still be able to stop this run.
    void Promise.all(all.map((c) => c.waitSynced())).then(() => {
      if (this.run !== run) return;
      for (const c of run.controllers) c.start();
      this.logger.info(
        { namespaces: namespaces.length > 0 ? namespaces : "all" },
        "caches synced, controllers started",
      );
    });
  }

  private async stopRun(): Promise<void> {
    const run = this.run;
    this.run = undefined;
    if (!run) return;
    await Promise.all(run.controllers.map((c) => c.stop()));
    await Promise.all((Object.values(run.caches) as ResourceCache<KubeObject>[]).map((c) => c.stop()));
    this.logger.info("controllers stopped");
  }
}
