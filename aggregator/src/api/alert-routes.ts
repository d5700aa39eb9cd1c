// The alerts API: engaged and past alerts with filters and paging, acknowledgement, and the
// rules with their status. Query schemas are declared once (Fastify validates them and the
// OpenAPI document is built from them); errors leave as {error:{code,message}}.
import type { FastifyInstance } from "fastify";
import type { AlertEngine } from "../alerts/engine.js";
import type { AlertRecord } from "../alerts/types.js";
import { notFound } from "./errors.js";
import { parseRange } from "./time-range.js";

export interface AlertRoutesDeps {
  engine: AlertEngine;
  now?: () => number;
}

const SEVERITIES = ["info", "warning", "error", "critical"] as const;
const ENTITY_KINDS = ["host", "network", "application", "category", "interface", "exporter", "node", "flow"] as const;
const errorResponse = {
  type: "object",
  properties: { error: { type: "object", properties: { code: { type: "string" }, message: { type: "string" } } } },
};
const str = (description: string) => ({ type: "string", maxLength: 256, description }) as const;

/** An alert as the API shows it: the record, plus its duration once it ended. */
function view(a: AlertRecord): AlertRecord & { durationMs?: number } {
  return a.endedAtMs !== undefined ? { ...a, durationMs: a.endedAtMs - a.startedAtMs } : { ...a };
}

export function registerAlertRoutes(app: FastifyInstance, { engine, now = Date.now }: AlertRoutesDeps): void {
  const common = { response: { 400: errorResponse, 404: errorResponse } };

  app.get(
    "/api/v1/alerts",
    {
      schema: {
        summary: "Engaged and past alerts, newest first",
        tags: ["alerts"],
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            state: { type: "string", enum: ["engaged", "past", "all"], default: "all" },
            severity: { type: "string", enum: [...SEVERITIES], description: "This severity or higher" },
            rule: str("Rule name (NAMESPACE/NAME for AlertRule resources)"),
            check: str("Check name (port-scan, syn-flood, ...)"),
            entity: str("What the alert is about: an address, a CIDR, an application, a Community ID, ..."),
            entityKind: { type: "string", enum: [...ENTITY_KINDS] },
            acknowledged: { type: "boolean" },
            since: str("Alerts active at or after: epoch ms, RFC 3339, or -<n>{s,m,h,d} before now"),
            until: str("Alerts started at or before: epoch ms, RFC 3339, or -<n>{s,m,h,d} before now"),
            offset: { type: "integer", minimum: 0, maximum: 10_000_000, default: 0 },
            limit: { type: "integer", minimum: 1, maximum: 1000, default: 50 },
          },
        },
        ...common,
      },
    },
    async (req) => {
      const q = req.query as {
        state: "engaged" | "past" | "all";
        severity?: (typeof SEVERITIES)[number];
        rule?: string;
        check?: string;
        entity?: string;
        entityKind?: (typeof ENTITY_KINDS)[number];
        acknowledged?: boolean;
        since?: string;
        until?: string;
        offset: number;
        limit: number;
      };
      const t = now();
      const { sinceMs, untilMs } = parseRange(q, t);
      const minRank = q.severity ? SEVERITIES.indexOf(q.severity) : 0;
      const pool: AlertRecord[] = [];
      if (q.state !== "past") pool.push(...engine.engagedAlerts());
      if (q.state !== "engaged") pool.push(...engine.pastAlerts());
      const items = pool.filter(
        (a) =>
          SEVERITIES.indexOf(a.severity) >= minRank &&
          (q.rule === undefined || a.rule === q.rule) &&
          (q.check === undefined || a.check === q.check) &&
          (q.entity === undefined || a.entity.value === q.entity || a.labels.host === q.entity) &&
          (q.entityKind === undefined || a.entity.kind === q.entityKind) &&
          (q.acknowledged === undefined || a.acknowledged === q.acknowledged) &&
          (sinceMs === undefined || (a.endedAtMs ?? t) >= sinceMs) &&
          (untilMs === undefined || a.startedAtMs <= untilMs),
      );
      items.sort((a, b) => b.startedAtMs - a.startedAtMs);
      return {
        total: items.length,
        offset: q.offset,
        limit: q.limit,
        items: items.slice(q.offset, q.offset + q.limit).map(view),
      };
    },
  );

  app.post(
    "/api/v1/alerts/:id/ack",
    {
      schema: {
        summary: "Acknowledge an engaged or past alert",
        tags: ["alerts"],
        params: {
          type: "object",
          properties: { id: { type: "string", minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9-]+$" } },
          required: ["id"],
        },
        ...common,
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const a = engine.acknowledge(id);
      if (a === undefined) throw notFound(`alert ${id} does not exist (or was dropped from the store)`);
      return view(a);
    },
  );

  app.get(
    "/api/v1/alert-rules",
    {
      schema: {
        summary: "Alert rules: accepted or refused (with the reasons), alerts engaged, last transition",
        tags: ["alerts"],
        querystring: { type: "object", additionalProperties: false, properties: {} },
        ...common,
      },
    },
    async () => ({
      items: engine.ruleStatuses().map((r) => ({
        ...r,
        ...(r.lastTransitionMs !== undefined ? { lastTransitionTime: new Date(r.lastTransitionMs).toISOString() } : {}),
      })),
    }),
  );
}
