// The aggregator component: live state, the ingest pipeline every transport feeds, HTTP (API,
// metrics, health). Transports (gRPC, NATS, the in-process path of `flowlens up`) plug in;
// stop() stops ingest first, so that what was acknowledged is what is in the state.
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { collectDefaultMetrics, Registry } from "prom-client";
import { buildHttpServer } from "./api/server.js";
import { SequenceDeduper } from "./ingest/dedupe.js";
import { IngestPipeline } from "./ingest/pipeline.js";
import { registerAggregatorMetrics, registerTransportMetrics } from "./metrics.js";
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
}

export class Aggregator {
  readonly registry = new Registry();
  readonly state: LiveState;
  readonly ingest: IngestPipeline;
  readonly deduper = new SequenceDeduper();
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
  }

  /** Adds a transport; started by start(), or at once if already started. */
  async addTransport(t: IngestTransport): Promise<void> {
    this.transports.push(t);
    registerTransportMetrics(this.registry, t.name, () => t.metricRows());
    if (this.ready) await t.start();
  }

  async start(): Promise<void> {
    this.http = await buildHttpServer({
      state: this.state,
      registry: this.registry,
      logger: this.logger,
      ready: () => this.ready,
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
    const totals = this.state.totals();
    this.logger.info({ flows: totals.flows, batches: totals.batches }, "aggregator stopped");
  }
}
