// The REST API of DESIGN.md under /api/v1. Each route declares its query schema once: Fastify
// validates it (unknown or malformed parameters are a 400) and the OpenAPI document is built
// from the same declarations.
import { isIP } from "node:net";
import { flowToRecord, pb } from "@flowlens/contracts";
import type { FastifyInstance } from "fastify";
import { flowCommunityId } from "../collector/community-id.js";
import { CidrError, LocalNetworks } from "../networks.js";
import type { LiveState } from "../state/live-state.js";
import {
  type HostQuery,
  RESOLUTIONS,
  type Resolution,
  type SeriesEntity,
  WINDOWS,
  type Window,
} from "../state/types.js";
import { badRequest, notFound } from "./errors.js";
import { parseRange } from "./time-range.js";

/** Collected flows come without a Community ID (see flowCommunityId): computed for those shown. */
function withCommunityId(f: pb.Flow): pb.Flow {
  if (f.communityId !== "" || f.exportVersion === pb.ExportVersion.EXPORT_VERSION_UNSPECIFIED) return f;
  const id = flowCommunityId(f);
  return id === "" ? f : { ...f, communityId: id };
}

const str = (description: string) => ({ type: "string", maxLength: 256, description }) as const;
const paging = {
  offset: { type: "integer", minimum: 0, maximum: 10_000_000, default: 0, description: "Items to skip" },
  limit: { type: "integer", minimum: 1, maximum: 1000, default: 50, description: "Items per page" },
  order: { type: "string", enum: ["asc", "desc"], default: "desc" },
} as const;
const timeRange = {
  since: str("Start: epoch ms, RFC 3339, or -<n>{s,m,h,d} before now"),
  until: str("End: epoch ms, RFC 3339, or -<n>{s,m,h,d} before now"),
} as const;

const query = (properties: Record<string, unknown>) => ({ type: "object", additionalProperties: false, properties });
const errorResponse = {
  type: "object",
  properties: { error: { type: "object", properties: { code: { type: "string" }, message: { type: "string" } } } },
};

function checkHost(name: string, value: string | undefined): void {
  if (value !== undefined && isIP(value) === 0) throw badRequest(`${name}: '${value}' is not an IPv4 or IPv6 address`);
}

function checkNetwork(value: string | undefined): void {
  if (value === undefined) return;
  try {
    new LocalNetworks([value.includes("/") ? value : value.includes(":") ? `${value}/128` : `${value}/32`]);
  } catch (err) {
    if (err instanceof CidrError) throw badRequest(`network: ${err.message}`);
    throw err;
  }
}

export interface RouteDeps {
  state: LiveState;
  now: () => number;
}

export function registerApiRoutes(app: FastifyInstance, { state, now }: RouteDeps): void {
  const common = { response: { 400: errorResponse, 404: errorResponse } };

  app.get(
    "/api/v1/flows",
    {
      schema: {
        summary: "Active and recently ended flows",
        tags: ["flows"],
        querystring: query({
          state: { type: "string", enum: ["active", "ended", "all"], default: "all" },
          host: str("Either endpoint is this IP"),
          network: str("Either endpoint is in this CIDR"),
          application: str("nDPI application name (e.g. TLS, DNS, TLS.Google)"),
          proto: { type: "integer", minimum: 0, maximum: 255, description: "IANA protocol number" },
          node: str("Reported by this node"),
          ...timeRange,
          sort: { type: "string", enum: ["bytes", "packets", "lastSeen", "firstSeen"], default: "lastSeen" },
          ...paging,
        }),
        ...common,
      },
    },
    async (req) => {
      const q = req.query as {
        state: "active" | "ended" | "all";
        host?: string;
        network?: string;
        application?: string;
        proto?: number;
        node?: string;
        since?: string;
        until?: string;
        sort: "bytes" | "packets" | "lastSeen" | "firstSeen";
        order: "asc" | "desc";
        offset: number;
        limit: number;
      };
      checkHost("host", q.host);
      checkNetwork(q.network);
      const page = state.flows({ ...q, ...parseRange(q, now()) });
      return {
        ...page,
        items: page.items.map((s) => ({ ...flowToRecord(withCommunityId(s.flow)), node: s.node, state: s.state })),
      };
    },
  );

  app.get(
    "/api/v1/hosts",
    {
      schema: {
        summary: "Hosts seen, with traffic totals",
        tags: ["hosts"],
        querystring: query({
          network: str("Hosts in this CIDR (or this exact IP)"),
          local: { type: "boolean", description: "Only local (true) or remote (false) hosts" },
          application: str("Hosts that used this application"),
          node: str("Hosts reported by this node"),
          ...timeRange,
          sort: {
            type: "string",
            enum: ["bytes", "bytesSent", "bytesRcvd", "packets", "flows", "lastSeen", "firstSeen", "ip"],
            default: "bytes",
          },
          ...paging,
        }),
        ...common,
      },
    },
    async (req) => {
      const q = req.query as Omit<HostQuery, "sinceMs" | "untilMs"> & { since?: string; until?: string };
      checkNetwork(q.network);
      const { since: _s, until: _u, ...rest } = q;
      return state.hosts({ ...rest, ...parseRange(q, now()) });
    },
  );

  app.get(
    "/api/v1/hosts/:ip",
    {
      schema: {
        summary: "One host: totals, applications, peers, TCP health",
        tags: ["hosts"],
        params: { type: "object", properties: { ip: { type: "string", maxLength: 64 } }, required: ["ip"] },
        ...common,
      },
    },
    async (req) => {
      const { ip } = req.params as { ip: string };
      if (ip.includes("/")) throw badRequest(`ip: '${ip}' is a network; use /api/v1/hosts?network=`);
      checkHost("ip", ip);
      const host = state.host(ip);
      if (!host) throw notFound(`host ${ip} has not been seen (or was evicted)`);
      return host;
    },
  );

  app.get(
    "/api/v1/top/talkers",
    {
      schema: {
        summary: "Top hosts by bytes (sent + received) over a sliding window",
        tags: ["hosts"],
        querystring: query({
          window: { type: "string", enum: [...WINDOWS], default: "5m" },
          limit: { type: "integer", minimum: 1, maximum: 1000, default: 10 },
        }),
        ...common,
      },
    },
    async (req) => {
      const q = req.query as { window: Window; limit: number };
      return { window: q.window, items: state.topTalkers(q.window, q.limit) };
    },
  );

  const list = (path: string, summary: string, tag: string, get: () => unknown[]) =>
    app.get(path, { schema: { summary, tags: [tag], querystring: query({}), ...common } }, async () => ({
      items: get(),
    }));
  list("/api/v1/applications", "Applications (nDPI) with traffic totals", "applications", () => state.applications());
  list("/api/v1/categories", "Application categories with traffic totals", "applications", () => state.categories());
  list("/api/v1/protocols", "L4 protocols with traffic totals", "applications", () => state.protocols());
  list("/api/v1/networks", "Local networks with traffic totals", "hosts", () => state.networks());
  list("/api/v1/nodes", "Nodes (agents) that sent flows", "nodes", () => state.nodes());
  list("/api/v1/exporters", "NetFlow/IPFIX/sFlow exporters", "exporters", () => state.exporters());

  app.get(
    "/api/v1/exporters/:ip/interfaces",
    {
      schema: {
        summary: "Interfaces of one exporter: traffic in and out, counters",
        tags: ["exporters"],
        params: { type: "object", properties: { ip: { type: "string", maxLength: 64 } }, required: ["ip"] },
        ...common,
      },
    },
    async (req) => {
      const { ip } = req.params as { ip: string };
      const items = state.interfaces(ip);
      if (!items) throw notFound(`exporter ${ip} has not been seen`);
      return { exporter: ip, items };
    },
  );

  app.get(
    "/api/v1/timeseries",
    {
      schema: {
        summary: "Bytes, packets and flows over time for the total, an application or a top host",
        tags: ["timeseries"],
        querystring: query({
          entity: { type: "string", enum: ["total", "application", "host"], default: "total" },
          name: str("Application name (entity=application)"),
          ip: str("Host IP (entity=host; kept for the top hosts only)"),
          resolution: { type: "string", enum: [...RESOLUTIONS], default: "10s" },
          ...timeRange,
        }),
        ...common,
      },
    },
    async (req) => {
      const q = req.query as {
        entity: "total" | "application" | "host";
        name?: string;
        ip?: string;
        resolution: Resolution;
        since?: string;
        until?: string;
      };
      let entity: SeriesEntity;
      if (q.entity === "application") {
        if (!q.name) throw badRequest("entity=application needs name=");
        entity = { kind: "application", name: q.name };
      } else if (q.entity === "host") {
        if (!q.ip) throw badRequest("entity=host needs ip=");
        checkHost("ip", q.ip);
        entity = { kind: "host", ip: q.ip };
      } else entity = { kind: "total" };
      return {
        entity: q.entity,
        resolution: q.resolution,
        points: state.series({ entity, resolution: q.resolution, ...parseRange(q, now()) }),
      };
    },
  );
}
