// The aggregator component: live state, the ingest pipeline every transport feeds, the alert
// engine watching what it applies (with its notification dispatcher and rules file), HTTP (API,
// metrics, health). Transports (gRPC, NATS, the collector, the in-process path of `flowlens up`)
// plug in; stop() stops ingest first, so that what was acknowledged is what is in the state,
// then the alerts (saved for the next start) and the notifications still queued.
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { collectDefaultMetrics, Registry } from "prom-client";
import { AlertEngine } from "./alerts/engine.js";
import type { EndpointDefaults } from "./alerts/notify/defaults.js";
import { NotificationDispatcher } from "./alerts/notify/dispatcher.js";
import { loadRules, RulesWatcher } from "./alerts/rules-loader.js";
import { buildHttpServer } from "./api/server.js";
import { SequenceDeduper } from "./ingest/dedupe.js";
import { IngestPipeline } from "./ingest/pipeline.js";
import { registerAggregatorMetrics, registerAlertMetrics, registerTransportMetrics } from "./metrics.js";
import { LocalNetworks } from "./networks.js";
import { LiveState } from "./state/live-state.js";
import type { StateConfig } from "./state/types.js";

/** A running ingest transport (gRPC server, NATS consumer) as the aggregator manages it. */
export interface IngestTransport {
  readonly name: string;
  start(): Promise<void>;
  stop(graceMs: number): Promise<void>;
  /** Metric rows for the transport's own health. */
  metricRows(): Array<{ name: string; value: number; reason?: string }>;
}

export interface AggregatorOptions {
  httpHost?: string;
  httpPort: number;
  localNetworks: string[];
  topHosts: number;
  state: StateConfig;
  shutdownGraceMs: number;
  alerts?: AlertsOptions;
}

export interface AlertsOptions {
  /** A rules file or directory (--alert-rules), watched; none: the default rules only. */
  rulesPath?: string;
  /** Where past and engaged alerts persist (--data-dir); none: memory only. */
  dataDir?: string;
  /** The default rule set (on unless turned off). */
  defaultRules?: boolean;
  /** Evaluation period (--alert-evaluation-interval; tests shorten it). */
  evaluateIntervalMs?: number;
  /** Threshold periods last this many times their window (--alert-window-scale; tests, demos). */
  windowScale?: number;
  /** Options endpoints of the rules get when they do not set them (--smtp-*, --webhook-secret-file). */
  endpointDefaults?: EndpointDefaults;
  rulesPollMs?: number;
}

export class Aggregator {
  readonly registry = new Registry();
  readonly state: LiveState;
  readonly ingest: IngestPipeline;
  readonly deduper = new SequenceDeduper();
  readonly alerts: AlertEngine;
  readonly notifications: NotificationDispatcher;
  private rulesWatcher: RulesWatcher | undefined;
  private readonly transports: IngestTransport[] = [];
  private http: FastifyInstance | undefined;
  private ready = false;
  httpPort = 0;

  constructor(
    private readonly options: AggregatorOptions,
    private readonly logger: Logger,
  ) {
    this.state = new LiveState(options.state, new LocalNetworks(options.localNetworks));
    this.ingest = new IngestPipeline(this.state, this.deduper);
    collectDefaultMetrics({ register: this.registry, prefix: "flowlens_aggregator_process_" });
    registerAggregatorMetrics(this.registry, {
      state: this.state,
      ingest: this.ingest,
      topHosts: options.topHosts,
    });
    const alerts = options.alerts ?? {};
    this.notifications = new NotificationDispatcher({
      logger: logger.child({ component: "notify" }),
      registry: this.registry,
    });
    this.alerts = new AlertEngine({
      logger: logger.child({ component: "alerts" }),
      sink: this.notifications,
      localNetworks: options.localNetworks,
      ...(alerts.dataDir !== undefined ? { dataDir: alerts.dataDir } : {}),
      ...(alerts.evaluateIntervalMs !== undefined ? { evaluateIntervalMs: alerts.evaluateIntervalMs } : {}),
      ...(alerts.windowScale !== undefined ? { windowScale: alerts.windowScale } : {}),
    });
    this.ingest.observer = this.alerts;
    registerAlertMetrics(this.registry, this.alerts);
  }

  /** Loads the rules (the rules path must exist: RulesPathError otherwise) and starts the engine. */
  private startAlerts(): void {
    const a = this.options.alerts ?? {};
    const withDefaults = a.defaultRules !== false;
    if (a.rulesPath !== undefined) {
      this.rulesWatcher = new RulesWatcher(
        a.rulesPath,
        (rules) => this.alerts.setRules(rules),
        this.logger.child({ component: "alerts" }),
        withDefaults,
        a.rulesPollMs,
        a.endpointDefaults,
      );
      this.rulesWatcher.start();
    } else this.alerts.setRules(loadRules(undefined, withDefaults, a.endpointDefaults));
    this.alerts.start();
  }

  /** Adds a transport; started by start(), or at once if already started. */
  async addTransport(t: IngestTransport): Promise<void> {
    this.transports.push(t);
    registerTransportMetrics(this.registry, t.name, () => t.metricRows());
    if (this.ready) await t.start();
  }

  async start(): Promise<void> {
    this.startAlerts();
    this.http = await buildHttpServer({
      state: this.state,
      registry: this.registry,
      logger: this.logger,
      ready: () => this.ready,
      alerts: { engine: this.alerts },
    });
    await this.http.listen({ port: this.options.httpPort, host: this.options.httpHost ?? "0.0.0.0" });
    const addr = this.http.server.address();
    this.httpPort = typeof addr === "object" && addr ? addr.port : this.options.httpPort;
    for (const t of this.transports) await t.start();
    this.ready = true;
    this.logger.info(
      {
        httpPort: this.httpPort,
        transports: this.transports.map((t) => t.name),
        localNetworks: this.options.localNetworks,
      },
      "aggregator started",
    );
  }

  async stop(): Promise<void> {
    this.ready = false;
    const grace = this.options.shutdownGraceMs;
    await Promise.all(
      this.transports.map((t) =>
        t
          .stop(grace)
          .catch((err: Error) => this.logger.warn({ transport: t.name, error: err.message }, "transport stop failed")),
      ),
    );
    await this.http?.close();
    this.rulesWatcher?.stop();
    await this.alerts.stop();
    const left = await this.notifications.stop(Date.now() + grace);
    if (left.undelivered > 0) this.logger.warn({ undelivered: left.undelivered }, "notifications left undelivered");
    const totals = this.state.totals();
    this.logger.info({ flows: totals.flows, batches: totals.batches }, "aggregator stopped");
  }
}
