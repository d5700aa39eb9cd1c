import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { API_VERSION, type FlowCollector, type FlowProbe } from "@flowlens/contracts";
import { commonLabels, selectorLabels } from "../labels.js";
import { collectorObjectNames, probeObjectName, serviceHost } from "../names.js";
import { loadSample, stored } from "../testing.js";
import { collectorEndpoints } from "./collector.js";
import { ConfigurationError } from "./issues.js";
import { CONFIG_HASH_ANNOTATION, PATHS } from "./objects.js";
import { AGENT_CONFIG_FILE, AGENT_METRICS_PORT, desiredProbeObjects, validateProbe } from "./probe.js";
import { configOf, containerOf, find, podSpecOf } from "./test-helpers.js";

const collector = (spec: FlowCollector["spec"] = {}, name = "fl", namespace = "netmon"): FlowCollector =>
  stored({ apiVersion: API_VERSION, kind: "FlowCollector", metadata: { name }, spec }, namespace);
const probe = (spec: Partial<FlowProbe["spec"]> = {}, namespace = "netmon"): FlowProbe =>
  stored(
    {
      apiVersion: API_VERSION,
      kind: "FlowProbe",
      metadata: { name: "nodes" },
      spec: { collectorRef: { name: "fl" }, ...spec },
    },
    namespace,
  );

describe("desiredProbeObjects", () => {
  it("makes a ConfigMap and a DaemonSet, owned by the FlowProbe and labelled as its agent", () => {
    const fp = probe();
    const objects = desiredProbeObjects(fp, collector());
    assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort(), [
      `ConfigMap/${probeObjectName("nodes")}`,
      `DaemonSet/${probeObjectName("nodes")}`,
    ]);
    for (const o of objects) {
      assert.equal(o.metadata.namespace, "netmon");
      assert.deepEqual(o.metadata.labels, commonLabels("nodes", "agent"));
      assert.equal(o.metadata.ownerReferences?.[0]?.uid, fp.metadata.uid);
      assert.equal(o.metadata.ownerReferences?.[0]?.kind, "FlowProbe");
    }
    const ds = find(objects, "DaemonSet");
    assert.deepEqual(ds.spec?.selector.matchLabels, selectorLabels("nodes", "agent"));
    for (const [k, v] of Object.entries(ds.spec?.selector.matchLabels ?? {})) {
      assert.equal(ds.spec?.template.metadata?.labels?.[k], v);
    }
    assert.equal(ds.spec?.updateStrategy?.rollingUpdate?.maxSurge, 0, "two agents cannot share a node's host port");
  });

  it("captures from the host network with NET_RAW, NET_ADMIN and IPC_LOCK instead of privileged", () => {
    const objects = desiredProbeObjects(probe(), collector());
    const pod = podSpecOf(objects);
    const c = containerOf(objects);
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.dnsPolicy, "ClusterFirstWithHostNet");
    assert.equal(pod.automountServiceAccountToken, false);
    const sc = c.securityContext;
    assert.equal(sc?.privileged, false);
    assert.equal(sc?.allowPrivilegeEscalation, false);
    assert.equal(sc?.readOnlyRootFilesystem, true);
    assert.deepEqual(sc?.capabilities, { drop: ["ALL"], add: ["NET_RAW", "NET_ADMIN", "IPC_LOCK"] });
    assert.equal(sc?.runAsUser, 0, "added capabilities reach uid 0 only");
    assert.deepEqual(c.env, [{ name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }]);
    assert.deepEqual(c.command, ["flowlens", "agent", "--config", `${PATHS.configDir}/${AGENT_CONFIG_FILE}`]);
    assert.deepEqual(c.ports, [
      { name: "metrics", containerPort: AGENT_METRICS_PORT, hostPort: AGENT_METRICS_PORT, protocol: "TCP" },
    ]);
    assert.deepEqual(c.livenessProbe?.httpGet, { path: "/healthz", port: "metrics" });
    assert.deepEqual(c.readinessProbe?.httpGet, { path: "/healthz", port: "metrics" });
    assert.deepEqual(c.resources, { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } });
  });

  it("places the agents by nodeSelector (Linux only) and tolerations (sample)", () => {
    const fp = stored(loadSample<FlowProbe>("flowprobe-nats.yaml"));
    const fc = stored(loadSample<FlowCollector>("flowcollector-nats.yaml"));
    const pod = podSpecOf(desiredProbeObjects(fp, fc));
    assert.deepEqual(pod.nodeSelector, { ...fp.spec.nodeSelector, "kubernetes.io/os": "linux" });
    assert.equal(pod.tolerations, undefined);
    const all = stored(loadSample<FlowProbe>("flowprobe.yaml"));
    const pod2 = podSpecOf(desiredProbeObjects(all, stored(loadSample<FlowCollector>("flowcollector.yaml"))));
    assert.deepEqual(pod2.tolerations, all.spec.tolerations);
  });

  it("writes capture settings and the collector's gRPC Service as the export target (sample)", () => {
    const fp = stored(loadSample<FlowProbe>("flowprobe.yaml"));
    const fc = stored(loadSample<FlowCollector>("flowcollector.yaml"));
    const config = configOf(desiredProbeObjects(fp, fc), AGENT_CONFIG_FILE);
    assert.deepEqual(config, {
      "exclude-interface": fp.spec.excludeInterfaces,
      sampling: 1,
      "idle-timeout": fp.spec.timeouts?.idleSeconds,
      "active-timeout": fp.spec.timeouts?.activeSeconds,
      "max-flows": 1_000_000,
      "no-dpi": false,
      "grpc-target": `${serviceHost(collectorObjectNames(fc.metadata.name).aggregator, "flowlens")}:9090`,
      // The collector's default TLS (mode auto): mTLS with the probe's issued certificate.
      "grpc-ca": `${PATHS.tlsDir}/ca.crt`,
      "grpc-cert": `${PATHS.tlsDir}/tls.crt`,
      "grpc-key": `${PATHS.tlsDir}/tls.key`,
      "grpc-server-name": serviceHost(collectorObjectNames(fc.metadata.name).aggregator, "flowlens"),
      "ipfix-target": ["192.0.2.10:4739"],
      "ipfix-version": "10",
      "metrics-address": `:${AGENT_METRICS_PORT}`,
    });
    assert.equal(config["grpc-target"], collectorEndpoints(fc).grpc);
  });

  it("publishes to the collector's NATS with its credentials, without DPI, sampled (sample)", () => {
    const fp = stored(loadSample<FlowProbe>("flowprobe-nats.yaml"));
    const fc = stored(loadSample<FlowCollector>("flowcollector-nats.yaml"));
    const objects = desiredProbeObjects(fp, fc);
    const config = configOf(objects, AGENT_CONFIG_FILE);
    assert.deepEqual(config["nats-url"], [fc.spec.nats?.url]);
    assert.equal(config["grpc-target"], undefined);
    assert.equal(config["grpc-ca"], undefined, "the gRPC TLS of the collector is not the agents' business over NATS");
    assert.equal(config["no-dpi"], true);
    assert.equal(config.sampling, 10);
    assert.equal(config["max-flows"], 200000);
    assert.equal(config.bpf, fp.spec.bpfFilter);
    assert.deepEqual(config.interface, fp.spec.interfaces);
    const pod = podSpecOf(objects);
    const c = containerOf(objects);
    const vol = pod.volumes?.find((v) => v.secret?.secretName === fc.spec.nats?.credentialsSecret);
    const mount = c.volumeMounts?.find((m) => m.name === vol?.name);
    assert.equal(`${mount?.mountPath}/${vol?.secret?.items?.[0]?.path}`, config["nats-creds"]);
    assert.ok(!pod.volumes?.some((v) => v.secret?.secretName === fc.spec.tls?.secretName));
  });

  it("verifies the aggregator's provided certificate with only the CA mounted, by its Service name", () => {
    const fc = collector({ tls: { mode: "provided", secretName: "agg-tls" } });
    const objects = desiredProbeObjects(probe(), fc);
    const config = configOf(objects, AGENT_CONFIG_FILE);
    assert.equal(config["grpc-server-name"], serviceHost(collectorObjectNames("fl").aggregator, "netmon"));
    const vol = podSpecOf(objects).volumes?.find((v) => v.secret?.secretName === "agg-tls");
    assert.deepEqual(vol?.secret?.items, [{ key: "ca.crt", path: "ca.crt" }]);
    const mount = containerOf(objects).volumeMounts?.find((m) => m.name === vol?.name);
    assert.equal(`${mount?.mountPath}/ca.crt`, config["grpc-ca"]);
  });

  it("dials a collector in another namespace by that namespace", () => {
    const fp = probe({ collectorRef: { name: "central", namespace: "observability" } });
    const fc = collector({ listeners: { grpcPort: 7443 } }, "central", "observability");
    const config = configOf(desiredProbeObjects(fp, fc), AGENT_CONFIG_FILE);
    assert.equal(
      config["grpc-target"],
      `${serviceHost(collectorObjectNames("central").aggregator, "observability")}:7443`,
    );
  });

  it("brackets IPv6 IPFIX targets and exports NetFlow v9 when asked", () => {
    const fp = probe({ export: { ipfix: [{ host: "2001:db8::9", port: 2055, protocol: "netflow9" }] } });
    const config = configOf(desiredProbeObjects(fp, collector()), AGENT_CONFIG_FILE);
    assert.deepEqual(config["ipfix-target"], ["[2001:db8::9]:2055"]);
    assert.equal(config["ipfix-version"], "9");
  });

  it("rolls the agents when their config changes, not otherwise", () => {
    const hash = (fp: FlowProbe, fc: FlowCollector) =>
      find(desiredProbeObjects(fp, fc), "DaemonSet").spec?.template.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
    const base = hash(probe(), collector());
    assert.equal(hash(probe({ tolerations: [{ operator: "Exists" }] }), collector()), base);
    assert.notEqual(hash(probe({ sampling: 2 }), collector()), base);
    assert.notEqual(hash(probe(), collector({ listeners: { grpcPort: 9999 } })), base, "the collector moved");
  });
});

describe("validateProbe", () => {
  it("accepts the samples with their collectors", () => {
    assert.deepEqual(
      validateProbe(
        stored(loadSample<FlowProbe>("flowprobe.yaml")),
        stored(loadSample<FlowCollector>("flowcollector.yaml")),
      ),
      [],
    );
    assert.deepEqual(
      validateProbe(
        stored(loadSample<FlowProbe>("flowprobe-nats.yaml")),
        stored(loadSample<FlowCollector>("flowcollector-nats.yaml")),
      ),
      [],
    );
  });

  const cases: Array<{ scenario: string; fp: FlowProbe; fc: FlowCollector | undefined; reasons: string[] }> = [
    { scenario: "the collector does not exist", fp: probe(), fc: undefined, reasons: ["CollectorNotFound"] },
    {
      scenario: "nats transport, collector without nats",
      fp: probe({ export: { transport: "nats" } }),
      fc: collector(),
      reasons: ["NatsNotConfigured"],
    },
    {
      scenario: "the collector has its own issues",
      fp: probe(),
      fc: collector({ retention: { recentFlows: 10 } }),
      reasons: ["CollectorMisconfigured"],
    },
    {
      scenario: "IPFIX and NetFlow v9 targets at once",
      fp: probe({
        export: {
          ipfix: [
            { host: "192.0.2.1", port: 4739, protocol: "ipfix" },
            { host: "192.0.2.2", port: 2055, protocol: "netflow9" },
          ],
        },
      }),
      fc: collector(),
      reasons: ["MixedIpfixProtocols"],
    },
    {
      scenario: "the collector's TLS Secret is in another namespace",
      fp: probe({ collectorRef: { name: "fl", namespace: "other" } }),
      fc: collector({ tls: { mode: "provided", secretName: "t" } }, "fl", "other"),
      reasons: ["SecretInOtherNamespace"],
    },
    {
      scenario: "the collector's NATS credentials are in another namespace",
      fp: probe({ collectorRef: { name: "fl", namespace: "other" }, export: { transport: "nats" } }),
      fc: collector({ nats: { url: "nats://n:4222", credentialsSecret: "c" } }, "fl", "other"),
      reasons: ["SecretInOtherNamespace"],
    },
    {
      scenario: "another namespace without Secrets is fine",
      fp: probe({ collectorRef: { name: "fl", namespace: "other" } }),
      fc: collector({}, "fl", "other"),
      reasons: [],
    },
  ];
  for (const c of cases) {
    it(`${c.reasons.length > 0 ? "reports" : "accepts"} ${c.scenario}`, () => {
      const issues = validateProbe(c.fp, c.fc);
      assert.deepEqual(
        issues.map((i) => i.reason),
        c.reasons,
      );
      for (const i of issues) assert.match(i.field, /^spec\./);
      if (c.reasons.length > 0) {
        assert.throws(
          () => desiredProbeObjects(c.fp, c.fc),
          (err) => err instanceof ConfigurationError && err.issues.map((i) => i.reason).join() === c.reasons.join(),
        );
      } else {
        assert.equal(desiredProbeObjects(c.fp, c.fc).length, 2);
      }
    });
  }

  it("treats being handed another collector than the one referenced as a bug, not a configuration issue", () => {
    assert.throws(() => validateProbe(probe(), collector({}, "someone-else")), /not the one its collectorRef names/);
  });
});
