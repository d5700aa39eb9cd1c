// Prometheus metrics of the aggregator, read from the live state at scrape time (nothing is
// counted twice: the state is the one place numbers live). Cardinality follows DESIGN.md:
// per-host series only for the top-K hosts, everything else bounded aggregates.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { AlertEngine } from "./alerts/engine.js";
import { type IngestPipeline, TRANSPORTS } from "./ingest/pipeline.js";
import type { LiveState } from "./state/live-state.js";
import type { InterfaceCounterDeltas } from "./state/types.js";

export interface AggregatorMetricsDeps {
  state: LiveState;
  ingest: IngestPipeline;
  topHosts: number;
}

/** A counter whose value is owned elsewhere and set at scrape time. */
function mirroredCounter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  read: () => Iterable<[Partial<Record<L, string | number>>, number]>,
): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) if (value > 0) this.inc(labels, value);
    },
  });
}

function mirroredGauge<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  read: () => Iterable<[Partial<Record<L, string | number>>, number]>,
): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.set(labels, value);
    },
  });
}

export function registerAggregatorMetrics(registry: Registry, deps: AggregatorMetricsDeps): void {
  const { state, ingest } = deps;

  // Traffic, as the flows describe it.
  mirroredCounter(registry, "flowlens_flows_total", "Flows applied to the live state", [], () => [
    [{}, state.totals().flows],
  ]);
  mirroredCounter(registry, "flowlens_bytes_total", "IP bytes of all applied flows", [], () => [
    [{}, state.totals().bytes],
  ]);
  mirroredCounter(registry, "flowlens_packets_total", "Packets of all applied flows", [], () => [
    [{}, state.totals().packets],
  ]);
  mirroredCounter(
    registry,
    "flowlens_application_bytes_total",
    "IP bytes by nDPI application",
    ["application", "category"],
    () => state.applications().map((a) => [{ application: a.name, category: a.category }, a.bytes]),
  );
  mirroredCounter(registry, "flowlens_application_flows_total", "Flows by nDPI application", ["application"], () =>
    state.applications().map((a) => [{ application: a.name }, a.flows]),
  );
  mirroredCounter(registry, "flowlens_protocol_bytes_total", "IP bytes by L4 protocol", ["protocol"], () =>
    state.protocols().map((p) => [{ protocol: p.name }, p.bytes]),
  );
  mirroredCounter(registry, "flowlens_node_bytes_total", "IP bytes reported by each node's agent", ["node"], () =>
    state.nodes().map((n) => [{ node: n.node }, n.bytes]),
  );
  mirroredCounter(registry, "flowlens_node_flows_total", "Flows reported by each node's agent", ["node"], () =>
    state.nodes().map((n) => [{ node: n.node }, n.flows]),
  );
  mirroredCounter(
    registry,
    "flowlens_network_bytes_total",
    "IP bytes of each local network, by direction",
    ["network", "direction"],
    () =>
      state
        .networks()
        .flatMap((n) => [
          [{ network: n.cidr, direction: "sent" }, n.bytesSent] as const,
          [{ network: n.cidr, direction: "received" }, n.bytesRcvd] as const,
        ]) as Array<[Record<string, string>, number]>,
  );
  mirroredCounter(
    registry,
    "flowlens_exporter_bytes_total",
    "IP bytes collected from each NetFlow/IPFIX/sFlow exporter",
    ["exporter"],
    () => state.exporters().map((e) => [{ exporter: e.exporter }, e.bytes]),
  );

  mirroredCounter(
    registry,
    "flowlens_exporter_datagrams_lost_total",
    "Export datagrams lost on the way, from each exporter's sequence numbers (sFlow)",
    ["exporter"],
    () => state.exporters().map((e) => [{ exporter: e.exporter }, e.datagramsLost ?? 0]),
  );
  // Interface counters from sFlow counter samples: bounded by maxExporters x
  // maxInterfacesPerExporter, and only interfaces whose exporter sends counters. The counters
  // sum the steps between samples, so a device's 32-bit wrap or reset never makes them go back.
  const counted = () =>
    state
      .exporters()
      .flatMap((e) =>
        (state.interfaces(e.exporter) ?? []).flatMap((i) =>
          i.counterDeltas !== undefined && i.counters !== undefined
            ? [{ exporter: e.exporter, ifIndex: String(i.ifIndex), d: i.counterDeltas.totals, c: i.counters }]
            : [],
        ),
      );
  const perDirection = (pick: (d: InterfaceCounterDeltas, dir: "in" | "out") => number) => () =>
    counted().flatMap((i) =>
      (["in", "out"] as const).map(
        (direction) =>
          [{ exporter: i.exporter, if_index: i.ifIndex, direction }, pick(i.d, direction)] as [
            Record<string, string>,
            number,
          ],
      ),
    );
  const ifLabels = ["exporter", "if_index", "direction"] as const;
  mirroredCounter(
    registry,
    "flowlens_interface_octets_total",
    "Octets through each exporter interface, from its counter samples",
    ifLabels,
    perDirection((d, dir) => (dir === "in" ? d.inOctets : d.outOctets)),
  );
  mirroredCounter(
    registry,
    "flowlens_interface_packets_total",
    "Packets through each exporter interface, from its counter samples",
    ifLabels,
    perDirection((d, dir) => (dir === "in" ? d.inPackets : d.outPackets)),
  );
  mirroredCounter(
    registry,
    "flowlens_interface_errors_total",
    "Errors on each exporter interface, from its counter samples",
    ifLabels,
    perDirection((d, dir) => (dir === "in" ? d.inErrors : d.outErrors)),
  );
  mirroredCounter(
    registry,
    "flowlens_interface_discards_total",
    "Discards on each exporter interface, from its counter samples",
    ifLabels,
    perDirection((d, dir) => (dir === "in" ? d.inDiscards : d.outDiscards)),
  );
  mirroredGauge(
    registry,
    "flowlens_interface_speed_bps",
    "Speed of each exporter interface, from its counter samples",
    ["exporter", "if_index"],
    () => counted().map((i) => [{ exporter: i.exporter, if_index: i.ifIndex }, i.c.speedBps]),
  );
  mirroredGauge(
    registry,
    "flowlens_interface_oper_up",
    "1 if the exporter interface is operationally up, from its counter samples",
    ["exporter", "if_index"],
    () => counted().map((i) => [{ exporter: i.exporter, if_index: i.ifIndex }, i.c.operUp ? 1 : 0]),
  );

  // Per-host series for the top-K hosts only (by total bytes), so cardinality stays bounded.
  const hostSeries = (pick: (h: ReturnType<LiveState["topHostsForMetrics"]>[number]) => number) => () =>
    state
      .topHostsForMetrics(deps.topHosts)
      .map((h) => [{ host: h.ip, local: String(h.local) }, pick(h)] as const) as Array<
      [Record<string, string>, number]
    >;
  mirroredCounter(
    registry,
    "flowlens_host_bytes_sent_total",
    "IP bytes sent by the top-K hosts",
    ["host", "local"],
    hostSeries((h) => h.bytesSent),
  );
  mirroredCounter(
    registry,
    "flowlens_host_bytes_received_total",
    "IP bytes received by the top-K hosts",
    ["host", "local"],
    hostSeries((h) => h.bytesRcvd),
  );
  mirroredCounter(
    registry,
    "flowlens_host_packets_sent_total",
    "Packets sent by the top-K hosts",
    ["host", "local"],
    hostSeries((h) => h.packetsSent),
  );
  mirroredCounter(
    registry,
    "flowlens_host_packets_received_total",
    "Packets received by the top-K hosts",
    ["host", "local"],
    hostSeries((h) => h.packetsRcvd),
  );

  // The aggregator's own health.
  const perTransport = (pick: (c: IngestPipeline["counters"]["grpc"]) => number) => () =>
    TRANSPORTS.map((t) => [{ transport: t }, pick(ingest.counters[t])] as [Record<string, string>, number]);
  mirroredCounter(
    registry,
    "flowlens_aggregator_batches_total",
    "Batches applied, by transport",
    ["transport"],
    perTransport((c) => c.batches),
  );
  mirroredCounter(
    registry,
    "flowlens_aggregator_ingested_flows_total",
    "Flows applied, by transport",
    ["transport"],
    perTransport((c) => c.flows),
  );
  mirroredCounter(
    registry,
    "flowlens_aggregator_duplicate_batches_total",
    "Batches dropped as already applied (redelivery, resend after reconnect)",
    ["transport"],
    perTransport((c) => c.duplicateBatches),
  );
  mirroredCounter(
    registry,
    "flowlens_aggregator_invalid_flows_total",
    "Flows (and flows of invalid batches) refused by validation",
    ["transport"],
    perTransport((c) => c.invalidFlows),
  );
  mirroredCounter(
    registry,
    "flowlens_aggregator_decoded_batches_total",
    "Transports' batches decoded, by reader: native (C) or js (no addon, or an encoding only the JS reader takes)",
    ["reader"],
    () => [
      [{ reader: "native" }, ingest.decodedBatches.native],
      [{ reader: "js" }, ingest.decodedBatches.js],
    ],
  );
  const lag = new Histogram({
    name: "flowlens_aggregator_ingest_lag_seconds",
    help: "Delay from an agent sending a batch to the aggregator applying it",
    labelNames: ["transport"],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
    registers: [registry],
  });
  ingest.onLag = (transport, ms) => lag.observe({ transport }, ms / 1000);

  mirroredGauge(
    registry,
    "flowlens_aggregator_state_entries",
    "Entries in each bounded state structure",
    ["structure"],
    () => state.structures().map((s) => [{ structure: s.name }, s.entries]),
  );
  mirroredGauge(
    registry,
    "flowlens_aggregator_state_capacity",
    "Capacity of each bounded state structure",
    ["structure"],
    () => state.structures().map((s) => [{ structure: s.name }, s.capacity]),
  );
  mirroredGauge(
    registry,
    "flowlens_aggregator_state_bytes",
    "Approximate memory of each state structure",
    ["structure"],
    () => state.structures().map((s) => [{ structure: s.name }, s.approxBytes]),
  );
  mirroredCounter(
    registry,
    "flowlens_aggregator_state_evictions_total",
    "Entries evicted from each bounded state structure to stay within capacity",
    ["structure"],
    () => state.structures().map((s) => [{ structure: s.name }, s.evictions]),
  );
  mirroredGauge(registry, "flowlens_aggregator_hosts", "Hosts currently tracked", [], () => [
    [{}, state.structures().find((s) => s.name === "hosts")?.entries ?? 0],
  ]);
}

/** Values that go up and down; every other transport row is a running count. */
const TRANSPORT_GAUGES = new Set([
  "connected",
  "connections_open",
  "streams_open",
  "consumer_lag",
  "ack_pending",
  "templates",
  "sessions_open",
]);

/**
 * A transport's own health rows as `flowlens_aggregator_<transport>_<name>[_total]`, with a
 * `reason` label where the rows carry one (gRPC refusals by reason).
 */
export function registerTransportMetrics(
  registry: Registry,
  transport: string,
  rows: () => Array<{ name: string; value: number; reason?: string }>,
): void {
  const first = rows();
  const names = [...new Set(first.map((r) => r.name))];
  for (const name of names) {
    const withReason = first.some((r) => r.name === name && r.reason !== undefined);
    const read = () =>
      rows()
        .filter((r) => r.name === name)
        .map((r) => [r.reason !== undefined ? { reason: r.reason } : {}, r.value] as [Record<string, string>, number]);
    const help = `${transport} ingest: ${name.replace(/_/g, " ")}`;
    if (TRANSPORT_GAUGES.has(name)) {
      mirroredGauge(registry, `flowlens_aggregator_${transport}_${name}`, help, withReason ? ["reason"] : [], read);
    } else {
      mirroredCounter(
        registry,
        `flowlens_aggregator_${transport}_${name}_total`,
        help,
        withReason ? ["reason"] : [],
        read,
      );
    }
  }
}

/** The alert engine's numbers: engaged alerts, evaluation cost, check memory, store, drops. */
export function registerAlertMetrics(registry: Registry, engine: AlertEngine): void {
  mirroredGauge(
    registry,
    "flowlens_alerts_engaged",
    "Alerts engaged now, by rule and severity",
    ["rule", "severity"],
    () => engine.engagedCounts(),
  );
  mirroredGauge(registry, "flowlens_alert_rules", "Alert rules loaded, by state", ["state"], () => {
    const s = engine.ruleStatuses();
    const accepted = s.filter((r) => r.accepted).length;
    return [
      [{ state: "accepted" }, accepted],
      [{ state: "refused" }, s.length - accepted],
    ];
  });
  const st = engine.stats;
  mirroredCounter(registry, "flowlens_alert_evaluations_total", "Alert evaluation cycles run", [], () => [
    [{}, st.evaluations],
  ]);
  mirroredCounter(
    registry,
    "flowlens_alert_evaluations_skipped_total",
    "Alert evaluation cycles skipped because the previous one was still running",
    [],
    () => [[{}, st.evaluationsSkipped]],
  );
  mirroredGauge(
    registry,
    "flowlens_alert_evaluation_seconds",
    "CPU time of the last alert evaluation cycle (its slices added up)",
    [],
    () => [[{}, st.evaluationSeconds]],
  );
  mirroredGauge(
    registry,
    "flowlens_alert_evaluation_slice_seconds",
    "Longest time the last evaluation cycle held the event loop (ingest waits this long at most)",
    [],
    () => [[{}, st.longestSliceSeconds]],
  );
  mirroredCounter(registry, "flowlens_alert_records_total", "Flow records the alert engine looked at", [], () => [
    [{}, st.records],
  ]);
  mirroredGauge(
    registry,
    "flowlens_alert_check_memory_bytes",
    "Memory held by check tables and threshold counters",
    [],
    () => [[{}, engine.checkMemoryBytes()]],
  );
  mirroredGauge(
    registry,
    "flowlens_alert_threshold_targets",
    "Targets (rows) threshold rules keep counters for",
    [],
    () => [[{}, st.thresholdRows]],
  );
  mirroredCounter(
    registry,
    "flowlens_alert_dropped_total",
    "What the alert engine dropped, by reason",
    ["reason"],
    () => {
      const store = engine.store.snapshotStats();
      return [
        [{ reason: "flow_alert_rate_limited" }, st.flowAlertsSuppressed],
        [{ reason: "flow_alert_duplicate" }, st.flowAlertsDeduplicated],
        [{ reason: "check_table_full" }, st.checkOverflows],
        [{ reason: "rule_engaged_cap" }, st.engagedCapped],
        [{ reason: "check_error" }, st.observeErrors],
        [{ reason: "past_alert_evicted" }, store.dropped],
        [{ reason: "store_damaged_line" }, store.corruptLines],
      ];
    },
  );
  // A blacklist that cannot be read or fetched keeps its last good copy: only these say so.
  mirroredGauge(
    registry,
    "flowlens_alert_blacklist_entries",
    "Addresses and networks on each blacklisted-host rule's list",
    ["rule"],
    () => engine.blacklists().map((b) => [{ rule: b.rule }, b.entries]),
  );
  mirroredCounter(
    registry,
    "flowlens_alert_blacklist_load_failures_total",
    "Failed reads or fetches of each blacklisted-host rule's list",
    ["rule"],
    () => engine.blacklists().map((b) => [{ rule: b.rule }, b.failures]),
  );
  mirroredGauge(
    registry,
    "flowlens_alert_blacklist_failing",
    "1 while the latest read or fetch of a rule's list failed (the last good copy is in use)",
    ["rule"],
    () => engine.blacklists().map((b) => [{ rule: b.rule }, b.failing ? 1 : 0]),
  );
  mirroredGauge(registry, "flowlens_alert_store_entries", "Past alerts held by the store", [], () => [
    [{}, engine.store.snapshotStats().entries],
  ]);
  mirroredGauge(registry, "flowlens_alert_store_bytes", "Size of the past alerts log on disk", [], () => [
    [{}, engine.store.snapshotStats().bytes],
  ]);
  mirroredCounter(
    registry,
    "flowlens_alert_store_write_errors_total",
    "Failed writes of past or engaged alerts",
    [],
    () => [[{}, engine.store.snapshotStats().writeErrors + st.engagedWriteErrors]],
  );
}
