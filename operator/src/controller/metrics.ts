// The operator's own Prometheus metrics, in a registry it is given (no global state). Label
// values are bounded: controller names, API resources and verbs, HTTP status classes.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { RequestRecord } from "./kube/client.js";

export class OperatorMetrics {
  readonly reconciles: Counter<"controller" | "result">;
  readonly reconcileErrors: Counter<"controller" | "reason">;
  readonly reconcileSeconds: Histogram<"controller">;
  readonly queueDepth: Gauge<"controller">;
  readonly leader: Gauge;
  readonly apiRequests: Counter<"verb" | "resource" | "code">;
  readonly watchRestarts: Counter<"resource" | "reason">;
  readonly applies: Counter<"kind">;
  readonly prunes: Counter<"kind">;
  readonly certificatesIssued: Counter<"kind">;

  constructor(registry: Registry) {
    const registers = [registry];
    this.reconciles = new Counter({
      name: "flowlens_operator_reconcile_total",
      help: "Reconciles by controller and result (success, error, requeue)",
      labelNames: ["controller", "result"],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: "flowlens_operator_reconcile_errors_total",
      help: "Failed reconciles by controller and reason (HTTP status or error code)",
      labelNames: ["controller", "reason"],
      registers,
    });
    this.reconcileSeconds = new Histogram({
      name: "flowlens_operator_reconcile_duration_seconds",
      help: "Time of one reconcile",
      labelNames: ["controller"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.queueDepth = new Gauge({
      name: "flowlens_operator_queue_depth",
      help: "Keys waiting in each controller's work queue",
      labelNames: ["controller"],
      registers,
    });
    this.leader = new Gauge({
      name: "flowlens_operator_leader",
      help: "1 while this replica holds the leader Lease (or runs without leader election)",
      registers,
    });
    this.apiRequests = new Counter({
      name: "flowlens_operator_api_requests_total",
      help: "Requests to the Kubernetes API by verb, resource and status code (0: not reached)",
      labelNames: ["verb", "resource", "code"],
      registers,
    });
    this.watchRestarts = new Counter({
      name: "flowlens_operator_watch_restarts_total",
      help: "Watches that ended other than by their timeout: expired (410, relisted), error, stalled",
      labelNames: ["resource", "reason"],
      registers,
    });
    this.applies = new Counter({
      name: "flowlens_operator_applies_total",
      help: "Objects sent with server-side apply, by kind",
      labelNames: ["kind"],
      registers,
    });
    this.prunes = new Counter({
      name: "flowlens_operator_prunes_total",
      help: "Objects deleted because their resource no longer wants them, by kind",
      labelNames: ["kind"],
      registers,
    });
    this.certificatesIssued = new Counter({
      name: "flowlens_operator_certificates_issued_total",
      help: "Certificates issued for agent-aggregator mTLS, by kind (ca, server, client)",
      labelNames: ["kind"],
      registers,
    });
  }

  request(r: RequestRecord): void {
    this.apiRequests.inc({ verb: r.verb, resource: r.resource, code: String(r.status) });
  }
}
