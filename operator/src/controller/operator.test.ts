// The operator against a real kube-apiserver + etcd (no controller-manager, no kubelet: the
// tests patch workload status where a kubelet would, and check owner references where the
// garbage collector would act). The operator runs under a ServiceAccount bound to exactly
// OPERATOR_RBAC, so every scenario also checks that those rules are enough.
import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { AlertRule, FlowCollector, FlowProbe } from "@flowlens/contracts";
import { type ControlPlane, startControlPlane, startProcess } from "@flowlens/testkit";
import { pino } from "pino";
import { collectorObjectNames, probeObjectName } from "../names.js";
import { alertRuleErrors, deliveredRules, desiredAlertRulesConfigMap } from "../reconcile/alert-rules.js";
import { desiredCollectorObjects } from "../reconcile/collector.js";
import { CONFIG_HASH_ANNOTATION, type DesiredObject, TLS_HASH_ANNOTATION } from "../reconcile/objects.js";
import { desiredProbeObjects } from "../reconcile/probe.js";
import { crdsDir, loadSample } from "../testing.js";
import type { KubeClient, KubeObject, RequestRecord } from "./kube/client.js";
import { RESOURCES } from "./kube/resources.js";
import { Operator } from "./operator.js";
import { OPERATOR_RBAC, type PolicyRule, rbacAllows } from "./rbac.js";
import {
  adminClient,
  adminKubeConfigVia,
  assertSubset,
  createNamespace,
  EXTRA,
  eventually,
  metricValue,
  operatorKubeConfig,
  quietLogger,
  TcpRelay,
} from "./testing-support.js";

const NS = "flowlens";
const BAD = "bad";
const SYSTEM = "flowlens-system";

type Status = {
  conditions?: { type: string; status: string; reason: string; message: string }[];
  [k: string]: unknown;
};
type CR = KubeObject & { spec: Record<string, unknown>; status?: Status };

let cp: ControlPlane;
let admin: KubeClient;
let operator: Operator;
const requests: RequestRecord[] = [];

const kindResource = {
  FlowCollector: RESOURCES.flowCollectors,
  FlowProbe: RESOURCES.flowProbes,
  AlertRule: RESOURCES.alertRules,
} as const;

async function createCr<T extends { kind: keyof typeof kindResource }>(cr: T, namespace: string): Promise<CR> {
  return admin.create<CR>(kindResource[cr.kind], namespace, cr);
}
const getCr = (kind: keyof typeof kindResource, namespace: string, name: string) =>
  admin.get<CR>(kindResource[kind], namespace, name);

function condition(cr: CR | undefined, type: string) {
  return cr?.status?.conditions?.find((c) => c.type === type);
}

/** Waits until the resource's condition has this status and reason; returns the resource. */
function waitCondition(
  kind: keyof typeof kindResource,
  ns: string,
  name: string,
  type: string,
  status: string,
  reason?: string,
) {
  return eventually(`${kind} ${ns}/${name} ${type}=${status}${reason ? ` (${reason})` : ""}`, async () => {
    const cr = await getCr(kind, ns, name);
    const c = condition(cr, type);
    return c && c.status === status && (!reason || c.reason === reason) ? cr : undefined;
  });
}

async function managedObjects(namespace: string): Promise<Map<string, KubeObject>> {
  const out = new Map<string, KubeObject>();
  const kinds = [
    RESOURCES.deployments,
    RESOURCES.daemonSets,
    RESOURCES.services,
    RESOURCES.configMaps,
    RESOURCES.secrets,
    RESOURCES.networkPolicies,
  ];
  for (const t of kinds) {
    const list = await admin.list<KubeObject>(t, namespace, {
      labelSelector: "app.kubernetes.io/managed-by=flowlens-operator",
    });
    for (const o of list.items) out.set(`${t.kind}/${o.metadata.name}`, o);
  }
  return out;
}

function assertMatches(live: Map<string, KubeObject>, desired: readonly DesiredObject[], owner: CR): void {
  for (const d of desired) {
    const id = `${d.kind}/${d.metadata.name}`;
    const l = live.get(id);
    assert.ok(l, `${id} exists`);
    // List items carry no apiVersion and kind; the list is of the kind already.
    const { metadata, apiVersion: _v, kind: _k, ...body } = d;
    assertSubset(l, body, id);
    assertSubset(l.metadata.labels, metadata.labels, `${id}.metadata.labels`);
    const ref = l.metadata.ownerReferences?.find((r) => r.controller);
    assert.equal(ref?.uid, owner.metadata.uid, `${id} is controlled by ${owner.kind} ${owner.metadata.name}`);
    assert.equal(ref?.kind, owner.kind);
    const managers = (l.metadata.managedFields as { manager: string; operation: string }[]).filter(
      (f) => f.operation === "Apply",
    );
    assert.deepEqual(
      managers.map((m) => m.manager),
      ["flowlens-operator"],
      `${id}: applied by the operator's field manager only`,
    );
  }
}

before(async () => {
  cp = await startControlPlane({ crdsDir, startTimeoutMs: 300_000 });
  admin = adminClient(cp);
  for (const ns of [NS, BAD, SYSTEM]) await createNamespace(admin, ns);
  const kubeConfig = await operatorKubeConfig(cp, admin, SYSTEM);
  operator = new Operator({
    kubeConfig,
    logger: quietLogger(),
    namespaces: [NS, BAD],
    metricsAddress: "127.0.0.1:0",
    backoff: { baseMs: 100, maxMs: 2000 },
    secretRetryMs: 500,
    onRequest: (r) => requests.push(r),
  });
  await operator.start();
});

after(async () => {
  await operator?.stop();
  await cp?.stop();
});

describe("the operator on a real control plane", () => {
  let fc: CR;
  let fcNats: CR;
  let nodes: CR;
  let workers: CR;

  it("makes exactly the expected objects from the samples, owned and applied by its field manager", async () => {
    // The Secrets the flowlens-nats sample names (provided TLS, NATS credentials).
    await admin.create(RESOURCES.secrets, NS, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "ingest-certificate" },
      data: { "tls.crt": "eA==", "tls.key": "eA==", "ca.crt": "eA==" },
    });
    await admin.create(RESOURCES.secrets, NS, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "flowlens-nats-creds" },
      data: { "nats.creds": "eA==" },
    });
    fc = await createCr(loadSample<FlowCollector>("flowcollector.yaml"), NS);
    fcNats = await createCr(loadSample<FlowCollector>("flowcollector-nats.yaml"), NS);
    nodes = await createCr(loadSample<FlowProbe>("flowprobe.yaml"), NS);
    workers = await createCr(loadSample<FlowProbe>("flowprobe-nats.yaml"), NS);
    const rules = [
      await createCr(loadSample<AlertRule>("alertrule-check.yaml"), NS),
      await createCr(loadSample<AlertRule>("alertrule-threshold.yaml"), NS),
    ];
    // The samples are documentation: each must be a rule the aggregator accepts, and delivered.
    // (A refused rule's InvalidRule condition is tested with a bad metric below.)
    for (const r of rules) {
      assert.deepEqual(alertRuleErrors(r as unknown as AlertRule), [], `sample ${r.metadata.name}`);
      const got = await waitCondition("AlertRule", NS, r.metadata.name, "Ready", "True", "Delivered");
      assert.equal(condition(got, "Accepted")?.status, "True");
    }
    fc = await waitCondition("FlowCollector", NS, "flowlens", "ConfigurationIssue", "False");
    fcNats = await waitCondition("FlowCollector", NS, "flowlens-nats", "ConfigurationIssue", "False");
    nodes = await waitCondition("FlowProbe", NS, "nodes", "ConfigurationIssue", "False");
    workers = await waitCondition("FlowProbe", NS, "workers", "ConfigurationIssue", "False");

    const asStored = <T>(cr: CR) => cr as unknown as T;
    const storedRules = rules.map((r) => asStored<AlertRule>(r));
    // The flowlens collector has TLS by default (mode auto): its CA and server certificate, and
    // the gRPC probe's client certificate, are issued into Secrets; the Pods carry their hash.
    const issued = ["Secret/flowlens-ca", "Secret/flowlens-aggregator-tls", "Secret/nodes-agent-tls"];
    const podHash = async (resource: typeof RESOURCES.deployments, name: string) => {
      const o = await admin.get<KubeObject & { spec?: { template?: { metadata?: KubeObject["metadata"] } } }>(
        resource,
        NS,
        name,
      );
      return o?.spec?.template?.metadata?.annotations?.[TLS_HASH_ANNOTATION];
    };
    const hashes = await eventually("certificates issued and rolled into the Pods", async () => {
      const fcHash = await podHash(RESOURCES.deployments, "flowlens-aggregator");
      const nodesHash = await podHash(RESOURCES.daemonSets, "nodes-agent");
      return fcHash && nodesHash ? { fcHash, nodesHash } : undefined;
    });
    const desired = {
      fc: [
        ...desiredCollectorObjects(asStored<FlowCollector>(fc), { tlsHash: hashes.fcHash }),
        desiredAlertRulesConfigMap(asStored<FlowCollector>(fc), storedRules),
      ],
      fcNats: [
        ...desiredCollectorObjects(asStored<FlowCollector>(fcNats)),
        desiredAlertRulesConfigMap(asStored<FlowCollector>(fcNats), storedRules),
      ],
      nodes: desiredProbeObjects(asStored<FlowProbe>(nodes), asStored<FlowCollector>(fc), {
        tlsHash: hashes.nodesHash,
      }),
      workers: desiredProbeObjects(asStored<FlowProbe>(workers), asStored<FlowCollector>(fcNats)),
    };
    const live = await eventually("every desired object", async () => {
      const m = await managedObjects(NS);
      return m.size === Object.values(desired).flat().length + issued.length ? m : undefined;
    });
    assert.deepEqual(
      [...live.keys()].sort(),
      [
        "ConfigMap/flowlens-aggregator",
        "ConfigMap/flowlens-alert-rules",
        "ConfigMap/flowlens-nats-aggregator",
        "ConfigMap/flowlens-nats-alert-rules",
        "ConfigMap/nodes-agent",
        "ConfigMap/workers-agent",
        "DaemonSet/nodes-agent",
        "DaemonSet/workers-agent",
        "Deployment/flowlens-aggregator",
        "Deployment/flowlens-nats-aggregator",
        "NetworkPolicy/flowlens-aggregator",
        "Service/flowlens-aggregator",
        "Service/flowlens-collector",
        "Service/flowlens-nats-aggregator",
        ...issued,
      ].sort(),
    );
    assertMatches(live, desired.fc, fc);
    assertMatches(live, desired.fcNats, fcNats);
    assertMatches(live, desired.nodes, nodes);
    assertMatches(live, desired.workers, workers);
    // Both rules name the flowlens collector; the other one's ConfigMap holds none.
    assert.deepEqual(
      [...deliveredRules((live.get("ConfigMap/flowlens-alert-rules") as { data?: Record<string, string> }).data)],
      rules
        .filter((r) => alertRuleErrors(r as unknown as AlertRule).length === 0)
        .map((r) => `${NS}/${r.metadata.name}`)
        .sort(),
    );
    // Every request the operator made is one OPERATOR_RBAC grants (and the API server agreed).
    assert.ok(requests.length > 0);
    for (const r of requests) assert.ok(rbacAllows(r.group, r.resource, r.verb), `${r.verb} ${r.resource}`);
    assert.equal(requests.filter((r) => r.status === 403).length, 0, "no request was forbidden");
  });

  it("reports endpoints, conditions and nodes in the status, Ready once the workloads are", async () => {
    const s = fc.status ?? {};
    assert.equal(s.observedGeneration, fc.metadata.generation);
    assert.deepEqual(s.endpoints, {
      grpc: "flowlens-aggregator.flowlens.svc:9090",
      http: "http://flowlens-aggregator.flowlens.svc:3000",
      netflow: "flowlens-collector.flowlens.svc:2055",
      sflow: "flowlens-collector.flowlens.svc:6343",
    });
    assert.equal(condition(fc, "Ready")?.reason, "Deploying");
    assert.equal(condition(fc, "Degraded")?.status, "False");
    // What the kubelet and the Deployment controller would report.
    const dep = await admin.get<KubeObject>(RESOURCES.deployments, NS, "flowlens-aggregator");
    await admin.apply(
      RESOURCES.deployments,
      NS,
      "flowlens-aggregator",
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "flowlens-aggregator", namespace: NS },
        status: {
          observedGeneration: dep?.metadata.generation,
          replicas: 1,
          updatedReplicas: 1,
          readyReplicas: 1,
          availableReplicas: 1,
        },
      },
      "status",
    );
    const ready = await waitCondition("FlowCollector", NS, "flowlens", "Ready", "True", "Available");
    assert.match(condition(ready, "Ready")?.message ?? "", /1\/1/);

    assert.equal(nodes.status?.nodesDesired, 0);
    assert.equal(condition(nodes, "Ready")?.reason, "NoNodes");
    const ds = await admin.get<KubeObject>(RESOURCES.daemonSets, NS, "nodes-agent");
    const dsStatus = (ready: number) => ({
      observedGeneration: ds?.metadata.generation,
      currentNumberScheduled: 3,
      desiredNumberScheduled: 3,
      numberMisscheduled: 0,
      numberReady: ready,
      updatedNumberScheduled: 3,
      numberAvailable: ready,
      numberUnavailable: 3 - ready,
    });
    const patchDs = (ready: number) =>
      admin.apply(
        RESOURCES.daemonSets,
        NS,
        "nodes-agent",
        {
          apiVersion: "apps/v1",
          kind: "DaemonSet",
          metadata: { name: "nodes-agent", namespace: NS },
          status: dsStatus(ready),
        },
        "status",
      );
    await patchDs(3);
    const probeReady = await waitCondition("FlowProbe", NS, "nodes", "Ready", "True", "AgentsReady");
    assert.equal(probeReady.status?.nodesDesired, 3);
    assert.equal(probeReady.status?.nodesReady, 3);
    await patchDs(2);
    const degraded = await waitCondition("FlowProbe", NS, "nodes", "Degraded", "True", "AgentsUnavailable");
    assert.equal(degraded.status?.nodesReady, 2);
    // Transitions were recorded as Events on the resource.
    const events = await admin.list<KubeObject & { reason?: string; regarding?: { name?: string } }>(
      RESOURCES.events,
      NS,
    );
    const reasons = events.items.filter((e) => e.regarding?.name === "nodes").map((e) => e.reason);
    assert.ok(reasons.includes("AgentsReady"), `events: ${reasons.join(", ")}`);
    assert.ok(reasons.includes("AgentsUnavailable"), `events: ${reasons.join(", ")}`);
  });

  it("propagates spec changes and prunes what is no longer wanted", async () => {
    const before = await admin.get<
      KubeObject & { spec: { template: { metadata: { annotations: Record<string, string> } } } }
    >(RESOURCES.deployments, NS, "flowlens-aggregator");
    const cr = (await getCr("FlowCollector", NS, "flowlens")) as CR;
    await admin.update(RESOURCES.flowCollectors, NS, "flowlens", {
      ...cr,
      spec: { ...cr.spec, metrics: { topHosts: 42 }, networkPolicy: { enabled: false } },
    });
    await eventually("the config file says top-hosts 42", async () => {
      const cm = await admin.get<KubeObject & { data?: Record<string, string> }>(
        RESOURCES.configMaps,
        NS,
        "flowlens-aggregator",
      );
      return cm?.data?.["aggregator.yaml"]?.includes("top-hosts: 42");
    });
    await eventually(
      "the NetworkPolicy is gone",
      async () => !(await admin.get(RESOURCES.networkPolicies, NS, "flowlens-aggregator")),
    );
    const after = await eventually("the Pods roll with the new config", async () => {
      const d = await admin.get<typeof before & object>(RESOURCES.deployments, NS, "flowlens-aggregator");
      const a = d?.spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION];
      return a && a !== before?.spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION] ? d : undefined;
    });
    assert.ok(after);
    const status = await waitCondition("FlowCollector", NS, "flowlens", "ConfigurationIssue", "False");
    assert.equal(status.status?.observedGeneration, status.metadata.generation);
  });

  it("takes back hand edits of its fields and recreates what was deleted", async () => {
    // Someone scales the aggregator by hand, with their own field manager.
    await admin.apply(
      RESOURCES.deployments,
      NS,
      "flowlens-nats-aggregator",
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "flowlens-nats-aggregator", namespace: NS },
        spec: { replicas: 7 },
      },
      undefined,
    );
    await eventually("replicas back to the resource's 2", async () => {
      const d = await admin.get<KubeObject & { spec: { replicas: number } }>(
        RESOURCES.deployments,
        NS,
        "flowlens-nats-aggregator",
      );
      return d?.spec.replicas === 2;
    });
    await admin.delete(RESOURCES.services, NS, "flowlens-nats-aggregator");
    await eventually("the Service is back", async () => admin.get(RESOURCES.services, NS, "flowlens-nats-aggregator"));
  });

  it("reports a bad resource in a condition and keeps reconciling the others", async () => {
    const orphan = loadSample<FlowProbe>("flowprobe.yaml");
    orphan.metadata = { name: "orphan" };
    orphan.spec.collectorRef = { name: "nowhere" };
    await createCr(orphan, BAD);
    const cr = await waitCondition("FlowProbe", BAD, "orphan", "ConfigurationIssue", "True", "CollectorNotFound");
    assert.equal(condition(cr, "Ready")?.status, "False");
    assert.match(condition(cr, "Ready")?.message ?? "", /FlowCollector bad\/nowhere does not exist/);

    const retention = loadSample<FlowCollector>("flowcollector-nats.yaml");
    retention.metadata = { name: "retention" };
    retention.spec = { retention: { recentFlows: 10 } };
    await createCr(retention, BAD);
    await waitCondition("FlowCollector", BAD, "retention", "ConfigurationIssue", "True", "RetentionNotSupported");

    const noSecret = loadSample<FlowCollector>("flowcollector-nats.yaml");
    noSecret.metadata = { name: "no-secret" };
    await createCr(noSecret, BAD);
    await waitCondition("FlowCollector", BAD, "no-secret", "ConfigurationIssue", "True", "SecretNotFound");

    // A Secret of the name the operator would issue into, not its own: never taken over.
    await admin.create(RESOURCES.secrets, BAD, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "taken-aggregator-tls" },
      data: { "tls.crt": "eA==" },
    });
    const taken = loadSample<FlowCollector>("flowcollector.yaml");
    taken.metadata = { name: "taken" };
    await createCr(taken, BAD);
    const takenCr = await waitCondition("FlowCollector", BAD, "taken", "ConfigurationIssue", "True", "SecretNameTaken");
    assert.match(condition(takenCr, "ConfigurationIssue")?.message ?? "", /taken-aggregator-tls/);
    const untouched = await admin.get<KubeObject & { data?: Record<string, string> }>(
      RESOURCES.secrets,
      BAD,
      "taken-aggregator-tls",
    );
    assert.deepEqual(untouched?.data, { "tls.crt": "eA==" });
    await admin.delete(RESOURCES.secrets, BAD, "taken-aggregator-tls");
    await waitCondition("FlowCollector", BAD, "taken", "ConfigurationIssue", "False");

    const invalidRule = loadSample<AlertRule>("alertrule-threshold.yaml");
    invalidRule.metadata = { name: "bad-metric" };
    invalidRule.spec.collectorRef = { name: "flowlens", namespace: NS };
    if (invalidRule.spec.threshold) invalidRule.spec.threshold.metric = "nosuchmetric";
    await createCr(invalidRule, BAD);
    const rule = await waitCondition("AlertRule", BAD, "bad-metric", "Accepted", "False", "InvalidRule");
    assert.match(condition(rule, "ConfigurationIssue")?.message ?? "", /metric/);

    // Meanwhile, a good resource in the same namespace is reconciled as usual; then the missing
    // Secrets appear and the waiting collector goes ahead without anyone touching it.
    const fine = loadSample<FlowCollector>("flowcollector.yaml");
    fine.metadata = { name: "fine" };
    await createCr(fine, BAD);
    await eventually("the good collector's Deployment", async () =>
      admin.get(RESOURCES.deployments, BAD, "fine-aggregator"),
    );
    for (const [name, data] of [
      ["ingest-certificate", { "tls.crt": "eA==", "tls.key": "eA==", "ca.crt": "eA==" }],
      ["flowlens-nats-creds", { "nats.creds": "eA==" }],
    ] as const) {
      await admin.create(RESOURCES.secrets, BAD, { apiVersion: "v1", kind: "Secret", metadata: { name }, data });
    }
    await waitCondition("FlowCollector", BAD, "no-secret", "ConfigurationIssue", "False");
    await eventually("its Deployment", async () => admin.get(RESOURCES.deployments, BAD, "no-secret-aggregator"));
    assert.equal(
      metricValue(
        await (await fetch(`http://127.0.0.1:${operator.httpPort}/metrics`)).text(),
        "flowlens_operator_leader",
      ),
      1,
    );
  });

  it("leaves a deleted resource's objects to the garbage collector, through their owner references", async () => {
    const probe = (await getCr("FlowProbe", NS, "workers")) as CR;
    await admin.delete(RESOURCES.flowProbes, NS, "workers");
    await eventually(
      "the FlowProbe is gone from the operator's view",
      async () => !(await getCr("FlowProbe", NS, "workers")),
    );
    const name = probeObjectName("workers");
    for (const t of [RESOURCES.daemonSets, RESOURCES.configMaps]) {
      const o = await admin.get<KubeObject>(t, NS, name);
      const ref = o?.metadata.ownerReferences?.[0];
      // What kube-controller-manager's garbage collector reads to delete them.
      assert.deepEqual(
        {
          kind: ref?.kind,
          name: ref?.name,
          uid: ref?.uid,
          controller: ref?.controller,
          block: (ref as { blockOwnerDeletion?: boolean })?.blockOwnerDeletion,
        },
        { kind: "FlowProbe", name: "workers", uid: probe.metadata.uid, controller: true, block: true },
      );
    }
    // And the operator does not bring the resource's objects back to life under a new owner.
    const errorsBefore = metricValue(
      await (await fetch(`http://127.0.0.1:${operator.httpPort}/metrics`)).text(),
      "flowlens_operator_reconcile_errors_total",
    );
    await new Promise((r) => setTimeout(r, 500));
    const ds = await admin.get<KubeObject>(RESOURCES.daemonSets, NS, name);
    assert.equal(ds?.metadata.ownerReferences?.[0]?.uid, probe.metadata.uid);
    assert.ok(collectorObjectNames("flowlens").aggregator);
    const errorsAfter = metricValue(
      await (await fetch(`http://127.0.0.1:${operator.httpPort}/metrics`)).text(),
      "flowlens_operator_reconcile_errors_total",
    );
    assert.equal(errorsAfter, errorsBefore);
  });

  it("recovers from an API server restart without restarting, and reconciles what came after", async () => {
    await cp.stopApiServer();
    await new Promise((r) => setTimeout(r, 1500));
    await cp.startApiServer();
    const late = loadSample<FlowCollector>("flowcollector.yaml");
    late.metadata = { name: "after-restart" };
    await createCr(late, NS);
    await eventually(
      "the late collector's Deployment",
      async () => admin.get(RESOURCES.deployments, NS, "after-restart-aggregator"),
      60_000,
    );
    await waitCondition("FlowCollector", NS, "after-restart", "ConfigurationIssue", "False");
    const text = await (await fetch(`http://127.0.0.1:${operator.httpPort}/metrics`)).text();
    assert.ok(metricValue(text, "flowlens_operator_watch_restarts_total") > 0, "the watches noticed");
    assert.ok(
      metricValue(text, "flowlens_operator_api_requests_total", 'code="0"') > 0,
      "requests failed while it was down",
    );
  });

  it("relists when its watch expired (etcd compacted, 410 Gone), losing no change and seeing deletions", async () => {
    const ns = "expiry";
    await createNamespace(admin, ns);
    // Watches served by etcd itself (no watch cache): its compaction is then exactly what a
    // resumed watch runs into, as a client that was away longer than the history kept would.
    // Killed rather than drained: how it goes away is not the point here, and draining takes 10 s.
    await cp.stopApiServer({ graceMs: 0 });
    await cp.startApiServer({ extraArgs: ["--watch-cache=false"] });
    const relay = await TcpRelay.start({ host: "127.0.0.1", port: Number(new URL(cp.server).port) });
    const logs: { msg: string; resource?: string; message?: string }[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => logs.push(JSON.parse(line)) });
    const op = new Operator({
      kubeConfig: adminKubeConfigVia(cp, relay.port),
      logger,
      namespaces: [ns],
      metricsAddress: "127.0.0.1:0",
      backoff: { baseMs: 100, maxMs: 1000 },
    });
    const collector = (name: string, spec: Record<string, unknown> = {}) => {
      const fc = loadSample<FlowCollector>("flowcollector.yaml");
      fc.metadata = { name };
      fc.spec = spec;
      return fc;
    };
    const restarts = async (reason: string) =>
      metricValue(
        await (await fetch(`http://127.0.0.1:${op.httpPort}/metrics`)).text(),
        "flowlens_operator_watch_restarts_total",
        `resource="flowcollectors",reason="${reason}"`,
      );
    try {
      await createCr(collector("kept"), ns);
      await createCr(collector("doomed"), ns);
      const orphan = loadSample<FlowProbe>("flowprobe.yaml");
      orphan.metadata = { name: "orphan" };
      orphan.spec = { collectorRef: { name: "doomed" } };
      await createCr(orphan, ns);
      await op.start();
      await waitCondition("FlowProbe", ns, "orphan", "ConfigurationIssue", "False");
      await eventually("kept's Deployment", () => admin.get(RESOURCES.deployments, ns, "kept-aggregator"));

      // Partition: the operator's watches break and it retries them from where it was.
      relay.cut();
      await eventually("the watches failing", async () => (await restarts("error")) > 0);
      await admin.delete(RESOURCES.flowCollectors, ns, "doomed");
      const kept = (await getCr("FlowCollector", ns, "kept")) as CR;
      await admin.update(RESOURCES.flowCollectors, ns, "kept", { ...kept, spec: { replicas: 3 } });
      await createCr(collector("fresh"), ns);
      // History up to now is gone: the resourceVersion the operator resumes from is older.
      const revision = await cp.compactEtcd();
      const lastSeen = Number((await getCr("FlowCollector", ns, "fresh"))?.metadata.resourceVersion);
      assert.ok(revision >= lastSeen, `compacted to ${revision}, past ${lastSeen}`);
      assert.equal(await restarts("expired"), 0, "no expiry before the partition heals");
      relay.heal();

      // The watch from the compacted version got 410 from etcd, and the informer listed again.
      await eventually("a relist of the FlowCollectors", async () => (await restarts("expired")) > 0);
      const relist = logs.find(
        (l) => l.msg === "watch expired (410 Gone): relisting" && l.resource === "flowcollectors",
      );
      assert.match(relist?.message ?? "", /resourceVersion for the provided watch is too old/);
      // What changed meanwhile was reconciled: the new collector, the changed one...
      await eventually("fresh's Deployment", () => admin.get(RESOURCES.deployments, ns, "fresh-aggregator"));
      await eventually("kept's Deployment scaled to 3", async () => {
        const d = await admin.get<KubeObject & { spec: { replicas?: number } }>(
          RESOURCES.deployments,
          ns,
          "kept-aggregator",
        );
        return d?.spec.replicas === 3;
      });
      // ...and the deleted one is gone from the cache: the probe that named it says so.
      const probe = await waitCondition("FlowProbe", ns, "orphan", "ConfigurationIssue", "True", "CollectorNotFound");
      assert.match(condition(probe, "ConfigurationIssue")?.message ?? "", /doomed/);
    } finally {
      await op.stop();
      await relay.close();
      await cp.stopApiServer({ graceMs: 0 });
      await cp.startApiServer();
    }
  });

  it("stops promptly while its watches wait on an API server that never answers", async () => {
    const ns = "silent";
    await createNamespace(admin, ns);
    const relay = await TcpRelay.start({ host: "127.0.0.1", port: Number(new URL(cp.server).port) });
    const op = new Operator({
      kubeConfig: adminKubeConfigVia(cp, relay.port),
      logger: quietLogger(),
      namespaces: [ns],
      backoff: { baseMs: 100, maxMs: 1000 },
      // Each watch ends after 1-2 s and is made again, on a new connection.
      watchTimeoutSeconds: 1,
    });
    try {
      await op.start();
      await eventually("synced", async () => op.ready());
      relay.silence();
      // Every watch has ended and is now waiting for response headers that never come.
      await new Promise((r) => setTimeout(r, 2_500));
      const started = Date.now();
      const stopped = await Promise.race([
        op.stop().then(() => true),
        new Promise<false>((r) => setTimeout(() => r(false), 5_000)),
      ]);
      assert.ok(stopped, "stop() still waits for watches the API server never answered");
      assert.ok(Date.now() - started < 5_000);
    } finally {
      await relay.close();
    }
  });

  it("is unready while RBAC refuses one of its lists or watches, says which, and recovers when granted", async () => {
    const ns = "rbac";
    await createNamespace(admin, ns);
    const name = "flowlens-operator-partial";
    const partial = OPERATOR_RBAC.filter((r) => !r.resources.includes("networkpolicies"));
    assert.equal(partial.length, OPERATOR_RBAC.length - 1);
    const kubeConfig = await operatorKubeConfig(cp, admin, SYSTEM, { name, rules: partial });
    const setRules = async (rules: readonly PolicyRule[]) => {
      const role = (await admin.get(EXTRA.clusterRoles, "", name)) as KubeObject;
      await admin.update(EXTRA.clusterRoles, "", name, { ...role, rules });
    };
    // Watches end after 1-2 s, so that a permission taken away shows at the next one.
    const op = new Operator({
      kubeConfig,
      logger: quietLogger(),
      namespaces: [ns],
      metricsAddress: "127.0.0.1:0",
      backoff: { baseMs: 100, maxMs: 1000 },
      watchTimeoutSeconds: 1,
    });
    const readyz = async () => {
      const res = await fetch(`http://127.0.0.1:${op.httpPort}/readyz`);
      return { status: res.status, body: (await res.json()) as { status: string; reason?: string } };
    };
    const refusedNetworkPolicies = /networkpolicies in rbac: 403 /;
    await op.start();
    try {
      const never = await eventually("readyz refusing, naming the refused list", async () => {
        const r = await readyz();
        return r.status === 503 && refusedNetworkPolicies.test(r.body.reason ?? "") ? r : undefined;
      });
      assert.equal(never.body.status, "failing");
      assert.match(never.body.reason ?? "", /^not synced: networkpolicies;/);
      // Every other cache synced meanwhile: only the refused one is named.
      assert.doesNotMatch(never.body.reason ?? "", /deployments|secrets|flowcollectors/);

      await setRules(OPERATOR_RBAC);
      const granted = await eventually("readyz once granted", async () => {
        const r = await readyz();
        return r.status === 200 ? r : undefined;
      });
      assert.deepEqual(granted.body, { status: "ok", reason: "caches synced" });

      // Taken away from a synced cache (the case a stale "synced" once hid): the next watch is refused.
      await setRules(partial);
      await eventually("readyz refusing once revoked", async () => {
        const r = await readyz();
        return r.status === 503 && refusedNetworkPolicies.test(r.body.reason ?? "");
      });
      assert.equal(op.ready(), false);
    } finally {
      await op.stop();
    }
  });

  it("issues the mTLS certificates of tls.mode auto, mounts them, and rotates them before expiry", async () => {
    const ns = "tls";
    await createNamespace(admin, ns);
    // A second operator for this namespace, with certificates living seconds instead of months.
    const tlsOperator = new Operator({
      kubeConfig: cp.kubeConfig,
      logger: quietLogger(),
      namespaces: [ns],
      backoff: { baseMs: 100, maxMs: 2000 },
      tlsTiming: { caValidityMs: 3_600_000, leafValidityMs: 4_000 },
    });
    await tlsOperator.start();
    try {
      const auto = loadSample<FlowCollector>("flowcollector.yaml");
      auto.metadata = { name: "secure" };
      auto.spec = { tls: { mode: "auto" } };
      await createCr(auto, ns);
      const probe = loadSample<FlowProbe>("flowprobe.yaml");
      probe.spec.collectorRef = { name: "secure" };
      await createCr(probe, ns);
      type Secret = KubeObject & { data?: Record<string, string> };
      const pem = (s: Secret | undefined, k: string) => Buffer.from(s?.data?.[k] ?? "", "base64").toString();
      const [caS, serverS, clientS] = await eventually("the three Secrets", async () => {
        const all = await Promise.all(
          ["secure-ca", "secure-aggregator-tls", "nodes-agent-tls"].map((n) =>
            admin.get<Secret>(RESOURCES.secrets, ns, n),
          ),
        );
        return all.every(Boolean) ? all : undefined;
      });
      const ca = new X509Certificate(pem(caS, "ca.crt"));
      const serverCert = new X509Certificate(pem(serverS, "tls.crt"));
      const clientCert = new X509Certificate(pem(clientS, "tls.crt"));
      assert.ok(serverCert.verify(ca.publicKey) && clientCert.verify(ca.publicKey));
      assert.match(serverCert.subjectAltName ?? "", /DNS:secure-aggregator\.tls\.svc/);
      assert.ok(serverCert.checkPrivateKey(createPrivateKey(pem(serverS, "tls.key"))));
      assert.equal(pem(clientS, "ca.crt"), pem(caS, "bundle.crt"));
      // The aggregator serves with it and requires client certificates; the agents present theirs.
      const agg = await eventually("the aggregator config", async () =>
        admin.get<KubeObject & { data?: Record<string, string> }>(RESOURCES.configMaps, ns, "secure-aggregator"),
      );
      assert.match(agg?.data?.["aggregator.yaml"] ?? "", /grpc-client-ca: \/etc\/flowlens\/tls\/ca\.crt/);
      const agent = await eventually("the agent config", async () =>
        admin.get<KubeObject & { data?: Record<string, string> }>(RESOURCES.configMaps, ns, "nodes-agent"),
      );
      assert.match(agent?.data?.["agent.yaml"] ?? "", /grpc-cert: \/etc\/flowlens\/tls\/tls\.crt/);
      type Workload = KubeObject & { spec: { template: { metadata: { annotations?: Record<string, string> } } } };
      const tlsHash = async (t: typeof RESOURCES.deployments, name: string) =>
        (await admin.get<Workload>(t, ns, name))?.spec.template.metadata.annotations?.[TLS_HASH_ANNOTATION];
      const depHash = await eventually("the tls hash on the aggregator", () =>
        tlsHash(RESOURCES.deployments, "secure-aggregator"),
      );
      const dsHash = await eventually("the tls hash on the agents", () => tlsHash(RESOURCES.daemonSets, "nodes-agent"));
      // Renewal at two thirds of a ~4.4 s life: new certificates, Pods rolled, same CA.
      await eventually(
        "renewed certificates",
        async () => {
          const s = await admin.get<Secret>(RESOURCES.secrets, ns, "secure-aggregator-tls");
          const c = await admin.get<Secret>(RESOURCES.secrets, ns, "nodes-agent-tls");
          return (
            new X509Certificate(pem(s, "tls.crt")).serialNumber !== serverCert.serialNumber &&
            new X509Certificate(pem(c, "tls.crt")).serialNumber !== clientCert.serialNumber
          );
        },
        15_000,
      );
      await eventually(
        "the aggregator rolled",
        async () => (await tlsHash(RESOURCES.deployments, "secure-aggregator")) !== depHash,
      );
      await eventually(
        "the agents rolled",
        async () => (await tlsHash(RESOURCES.daemonSets, "nodes-agent")) !== dsHash,
      );
      const caNow = await admin.get<Secret>(RESOURCES.secrets, ns, "secure-ca");
      assert.equal(new X509Certificate(pem(caNow, "ca.crt")).serialNumber, ca.serialNumber, "the CA lives on");
      // Turning TLS off prunes the issued Secrets.
      const cr = (await getCr("FlowCollector", ns, "secure")) as CR;
      await admin.update(RESOURCES.flowCollectors, ns, "secure", { ...cr, spec: { tls: { mode: "disabled" } } });
      await eventually(
        "the CA and server Secrets are pruned",
        async () =>
          !(await admin.get(RESOURCES.secrets, ns, "secure-ca")) &&
          !(await admin.get(RESOURCES.secrets, ns, "secure-aggregator-tls")),
      );
    } finally {
      await tlsOperator.stop();
    }
  });

  it("lets only the leader of two replicas reconcile, and the other take over when it dies", async () => {
    const ns = "le";
    await createNamespace(admin, ns);
    const timing = { LEASE_DURATION_MS: "3000", RENEW_DEADLINE_MS: "2000", RETRY_PERIOD_MS: "300" };
    const replica = async (name: string) => {
      const proc = startProcess(
        "replica",
        process.execPath,
        [fileURLToPath(new URL("./replica-process.js", import.meta.url))],
        {
          env: {
            ...process.env,
            KUBECONFIG: cp.kubeconfigPath,
            REPLICA: name,
            NAMESPACES: ns,
            LEASE_NAMESPACE: SYSTEM,
            LEASE_NAME: "flowlens-operator-test",
            ...timing,
          },
        },
      );
      const port = await eventually(`${name} listening`, async () => {
        const m = /\{"port":(\d+)\}/.exec(proc.output());
        return m ? Number(m[1]) : undefined;
      });
      return { name, proc, port };
    };
    const a = await replica("replica-a");
    const b = await replica("replica-b");
    try {
      const scrape = async (r: { port: number }) => {
        const text = await (await fetch(`http://127.0.0.1:${r.port}/metrics`)).text();
        return {
          leader: metricValue(text, "flowlens_operator_leader"),
          applies: metricValue(text, "flowlens_operator_applies_total"),
        };
      };
      const leader = await eventually("one leader", async () => {
        const [ma, mb] = await Promise.all([scrape(a), scrape(b)]);
        return ma.leader + mb.leader === 1 ? (ma.leader ? a : b) : undefined;
      });
      const standby = leader === a ? b : a;
      const one = loadSample<FlowCollector>("flowcollector.yaml");
      one.metadata = { name: "one" };
      await createCr(one, ns);
      await eventually("the leader applied", async () => (await scrape(leader)).applies > 0);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal((await scrape(standby)).applies, 0, "the standby applied nothing");
      assert.equal((await scrape(standby)).leader, 0);

      // A crash: no Lease release. The standby takes over once the lease duration has passed.
      const killedAt = Date.now();
      leader.proc.child.kill("SIGKILL");
      await eventually("the standby leads", async () => (await scrape(standby)).leader === 1, 10_000);
      const takeover = Date.now() - killedAt;
      assert.ok(takeover < 3000 + 2 * 300 + 1500, `took over in ${takeover} ms`);
      const two = loadSample<FlowCollector>("flowcollector.yaml");
      two.metadata = { name: "two" };
      await createCr(two, ns);
      await eventually("the new leader reconciles", async () => admin.get(RESOURCES.deployments, ns, "two-aggregator"));
      const lease = await admin.get<KubeObject & { spec?: { holderIdentity?: string; leaseTransitions?: number } }>(
        RESOURCES.leases,
        SYSTEM,
        "flowlens-operator-test",
      );
      assert.equal(lease?.spec?.holderIdentity, standby.name);
      assert.equal(lease?.spec?.leaseTransitions, 1);
      // A graceful stop releases the Lease at once.
      await standby.proc.stop();
      const released = await admin.get<typeof lease & object>(RESOURCES.leases, SYSTEM, "flowlens-operator-test");
      assert.equal(released?.spec?.holderIdentity, "");
    } finally {
      await a.proc.stop();
      await b.proc.stop();
    }
  });
});
