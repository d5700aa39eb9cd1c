// The agent component: a flow source (live capture or replay) feeding the batcher, which
// hands encoded batches to every exporter; metrics and health over HTTP. Start and stop in
// the order that loses nothing: on stop the capture first flushes its open flows, then the
// batcher, then the exporters deliver what they hold until the grace period ends.
import type { Server } from "node:http";
import type { pb } from "@flowlens/contracts";
import type { Logger } from "pino";
import { Registry } from "prom-client";
import type { FlowExporter } from "../export/exporter.js";
import { FlowBatcher } from "./batcher.js";
import type { AgentConfig } from "./config.js";
import { startAgentHttp } from "./http.js";
import { registerAgentMetrics } from "./metrics.js";
import type { FlowSource } from "./sources.js";

export interface AgentDeps {
  config: AgentConfig;
  identity: pb.AgentIdentity;
  logger: Logger;
  exporters: FlowExporter[];
  /** Builds the flow source once the batcher exists to receive its flows. */
  source: (onFlows: FlowBatcher["add"]) => FlowSource;
  /** When embedded (`flowlens up`) the metrics join the aggregator's registry. */
  registry?: Registry;
}

export class Agent {
  readonly registry: Registry;
  readonly batcher: FlowBatcher;
  private source: FlowSource | undefined;
  private http: Server | undefined;
  private sourceError: string | undefined;
  metricsPort = 0;

  constructor(private readonly deps: AgentDeps) {
    this.registry = deps.registry ?? new Registry();
    this.batcher = new FlowBatcher(deps.identity, deps.exporters, deps.config.batch);
    registerAgentMetrics(this.registry, {
      node: deps.config.node,
      source: () => this.source,
      exporters: deps.exporters,
      batcher: this.batcher,
    });
  }

  async start(): Promise<void> {
    const { config, logger } = this.deps;
    for (const e of this.deps.exporters) e.start();
    if (config.metricsAddress && !this.deps.registry) {
      const { server, port } = await startAgentHttp(config.metricsAddress, this.registry, () =>
        this.sourceError ? { ok: false, reason: this.sourceError } : { ok: true },
      );
      this.http = server;
      this.metricsPort = port;
    }
    this.source = this.deps.source((flows) => this.batcher.add(flows));
    this.source.done.then(
      (r) => {
        if (r.error) {
          this.sourceError = r.error;
          logger.error({ source: this.source?.description, error: r.error }, "flow source failed");
        }
      },
      (err: Error) => {
        this.sourceError = err.message;
        logger.error({ source: this.source?.description, error: err.message }, "flow source failed");
      },
    );
    logger.info(
      {
        node: config.node,
        source: this.source.description,
        exporters: this.deps.exporters.map((e) => e.name),
        metricsPort: this.metricsPort || undefined,
      },
      "agent started",
    );
  }

  /** Resolves once the source ended by itself (replay without loop, failed capture). */
  get sourceDone(): Promise<{ error?: string }> {
    return this.source?.done ?? Promise.resolve({});
  }

  async stop(): Promise<void> {
    const { logger, config } = this.deps;
    const deadline = Date.now() + config.shutdownGraceMs;
    await this.source?.stop().catch((err: Error) => logger.warn({ error: err.message }, "capture stop failed"));
    this.batcher.flush();
    await Promise.all(this.deps.exporters.map((e) => e.stop(deadline)));
    for (const e of this.deps.exporters) {
      const s = e.stats();
      if (s.flows > 0)
        logger.warn({ exporter: e.name, flows: s.flows }, "flows still queued at shutdown were not delivered");
    }
    await new Promise<void>((resolve) => (this.http ? this.http.close(() => resolve()) : resolve()));
    logger.info({ batches: this.batcher.batches, flows: this.batcher.flows }, "agent stopped");
  }
}
