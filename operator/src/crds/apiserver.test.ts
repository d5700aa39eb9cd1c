// The generated CRDs (crds/*.yaml, as users apply them) in a real kube-apiserver: they are
// accepted and Established, the samples pass, invalid resources are refused with the messages
// of the schema and CEL rules, defaults are the ones the reconcilers assume, and the objects
// the reconcilers make from the stored samples pass the API server's own validation.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { after, before, describe, it } from "node:test";
import {
  type AlertRule,
  API_VERSION,
  type FlowCollector,
  type FlowProbe,
  type FlowProbeStatus,
  GROUP,
  VERSION,
} from "@flowlens/contracts";
import { type ControlPlane, startControlPlane } from "@flowlens/testkit";
import { CoreV1Api, CustomObjectsApi, KubernetesObjectApi } from "@kubernetes/client-node";
import { desiredCollectorObjects } from "../reconcile/collector.js";
import { desiredProbeObjects } from "../reconcile/probe.js";
import { crdsDir, type FlowlensResource, loadSample, sampleFiles } from "../testing.js";
import { alertRuleSpecSchema } from "./alertrule.js";
import { CATEGORY } from "./crd.js";
import { flowCollectorSpecSchema } from "./flowcollector.js";
import { flowProbeSpecSchema } from "./flowprobe.js";
import { type LooseSchema, withDefaults } from "./schema.js";

const NS = "flowlens-crd-test";
const KINDS = {
  FlowProbe: { plural: "flowprobes", short: "fp", schema: flowProbeSpecSchema },
  FlowCollector: { plural: "flowcollectors", short: "fc", schema: flowCollectorSpecSchema },
  AlertRule: { plural: "alertrules", short: "ar", schema: alertRuleSpecSchema },
} as const;
type Kind = keyof typeof KINDS;

let cp: ControlPlane;
let custom: CustomObjectsApi;

const at = (kind: Kind) => ({ group: GROUP, version: VERSION, namespace: NS, plural: KINDS[kind].plural });

async function create<T extends FlowlensResource>(cr: T): Promise<T> {
  return (await custom.createNamespacedCustomObject({ ...at(cr.kind), body: cr })) as T;
}
async function read<T extends FlowlensResource>(kind: Kind, name: string): Promise<T> {
  return (await custom.getNamespacedCustomObject({ ...at(kind), name })) as T;
}
async function replace<T extends FlowlensResource>(cr: T): Promise<T> {
  return (await custom.replaceNamespacedCustomObject({ ...at(cr.kind), name: cr.metadata.name, body: cr })) as T;
}

/** The API server's reason for refusing a request, from client-node's ApiException. */
function refusal(err: unknown): { code: number | undefined; message: string } {
  const e = err as { code?: number; body?: unknown; message?: string };
  let body = e.body;
  if (typeof body === "string") {
    try {
      body = JSON.parse(body);
    } catch {
      // not JSON: keep the text
    }
  }
  const message = (body as { message?: string } | undefined)?.message ?? String(body ?? e.message);
  return { code: e.code, message };
}

async function assertRefused(p: Promise<unknown>, expect: RegExp[]): Promise<void> {
  await assert.rejects(p, (err) => {
    const { code, message } = refusal(err);
    assert.equal(code, 422, message);
    for (const re of expect) assert.match(message, re);
    return true;
  });
}

/** GET with an Accept header client-node has no method for (Table, discovery). */
function getJson(path: string, accept = "application/json"): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${cp.server}${path}`,
      { ca: readFileSync(cp.caFile), headers: { authorization: `Bearer ${cp.token}`, accept } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () =>
          res.statusCode === 200
            ? resolve(JSON.parse(body))
            : reject(new Error(`GET ${path}: ${res.statusCode} ${body}`)),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

const fp = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: API_VERSION,
  kind: "FlowProbe" as const,
  metadata: { name },
  spec: { collectorRef: { name: "flowlens" }, ...spec },
});
const fc = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: API_VERSION,
  kind: "FlowCollector" as const,
  metadata: { name },
  spec,
});
const threshold = {
  target: { kind: "host", value: "10.0.0.1" },
  metric: "bps",
  window: "5m",
  operator: ">",
  value: 1000,
};
const ar = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: API_VERSION,
  kind: "AlertRule" as const,
  metadata: { name },
  spec: { collectorRef: { name: "flowlens" }, severity: "warning", threshold, ...spec },
});

before(async () => {
  cp = await startControlPlane({ startTimeoutMs: 300_000 });
  custom = cp.kubeConfig.makeApiClient(CustomObjectsApi);
  await cp.kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
});
after(async () => {
  await cp?.stop();
});

describe("the generated CRDs in kube-apiserver", () => {
  it("are Established from crds/, namespaced, with short names, the flowlens category and a status subresource", async () => {
    const names = await cp.applyCrds(crdsDir);
    assert.deepEqual(
      names.sort(),
      Object.values(KINDS)
        .map((k) => `${k.plural}.${GROUP}`)
        .sort(),
    );
    type Discovery = {
      resources: { name: string; kind: string; namespaced: boolean; shortNames?: string[]; categories?: string[] }[];
    };
    // Established is per CRD; the group version's discovery document is rebuilt a moment later,
    // resource by resource: wait until it lists them all (or give up and let the asserts say).
    const plurals = Object.values(KINDS).map((k) => k.plural);
    let list = (await getJson(`/apis/${GROUP}/${VERSION}`).catch(() => ({ resources: [] }))) as Discovery;
    for (const end = Date.now() + 30_000; Date.now() < end; ) {
      if (plurals.every((p) => list.resources.some((r) => r.name === p))) break;
      await new Promise((r) => setTimeout(r, 200));
      list = (await getJson(`/apis/${GROUP}/${VERSION}`).catch(() => ({ resources: [] }))) as Discovery;
    }
    for (const [kind, k] of Object.entries(KINDS)) {
      const r = list.resources.find((x) => x.name === k.plural);
      assert.ok(r, `${k.plural} is served`);
      assert.equal(r.kind, kind);
      assert.equal(r.namespaced, true);
      assert.deepEqual(r.shortNames, [k.short]);
      assert.deepEqual(r.categories, [CATEGORY]);
      assert.ok(
        list.resources.some((x) => x.name === `${k.plural}/status`),
        `${k.plural}/status`,
      );
    }
  });

  it("accept every sample and store it with exactly the defaults withDefaults() gives the reconcilers", async () => {
    const files = sampleFiles();
    assert.ok(files.length >= 6, `samples: ${files.join(", ")}`);
    const kinds = new Set<string>();
    for (const f of files) {
      const sample = loadSample(f);
      kinds.add(sample.kind);
      const got = await create(sample);
      assert.ok(got.metadata.uid, f);
      assert.deepEqual(got.spec, withDefaults(KINDS[sample.kind].schema as LooseSchema, sample.spec), f);
    }
    assert.deepEqual([...kinds].sort(), Object.keys(KINDS).sort(), "a sample of each kind");
  });

  it("fill in the defaults of minimal resources", async () => {
    const p = await create(fp("minimal", {}) as FlowProbe);
    assert.equal(p.spec.sampling, 1);
    assert.deepEqual(p.spec.timeouts, { idleSeconds: 30, activeSeconds: 300 });
    assert.equal(p.spec.maxFlows, 1_000_000);
    assert.equal(p.spec.dpi, true);
    assert.deepEqual(p.spec.export, { transport: "grpc" });
    assert.deepEqual(p.spec.resources, { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } });
    const withTarget = await create(
      fp("ipfix-default", { export: { ipfix: [{ host: "192.0.2.1", port: 4739 }] } }) as FlowProbe,
    );
    assert.deepEqual(withTarget.spec.export?.ipfix, [{ host: "192.0.2.1", port: 4739, protocol: "ipfix" }]);
    assert.equal(withTarget.spec.export?.transport, "grpc");

    const c = await create(fc("minimal", {}) as FlowCollector);
    assert.equal(c.spec.replicas, 1);
    assert.deepEqual(c.spec.listeners, { grpcPort: 9090, httpPort: 3000 });
    assert.deepEqual(c.spec.metrics, { topHosts: 100 });
    assert.equal(c.spec.serviceType, "ClusterIP");
    // TLS by default: the operator issues the certificates for mTLS unless the spec says otherwise.
    assert.deepEqual(c.spec.tls, { mode: "auto" });
    assert.equal(c.spec.nats, undefined);
    const n = await create(fc("nats-default", { nats: { url: "nats://n:4222" } }) as FlowCollector);
    assert.deepEqual(n.spec.nats, { url: "nats://n:4222", stream: "FLOWLENS_FLOWS" });
  });

  const long = (n: number) => `a${"b".repeat(n - 1)}`;
  const invalid: Array<{ scenario: string; cr: { kind: Kind; metadata: { name: string } }; expect: RegExp[] }> = [
    { scenario: "sampling 0", cr: fp("s0", { sampling: 0 }), expect: [/spec\.sampling/, /greater than or equal to 1/] },
    {
      scenario: "no collectorRef",
      cr: { ...fp("nr", {}), spec: {} } as never,
      expect: [/spec\.collectorRef: Required value/],
    },
    {
      scenario: "a collectorRef that is no Service name",
      cr: fp("rn", { collectorRef: { name: "9lives" } }),
      expect: [/spec\.collectorRef\.name/, /should match/],
    },
    {
      scenario: "idle timeout above the active one",
      cr: fp("to", { timeouts: { idleSeconds: 600, activeSeconds: 60 } }),
      expect: [/spec\.timeouts/, /idleSeconds must not exceed activeSeconds/],
    },
    {
      scenario: "maxFlows below 1024",
      cr: fp("mf", { maxFlows: 100 }),
      expect: [/spec\.maxFlows/, /greater than or equal to 1024/],
    },
    {
      scenario: "an interface both captured and excluded",
      cr: fp("ie", { interfaces: ["eth0"], excludeInterfaces: ["eth0"] }),
      expect: [/an interface cannot be both in interfaces and in excludeInterfaces/],
    },
    {
      scenario: "a comma in an interface",
      cr: fp("ic", { interfaces: ["eth0,eth1"] }),
      expect: [/spec\.interfaces\[0\]/, /should match/],
    },
    {
      scenario: "an unknown transport",
      cr: fp("tr", { export: { transport: "kafka" } }),
      expect: [/spec\.export\.transport: Unsupported value: "kafka"/],
    },
    {
      scenario: "an IPFIX port above 65535",
      cr: fp("ip", { export: { ipfix: [{ host: "192.0.2.1", port: 70000 }] } }),
      expect: [/spec\.export\.ipfix\[0\]\.port/, /less than or equal to 65535/],
    },
    {
      scenario: "an IPFIX host that is neither IP nor DNS name",
      cr: fp("ih", { export: { ipfix: [{ host: "not a host", port: 4739 }] } }),
      expect: [/spec\.export\.ipfix\[0\]\.host/, /must be an IP address or a DNS name/],
    },
    {
      scenario: "the same IPFIX target twice",
      cr: fp("id", {
        export: {
          ipfix: [
            { host: "192.0.2.1", port: 4739 },
            { host: "192.0.2.1", port: 4739, protocol: "netflow9" },
          ],
        },
      }),
      expect: [/spec\.export\.ipfix\[1\]: Duplicate value/],
    },
    {
      scenario: "a toleration Exists with a value",
      cr: fp("tv", { tolerations: [{ key: "k", operator: "Exists", value: "v" }] }),
      expect: [/spec\.tolerations\[0\]/, /operator Exists takes no value/],
    },
    {
      scenario: "requests above limits",
      cr: fp("rq", { resources: { requests: { memory: "2Gi" }, limits: { memory: "1Gi" } } }),
      expect: [/spec\.resources/, /requests must not exceed limits/],
    },
    {
      scenario: "a malformed quantity",
      cr: fp("qt", { resources: { limits: { cpu: "lots" } } }),
      expect: [/spec\.resources\.limits\.cpu/],
    },
    {
      scenario: "a FlowProbe name too long for its DaemonSet",
      cr: fp(long(58), {}),
      expect: [/metadata\.name must be at most 57 characters/, /<name>-agent/],
    },
    {
      scenario: "gRPC and HTTP on one port",
      cr: fc("dp", { listeners: { grpcPort: 8080, httpPort: 8080 } }),
      expect: [/spec\.listeners/, /listener ports must be distinct/],
    },
    {
      scenario: "NetFlow on the defaulted gRPC port",
      cr: fc("dd", { listeners: { netflowPort: 9090 } }),
      expect: [/listener ports must be distinct/],
    },
    {
      scenario: "port 0",
      cr: fc("p0", { listeners: { sflowPort: 0 } }),
      expect: [/spec\.listeners\.sflowPort/, /greater than or equal to 1/],
    },
    {
      scenario: "negative replicas",
      cr: fc("rp", { replicas: -1 }),
      expect: [/spec\.replicas/, /greater than or equal to 0/],
    },
    {
      scenario: "provided TLS without a Secret",
      cr: fc("tp", { tls: { mode: "provided" } }),
      expect: [/spec\.tls/, /secretName is required with mode provided, and only then/],
    },
    {
      scenario: "a Secret for TLS that is disabled",
      cr: fc("td", { tls: { mode: "disabled", secretName: "s" } }),
      expect: [/secretName is required with mode provided, and only then/],
    },
    {
      scenario: "a local network that is no CIDR",
      cr: fc("ln", { localNetworks: ["10.0.0.0/33"] }),
      expect: [/spec\.localNetworks\[0\]/, /must be a CIDR such as 10\.0\.0\.0\/8/],
    },
    {
      scenario: "a LoadBalancer with no flow listener to expose",
      cr: fc("lb", { serviceType: "LoadBalancer" }),
      expect: [/spec\.serviceType/, /set one of their ports/],
    },
    {
      scenario: "NATS without a URL",
      cr: fc("nu", { nats: { stream: "S" } }),
      expect: [/spec\.nats\.url: Required value/],
    },
    {
      scenario: "a NATS stream name with a dot",
      cr: fc("ns", { nats: { url: "nats://n:4222", stream: "a.b" } }),
      expect: [/spec\.nats\.stream/],
    },
    {
      scenario: "a FlowCollector name that is no Service name",
      cr: fc("1st", {}),
      expect: [/metadata\.name must be at most 52 characters/, /<name>-aggregator/],
    },
    {
      scenario: "both threshold and check",
      cr: ar("bo", { check: { name: "port-scan" } }),
      expect: [/exactly one of threshold and check must be set/],
    },
    {
      scenario: "neither threshold nor check",
      cr: ar("ne", { threshold: undefined }),
      expect: [/exactly one of threshold and check must be set/],
    },
    {
      scenario: "a host target that is no IP",
      cr: ar("ht", { threshold: { ...threshold, target: { kind: "host", value: "db-1" } } }),
      expect: [/spec\.threshold\.target/, /a host target is an IP address/],
    },
    {
      scenario: "a network target that is no CIDR",
      cr: ar("nt", { threshold: { ...threshold, target: { kind: "network", value: "10.0.0.1" } } }),
      expect: [/a network target is a CIDR/],
    },
    {
      scenario: "an unknown window",
      cr: ar("wi", { threshold: { ...threshold, window: "2m" } }),
      expect: [/spec\.threshold\.window: Unsupported value: "2m"/],
    },
    {
      scenario: "a negative hysteresis",
      cr: ar("hy", { threshold: { ...threshold, hysteresis: -1 } }),
      expect: [/spec\.threshold\.hysteresis/],
    },
    {
      scenario: "an unknown check",
      cr: ar("uc", { threshold: undefined, check: { name: "ddos" } }),
      expect: [/spec\.check\.name: Unsupported value: "ddos"/],
    },
    {
      scenario: "a boolean check parameter",
      cr: ar("pb", { threshold: undefined, check: { name: "port-scan", params: { strict: true } } }),
      expect: [/spec\.check\.params\.strict/, /must be of type integer/],
    },
    {
      scenario: "a check parameter name that is not camelCase",
      cr: ar("pn", { threshold: undefined, check: { name: "port-scan", params: { "max-ports": 10 } } }),
      expect: [/spec\.check\.params/, /param names are camelCase/],
    },
    { scenario: "no severity", cr: ar("sv", { severity: undefined }), expect: [/spec\.severity: Required value/] },
    {
      scenario: "an email target that is no address",
      cr: ar("em", { notify: [{ kind: "email", target: "ops" }] }),
      expect: [/spec\.notify\[0\]/, /an email target is an address/],
    },
    {
      scenario: "a webhook that is not http(s)",
      cr: ar("wh", { notify: [{ kind: "webhook", target: "ftp://example.net/x" }] }),
      expect: [/a webhook target is an http\(s\) URL/],
    },
    {
      scenario: "a syslog target without a port",
      cr: ar("sl", { notify: [{ kind: "syslog", target: "udp://syslog.example.net" }] }),
      expect: [/a syslog target is \[udp\|tcp\|tls:\/\/\]HOST:PORT/],
    },
    {
      scenario: "the same notification twice",
      cr: ar("dn", {
        notify: [
          { kind: "email", target: "a@b.c" },
          { kind: "email", target: "a@b.c" },
        ],
      }),
      expect: [/spec\.notify\[1\]: Duplicate value/],
    },
  ];

  describe("refuse invalid resources with the reason", () => {
    for (const c of invalid) {
      it(`${c.cr.kind}: ${c.scenario}`, async () => {
        await assertRefused(custom.createNamespacedCustomObject({ ...at(c.cr.kind), body: c.cr }), c.expect);
      });
    }
  });

  it("refuse to move a FlowProbe or AlertRule to another collector, and allow other changes", async () => {
    for (const cr of [fp("moving", {}), ar("moving", {})] as Array<FlowProbe | AlertRule>) {
      const created = await create(cr);
      const edited = structuredClone(created);
      if (edited.kind === "FlowProbe") edited.spec.sampling = 5;
      else edited.spec.severity = "critical";
      const updated = await replace(edited);
      assert.equal(updated.metadata.generation, 2, `${cr.kind}: a mutable field changed`);
      const moved = structuredClone(updated);
      moved.spec.collectorRef = { name: "other" };
      await assertRefused(replace(moved), [/spec\.collectorRef/, /collectorRef is immutable/]);
      const qualified = structuredClone(updated);
      qualified.spec.collectorRef = { name: "flowlens", namespace: "elsewhere" };
      await assertRefused(replace(qualified), [/collectorRef is immutable/]);
    }
  });

  it("keep status behind the status subresource, validated by its schema", async () => {
    const created = await create(fp("status", {}) as FlowProbe);
    const status = {
      observedGeneration: 1,
      nodesDesired: 3,
      nodesReady: 2,
      conditions: [
        {
          type: "Ready",
          status: "False" as const,
          reason: "CollectorNotFound",
          message: "FlowCollector x/flowlens does not exist",
          lastTransitionTime: "2026-01-01T00:00:00Z",
        },
      ],
    } satisfies FlowProbeStatus;
    await custom.replaceNamespacedCustomObjectStatus({
      ...at("FlowProbe"),
      name: "status",
      body: { ...created, status },
    });
    const got = await read<FlowProbe>("FlowProbe", "status");
    assert.deepEqual(got.status, status);
    assert.equal(got.metadata.generation, created.metadata.generation, "a status write is no spec change");

    const viaMain = await replace<FlowProbe>({ ...got, status: { ...status, nodesReady: 0 } });
    assert.equal(viaMain.status?.nodesReady, 2, "status is ignored on the main resource");

    await assertRefused(
      custom.replaceNamespacedCustomObjectStatus({
        ...at("FlowProbe"),
        name: "status",
        body: { ...got, status: { ...status, conditions: [{ ...status.conditions[0], status: "Maybe" }] } },
      }),
      [/status\.conditions\[0\]\.status: Unsupported value: "Maybe"/],
    );
  });

  it("print collector, desired and ready nodes and the Ready reason in `kubectl get flowprobes`", async () => {
    const created = await create(fp("printed", {}) as FlowProbe);
    await custom.replaceNamespacedCustomObjectStatus({
      ...at("FlowProbe"),
      name: "printed",
      body: {
        ...created,
        status: {
          nodesDesired: 5,
          nodesReady: 4,
          conditions: [
            {
              type: "Ready",
              status: "False",
              reason: "Rollout",
              message: "4/5",
              lastTransitionTime: "2026-01-01T00:00:00Z",
            },
          ],
        },
      },
    });
    const table = (await getJson(
      `/apis/${GROUP}/${VERSION}/namespaces/${NS}/flowprobes/printed`,
      "application/json;as=Table;v=v1;g=meta.k8s.io",
    )) as { columnDefinitions: { name: string; priority: number }[]; rows: { cells: unknown[] }[] };
    const columns = table.columnDefinitions.filter((c) => c.priority === 0).map((c) => c.name);
    assert.deepEqual(columns, ["Name", "Collector", "Desired", "Ready", "Status", "Age"]);
    const cells = table.rows[0]?.cells ?? [];
    assert.deepEqual(cells.slice(0, 5), ["printed", "flowlens", 5, 4, "Rollout"]);
  });

  it("store resources from which the reconcilers make objects the API server accepts (dry run)", async () => {
    // Beyond the samples: every listener, a port below 1024, NodePort, a NetworkPolicy with CIDRs.
    await create(
      fc("every-listener", {
        listeners: { netflowPort: 2055, ipfixPort: 4739, sflowPort: 343 },
        serviceType: "NodePort",
        networkPolicy: { enabled: true, ingressCIDRs: ["192.0.2.0/24"], apiNamespaces: ["monitoring"] },
        resources: { requests: { cpu: 1 } },
      }) as FlowCollector,
    );
    await create(
      fp("to-every-listener", {
        collectorRef: { name: "every-listener" },
        export: { ipfix: [{ host: "2001:db8::1", port: 4739 }] },
      }) as FlowProbe,
    );

    const objects = KubernetesObjectApi.makeApiClient(cp.kubeConfig);
    const collectors = (
      (await custom.listNamespacedCustomObject({ ...at("FlowCollector") })) as { items: FlowCollector[] }
    ).items;
    const probes = ((await custom.listNamespacedCustomObject({ ...at("FlowProbe") })) as { items: FlowProbe[] }).items;
    const byName = new Map(collectors.map((c) => [c.metadata.name, c]));
    let checked = 0;
    for (const c of collectors) {
      for (const o of desiredCollectorObjects(c)) {
        const got = await objects.create(o, undefined, "All");
        assert.equal(got.metadata?.name, o.metadata.name);
        if (o.kind === "NetworkPolicy") {
          // The serializer carried client-node's `_from` to the wire and back.
          const peers = (np: typeof o) => JSON.parse(JSON.stringify(np.spec?.ingress?.map((r) => r._from ?? null)));
          assert.deepEqual(peers(got as typeof o), peers(o));
        }
        checked++;
      }
    }
    for (const p of probes) {
      const c = byName.get(p.spec.collectorRef.name);
      if (!c) continue; // the minimal ones point at a collector that is not there
      for (const o of desiredProbeObjects(p, c)) {
        const got = await objects.create(o, undefined, "All");
        assert.equal(got.metadata?.name, o.metadata.name);
        checked++;
      }
    }
    assert.ok(checked >= 15, `objects checked: ${checked}`);
  });
});
