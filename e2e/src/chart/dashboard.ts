// The chart's Grafana dashboards and the metric names their PromQL reads, and the names a
// Prometheus /metrics page exposes: a dashboard may only query what the code really serves.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chartDir } from "./helm.js";

export const dashboardsDir = join(chartDir, "dashboards");

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Array<{ expr: string; refId: string; datasource?: { uid: string } }>;
  panels?: DashboardPanel[];
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: DashboardPanel[];
  templating: { list: Array<{ name: string; type: string; query?: string }> };
}

export function dashboardFiles(): string[] {
  return readdirSync(dashboardsDir)
    .filter((f) => f.endsWith(".json"))
    .sort();
}

export function loadDashboard(file: string): Dashboard {
  return JSON.parse(readFileSync(join(dashboardsDir, file), "utf8")) as Dashboard;
}

/** Every panel, those inside collapsed rows included. */
export function allPanels(d: Dashboard): DashboardPanel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/**
 * The metric names a PromQL expression reads. Ours all start with flowlens_ (DESIGN.md), and
 * nothing else in an expression does (functions, label names, label values in quotes).
 */
export function promqlMetricNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  const names = withoutStrings.match(/\bflowlens_[a-zA-Z0-9_:]*/g) ?? [];
  return [...new Set(names)];
}

/**
 * The series names a /metrics page can carry, from its `# TYPE` lines: a histogram `x` is
 * queried as x_bucket, x_sum and x_count, a summary as x, x_sum and x_count.
 */
export function exposedSeriesNames(metricsText: string): Set<string> {
  const out = new Set<string>();
  for (const m of metricsText.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    if (type === "histogram") for (const s of ["_bucket", "_sum", "_count"]) out.add(name + s);
    else if (type === "summary") for (const s of ["", "_sum", "_count"]) out.add(name + s);
    else out.add(name);
  }
  return out;
}
