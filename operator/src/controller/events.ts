// Events (events.k8s.io/v1) on the custom resources, for notable transitions only: the caller
// emits one when a condition changes, so their number follows changes, not reconciles. An Event
// that cannot be written is logged and dropped: it must never fail a reconcile.
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { KubeClient } from "./kube/client.js";
import { RESOURCES } from "./kube/resources.js";

export const REPORTING_CONTROLLER = "flowlens.dev/operator";

export interface Regarding {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string };
}

export class EventRecorder {
  constructor(
    private readonly client: KubeClient,
    private readonly instance: string,
    private readonly logger: Logger,
  ) {}

  async emit(obj: Regarding, type: "Normal" | "Warning", reason: string, action: string, note: string): Promise<void> {
    const namespace = obj.metadata.namespace ?? "default";
    const body = {
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { name: `${obj.metadata.name}.${randomBytes(8).toString("hex")}`, namespace },
      eventTime: new Date().toISOString().replace("Z", "000Z"),
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: this.instance.slice(0, 128),
      action,
      reason,
      type,
      note: note.length > 1024 ? `${note.slice(0, 1021)}...` : note,
      regarding: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: obj.metadata.name,
        namespace,
        uid: obj.metadata.uid,
        resourceVersion: obj.metadata.resourceVersion,
      },
    };
    try {
      await this.client.create(RESOURCES.events, namespace, body);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, reason, object: obj.metadata.name }, "event not recorded");
    }
  }
}
