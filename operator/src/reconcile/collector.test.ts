import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { API_VERSION, FLOWS_STREAM, type FlowCollector } from "@flowlens/contracts";
import { commonLabels, selectorLabels } from "../labels.js";
import { collectorObjectNames, serviceHost } from "../names.js";
import { loadSample, stored } from "../testing.js";
import { AGGREGATOR_CONFIG_FILE, collectorEndpoints, desiredCollectorObjects, validateCollector } from "./collector.js";
import { ConfigurationError } from "./issues.js";
import { CONFIG_HASH_ANNOTATION, DEFAULT_IMAGE, PATHS } from "./objects.js";
import { configOf, containerOf, find, podSpecOf } from "./test-helpers.js";

const minimal = (spec: FlowCollector["spec"] = {}, name = "fl"): FlowCollector =>
  stored({ apiVersion: API_VERSION, kind: "FlowCollector", metadata: { name }, spec }, "netmon");

describe("desiredCollectorObjects", () => {
  it("makes a ConfigMap, Deployment and ClusterIP Service for a collector with only defaults, owned and labelled", () => {
    const fc = minimal();
    const objects = desiredCollectorObjects(fc);
    const names = collectorObjectNames("fl");
    assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort(), [
      `ConfigMap/${names.aggregator}`,
      `Deployment/${names.aggregator}`,
      `Service/${names.aggregator}`,
    ]);
    for (const o of objects) {
      assert.equal(o.metadata.namespace, "netmon");
      assert.deepEqual(o.metadata.labels, commonLabels("fl", "aggregator"));
      assert.deepEqual(o.metadata.ownerReferences, [
        {
          apiVersion: API_VERSION,
          kind: "FlowCollector",
          name: "fl",
          uid: fc.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    }
    const d = find(objects, "Deployment");
    assert.equal(d.spec?.replicas, 1);
    assert.deepEqual(d.spec?.selector.matchLabels, selectorLabels("fl", "aggregator"));
    for (const [k, v] of Object.entries(d.spec?.selector.matchLabels ?? {})) {
      assert.equal(d.spec?.template.metadata?.labels?.[k], v, "the selector selects the template");
    }
    const svc = find(objects, "Service");
    assert.equal(svc.spec?.type, "ClusterIP");
    assert.deepEqual(svc.spec?.selector, selectorLabels("fl", "aggregator"));
    assert.deepEqual(
      svc.spec?.ports?.map((p) => [p.name, p.port, p.protocol]),
      [
        ["grpc", 9090, "TCP"],
        ["http", 3000, "TCP"],
      ],
    );
  });

  it("runs the aggregator non-root, read-only, without a token, probed on /healthz and /readyz", () => {
    const objects = desiredCollectorObjects(minimal());
    const pod = podSpecOf(objects);
    const c = containerOf(objects);
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.ok((pod.securityContext?.runAsUser ?? 0) > 0);
    assert.equal(pod.securityContext?.sysctls, undefined);
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext?.capabilities, { drop: ["ALL"] });
    assert.equal(c.image, DEFAULT_IMAGE);
    assert.deepEqual(c.command, ["flowlens", "aggregator", "--config", `${PATHS.configDir}/${AGGREGATOR_CONFIG_FILE}`]);
    assert.deepEqual(c.livenessProbe?.httpGet, { path: "/healthz", port: "http" });
    assert.deepEqual(c.startupProbe?.httpGet, { path: "/healthz", port: "http" });
    assert.deepEqual(c.readinessProbe?.httpGet, { path: "/readyz", port: "http" });
    assert.ok(
      c.ports?.some((p) => p.name === "http"),
      "the probes' named port exists",
    );
    // The CRD's default resources, since the spec gave none.
    assert.deepEqual(c.resources, { requests: { cpu: "200m", memory: "512Mi" }, limits: { memory: "2Gi" } });
    const tmp = c.volumeMounts?.find((m) => m.mountPath === "/tmp");
    assert.ok(tmp && pod.volumes?.find((v) => v.name === tmp.name)?.emptyDir, "a writable /tmp");
  });

  it("writes the aggregator's settings under its flag names", () => {
    const objects = desiredCollectorObjects(
      minimal({
        listeners: { grpcPort: 7000, httpPort: 7001 },
        localNetworks: ["10.0.0.0/8"],
        metrics: { topHosts: 7 },
      }),
    );
    assert.deepEqual(configOf(objects, AGGREGATOR_CONFIG_FILE), {
      "grpc-address": ":7000",
      // TLS by default (mode auto): the issued server certificate, agents' certificates required.
      "grpc-tls-cert": `${PATHS.tlsDir}/tls.crt`,
      "grpc-tls-key": `${PATHS.tlsDir}/tls.key`,
      "grpc-client-ca": `${PATHS.tlsDir}/ca.crt`,
      "http-address": ":7001",
      "netflow-port": 0,
      "ipfix-port": 0,
      "sflow-port": 0,
      "local-network": ["10.0.0.0/8"],
      "top-hosts": 7,
      "alert-rules": `${PATHS.alertRulesDir}/rules.yaml`,
    });
    const c = containerOf(objects);
    assert.deepEqual(
      c.ports?.map((p) => [p.name, p.containerPort]),
      [
        ["grpc", 7000],
        ["http", 7001],
      ],
    );
    const cm = find(objects, "ConfigMap");
    const mount = c.volumeMounts?.find((m) => m.mountPath === PATHS.configDir);
    assert.equal(podSpecOf(objects).volumes?.find((v) => v.name === mount?.name)?.configMap?.name, cm.metadata.name);
  });

  it("exposes NetFlow and sFlow (sample) on a LoadBalancer that keeps exporter addresses and sticks to a replica", () => {
    const fc = stored(loadSample<FlowCollector>("flowcollector.yaml"));
    const objects = desiredCollectorObjects(fc);
    const names = collectorObjectNames(fc.metadata.name);
    const flows = find(objects, "Service", names.flows);
    assert.equal(flows.spec?.type, "LoadBalancer");
    assert.equal(flows.spec?.externalTrafficPolicy, "Local");
    assert.equal(flows.spec?.sessionAffinity, "ClientIP");
    assert.deepEqual(
      flows.spec?.ports?.map((p) => [p.name, p.port, p.protocol]),
      [
        ["netflow", fc.spec.listeners?.netflowPort, "UDP"],
        ["sflow", fc.spec.listeners?.sflowPort, "UDP"],
      ],
    );
    const containerPorts = new Map(containerOf(objects).ports?.map((p) => [p.name, p]));
    for (const p of flows.spec?.ports ?? []) {
      const cp = containerPorts.get(String(p.targetPort));
      assert.ok(cp, `targetPort ${p.targetPort} names a container port`);
      assert.equal(cp.protocol, p.protocol);
    }
    const config = configOf(objects, AGGREGATOR_CONFIG_FILE);
    assert.equal(config["netflow-port"], 2055);
    assert.equal(config["sflow-port"], 6343);
    assert.equal(config["ipfix-port"], 0, "off, whatever the daemon's default");
  });

  it("keeps a ClusterIP flows Service cluster-internal (no external traffic policy)", () => {
    const objects = desiredCollectorObjects(minimal({ listeners: { ipfixPort: 4739 } }));
    const flows = find(objects, "Service", collectorObjectNames("fl").flows);
    assert.equal(flows.spec?.type, "ClusterIP");
    assert.equal(flows.spec?.externalTrafficPolicy, undefined);
    assert.deepEqual(
      flows.spec?.ports?.map((p) => [p.name, p.port, p.protocol]),
      [["ipfix", 4739, "UDP"]],
    );
  });

  it("lowers the unprivileged port floor only when a listener is below 1024", () => {
    const pod = podSpecOf(desiredCollectorObjects(minimal({ listeners: { sflowPort: 343 } })));
    assert.deepEqual(pod.securityContext?.sysctls, [{ name: "net.ipv4.ip_unprivileged_port_start", value: "0" }]);
  });

  it("restricts the API to its namespace and the listed ones, and the ingest ports to the CIDRs", () => {
    const fc = stored(loadSample<FlowCollector>("flowcollector.yaml"));
    fc.spec.networkPolicy = { enabled: true, apiNamespaces: ["monitoring"], ingressCIDRs: ["192.0.2.0/24"] };
    const np = find(desiredCollectorObjects(fc), "NetworkPolicy");
    assert.deepEqual(np.spec?.podSelector?.matchLabels, selectorLabels(fc.metadata.name, "aggregator"));
    assert.deepEqual(np.spec?.policyTypes, ["Ingress"]);
    const [ingest, api] = np.spec?.ingress ?? [];
    assert.deepEqual(
      ingest?.ports?.map((p) => [p.port, p.protocol]),
      [
        [9090, "TCP"],
        [2055, "UDP"],
        [6343, "UDP"],
      ],
    );
    assert.deepEqual(ingest?._from, [{ ipBlock: { cidr: "192.0.2.0/24" } }]);
    assert.deepEqual(api?.ports, [{ port: 3000, protocol: "TCP" }]);
    assert.deepEqual(api?._from, [
      { podSelector: {} },
      {
        namespaceSelector: {
          matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["monitoring"] }],
        },
      },
    ]);

    fc.spec.networkPolicy = { enabled: true };
    const open = find(desiredCollectorObjects(fc), "NetworkPolicy");
    assert.equal(open.spec?.ingress?.[0]?._from, undefined, "no CIDRs: ingest open to all (host-network agents)");
    fc.spec.networkPolicy = { enabled: false, ingressCIDRs: ["192.0.2.0/24"] };
    assert.ok(!desiredCollectorObjects(fc).some((o) => o.kind === "NetworkPolicy"));
  });

  it("wires NATS with a per-collector durable consumer and provided TLS from the mounted Secrets (sample)", () => {
    const fc = stored(loadSample<FlowCollector>("flowcollector-nats.yaml"));
    const objects = desiredCollectorObjects(fc);
    const config = configOf(objects, AGGREGATOR_CONFIG_FILE);
    assert.deepEqual(config["nats-url"], [fc.spec.nats?.url]);
    assert.equal(config["nats-stream"], FLOWS_STREAM);
    assert.equal(config["nats-consumer"], `flowlens-${fc.metadata.namespace}-${fc.metadata.name}`);
    const pod = podSpecOf(objects);
    const c = containerOf(objects);
    const mounted = (secret: string | undefined, file: unknown) => {
      const vol = pod.volumes?.find((v) => v.secret?.secretName === secret);
      assert.ok(vol, `Secret ${secret} is a volume`);
      const mount = c.volumeMounts?.find((m) => m.name === vol.name);
      assert.ok(mount?.readOnly);
      const item = vol.secret?.items?.find((i) => `${mount.mountPath}/${i.path}` === file);
      assert.ok(item, `${String(file)} is a file of Secret ${secret}`);
      return item.key;
    };
    assert.equal(mounted(fc.spec.nats?.credentialsSecret, config["nats-creds"]), "nats.creds");
    assert.equal(mounted(fc.spec.tls?.secretName, config["grpc-tls-cert"]), "tls.crt");
    assert.equal(mounted(fc.spec.tls?.secretName, config["grpc-tls-key"]), "tls.key");
    assert.equal(
      pod.securityContext?.fsGroup,
      pod.securityContext?.runAsUser,
      "the non-root user can read the Secrets",
    );
    assert.equal(find(objects, "Deployment").spec?.replicas, 2);
    assert.deepEqual(c.resources, { requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "4Gi" } });
  });

  it("takes the image from the spec, else from the operator's options", () => {
    assert.equal(containerOf(desiredCollectorObjects(minimal(), { image: "reg/x:1" })).image, "reg/x:1");
    assert.equal(
      containerOf(desiredCollectorObjects(minimal({ image: "reg/y:2" }), { image: "reg/x:1" })).image,
      "reg/y:2",
    );
  });

  it("passes integer quantities as strings, as the Pod spec types them", () => {
    const c = containerOf(desiredCollectorObjects(minimal({ resources: { requests: { cpu: 2, memory: "1Gi" } } })));
    assert.deepEqual(c.resources, { requests: { cpu: "2", memory: "1Gi" } });
  });

  it("is pure, and rolls the Pods exactly when the config file changes", () => {
    const fc = minimal();
    const hash = (objects: ReturnType<typeof desiredCollectorObjects>) =>
      find(objects, "Deployment").spec?.template.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
    assert.deepEqual(desiredCollectorObjects(fc), desiredCollectorObjects(structuredClone(fc)));
    const base = hash(desiredCollectorObjects(fc));
    assert.match(String(base), /^[0-9a-f]{16}$/);
    assert.equal(hash(desiredCollectorObjects(minimal({ replicas: 3 }))), base, "replicas are not in the config file");
    assert.notEqual(hash(desiredCollectorObjects(minimal({ metrics: { topHosts: 5 } }))), base);
  });
});

describe("collectorEndpoints", () => {
  it("names the Services by their in-cluster DNS names and the configured ports", () => {
    const fc = stored(loadSample<FlowCollector>("flowcollector.yaml"), "obs");
    const names = collectorObjectNames(fc.metadata.name);
    assert.deepEqual(collectorEndpoints(fc), {
      grpc: `${serviceHost(names.aggregator, "obs")}:9090`,
      http: `http://${serviceHost(names.aggregator, "obs")}:3000`,
      netflow: `${serviceHost(names.flows, "obs")}:2055`,
      sflow: `${serviceHost(names.flows, "obs")}:6343`,
    });
  });
});

describe("validateCollector", () => {
  it("accepts the samples", () => {
    for (const f of ["flowcollector.yaml", "flowcollector-nats.yaml"]) {
      assert.deepEqual(validateCollector(stored(loadSample<FlowCollector>(f))), [], f);
    }
  });

  it("reports what this operator and aggregator cannot do, and desired objects refuse it", () => {
    const fc = minimal({ tls: { mode: "auto" }, retention: { recentFlows: 10 } });
    const issues = validateCollector(fc);
    assert.deepEqual(
      issues.map((i) => [i.reason, i.field]),
      [["RetentionNotSupported", "spec.retention"]],
    );
    assert.throws(
      () => desiredCollectorObjects(fc),
      (err) =>
        err instanceof ConfigurationError && err.issues.length === 1 && /RetentionNotSupported/.test(err.message),
    );
    assert.deepEqual(validateCollector(minimal({ tls: { mode: "disabled" } })), []);
    assert.deepEqual(validateCollector(minimal({ tls: { mode: "auto" } })), []);
  });

  it("refuses to build objects for a resource that was not read from the API server", () => {
    const fc = minimal();
    delete fc.metadata.uid;
    assert.throws(() => desiredCollectorObjects(fc), /no metadata\.uid/);
  });
});
