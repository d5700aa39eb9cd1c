// The aggregator's HTTP side: REST API, its OpenAPI document, Prometheus /metrics and the
// health endpoints, on one Fastify instance.
import swagger from "@fastify/swagger";
import { FLOWLENS_VERSION } from "@flowlens/contracts";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { type LiveState, StateQueryError } from "../state/live-state.js";
import { type AlertRoutesDeps, registerAlertRoutes } from "./alert-routes.js";
import { ApiError, errorBody } from "./errors.js";
import { registerApiRoutes } from "./routes.js";

export interface HttpServerDeps {
  state: LiveState;
  registry: Registry;
  logger: Logger;
  /** Ready once ingest is up (readyz); healthy while the process serves (healthz). */
  ready: () => boolean;
  now?: () => number;
  /** The alert engine behind /api/v1/alerts and /api/v1/alert-rules (absent: no such routes). */
  alerts?: AlertRoutesDeps;
}

export async function buildHttpServer(deps: HttpServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // Requests are not logged one by one (a scrape every few seconds would drown the log);
    // failures are, by the error handler.
    loggerInstance: deps.logger.child({ component: "http" }, { level: "warn" }) as unknown as FastifyBaseLogger,
    // Unknown query parameters are an error, not silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: "array", allErrors: false } },
    return503OnClosing: true,
  });

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof ApiError) return reply.status(err.status).send(errorBody(err.code, err.message));
    if (err instanceof StateQueryError) return reply.status(400).send(errorBody("BAD_REQUEST", err.message));
    const e = err as { validation?: unknown; statusCode?: number; code?: string; message: string };
    if (e.validation) return reply.status(400).send(errorBody("BAD_REQUEST", e.message));
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      return reply.status(e.statusCode).send(errorBody(e.code ?? "BAD_REQUEST", e.message));
    }
    req.log.error({ err, url: req.url }, "request failed");
    return reply.status(500).send(errorBody("INTERNAL", "internal error; see the aggregator log"));
  });
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send(errorBody("NOT_FOUND", `no route ${req.method} ${req.url.split("?")[0]}`)),
  );

  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: { title: "Flowlens aggregator API", version: FLOWLENS_VERSION },
    },
    hideUntagged: true,
  });

  registerApiRoutes(app, { state: deps.state, now: deps.now ?? Date.now });
  if (deps.alerts) registerAlertRoutes(app, { now: deps.now ?? Date.now, ...deps.alerts });

  app.get("/api/v1/openapi.json", async () => app.swagger());
  app.get("/metrics", async (_req, reply) => {
    reply.header("content-type", deps.registry.contentType);
    return deps.registry.metrics();
  });
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    if (!deps.ready()) return reply.status(503).send({ status: "starting" });
    return { status: "ready" };
  });
  return app;
}
