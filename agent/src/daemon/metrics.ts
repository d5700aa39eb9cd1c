// The agent's own health metrics, read from the capture and the exporters at scrape time.
import { Counter, Gauge, type Registry } from "prom-client";
import type { FlowExporter } from "../export/exporter.js";
import type { FlowBatcher } from "./batcher.js";
import type { FlowSource } from "./sources.js";

type Rows = Iterable<[Record<string, string>, number]>;

function mirrored(
  kind: "counter" | "gauge",
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  read: () => Rows,
): void {
  const collect = function (this: Counter | Gauge) {
    this.reset();
    for (const [labels, v] of read()) {
      if (this instanceof Counter) {
        if (v > 0) this.inc(labels, v);
      } else this.set(labels, v);
    }
  };
  if (kind === "counter") new Counter({ name, help, labelNames, registers: [registry], collect });
  else new Gauge({ name, help, labelNames, registers: [registry], collect });
}

export interface AgentMetricsDeps {
  node: string;
  source: () => FlowSource | undefined;
  exporters: readonly FlowExporter[];
  batcher: FlowBatcher;
}

export function registerAgentMetrics(registry: Registry, deps: AgentMetricsDeps): void {
  const perIf = (pick: (s: ReturnType<FlowSource["stats"]>[number]) => number) => (): Rows =>
    (deps.source()?.stats() ?? []).map((s) => [{ interface: s.interface }, pick(s)]);
  mirrored(
    "counter",
    registry,
    "flowlens_agent_packets_total",
    "Packets captured",
    ["interface"],
    perIf((s) => s.packets),
  );
  mirrored(
    "counter",
    registry,
    "flowlens_agent_bytes_total",
    "Frame bytes captured",
    ["interface"],
    perIf((s) => s.bytes),
  );
  mirrored(
    "counter",
    registry,
    "flowlens_agent_kernel_packets_total",
    "Packets the kernel ring received (PACKET_STATISTICS)",
    ["interface"],
    perIf((s) => s.kernelPackets),
  );
  mirrored(
    "counter",
    registry,
    "flowlens_agent_kernel_drops_total",
    "Packets the kernel dropped because the ring was full",
    ["interface"],
    perIf((s) => s.kernelDrops),
  );
  mirrored(
    "counter",
    registry,
    "flowlens_agent_decode_errors_total",
    "Packets skipped by the decoder, by reason",
    ["interface", "reason"],
    () =>
      (deps.source()?.stats() ?? []).flatMap((s) =>
        Object.entries(s.decodeErrors).map(
          ([reason, v]) => [{ interface: s.interface, reason }, v] as [Record<string, string>, number],
        ),
      ),
  );
  mirrored(
    "gauge",
    registry,
    "flowlens_agent_flows_active",
    "Flows in the flow tables",
    ["interface"],
    perIf((s) => s.flowsActive),
  );
  mirrored(
    "counter",
    registry,
    "flowlens_agent_flows_exported_total",
    "Flow records handed from the flow tables to the exporters",
    ["interface"],
    perIf((s) => s.flowsExported),
  );
  mirrored(
    "counter",
    registry,
    "flowlens_agent_flows_evicted_total",
    "Flows ended early because the flow table was full",
    ["interface"],
    perIf((s) => s.flowsEvicted),
  );
  mirrored("counter", registry, "flowlens_agent_batches_total", "Flow batches produced", [], () => [
    [{}, deps.batcher.batches],
  ]);

  const perExporter = (pick: (s: ReturnType<FlowExporter["stats"]>) => number) => (): Rows =>
    deps.exporters.map((e) => [{ exporter: e.name }, pick(e.stats())]);
  mirrored(
    "gauge",
    registry,
    "flowlens_agent_export_queue_flows",
    "Flows waiting in each exporter's queue (sent or not, unacknowledged)",
    ["exporter"],
    perExporter((s) => s.flows),
  );
  mirrored(
    "gauge",
    registry,
    "flowlens_agent_export_queue_bytes",
    "Encoded bytes waiting in each exporter's queue",
    ["exporter"],
    perExporter((s) => s.bytes),
  );
  mirrored(
    "counter",
    registry,
    "flowlens_agent_export_flows_acked_total",
    "Flows the peer acknowledged",
    ["exporter"],
    perExporter((s) => s.flowsAcked),
  );
  mirrored(
    "counter",
    registry,
    "flowlens_agent_export_dropped_flows_total",
    "Flows dropped oldest-first because the export queue was full",
    ["exporter"],
    perExporter((s) => s.droppedFlows),
  );
  mirrored(
    "counter",
    registry,
    "flowlens_agent_export_errors_total",
    "Export failures (lost connections, refused or failed sends)",
    ["exporter"],
    perExporter((s) => s.errors),
  );
  mirrored(
    "gauge",
    registry,
    "flowlens_agent_export_connected",
    "1 while the exporter is connected to its peer",
    ["exporter"],
    perExporter((s) => (s.connected ? 1 : 0)),
  );
}
