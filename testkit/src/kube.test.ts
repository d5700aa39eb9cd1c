import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { type ControlPlane, startControlPlane } from "./kube.js";
import { pidAlive } from "./process.js";

const widgetCrd = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "widgets.test.flowlens.dev" },
  spec: {
    group: "test.flowlens.dev",
    scope: "Namespaced",
    names: { plural: "widgets", singular: "widget", kind: "Widget" },
    versions: [
      {
        name: "v1",
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: "object",
            properties: {
              spec: {
                type: "object",
                properties: { size: { type: "integer", minimum: 1 } },
                required: ["size"],
              },
            },
          },
        },
      },
    ],
  },
};

describe("startControlPlane (etcd + kube-apiserver)", () => {
  let cp: ControlPlane;
  before(async () => {
    cp = await startControlPlane();
  });
  after(async () => {
    await cp?.stop();
  });

  it("creates and reads back a ConfigMap through @kubernetes/client-node", async () => {
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace: "default",
      body: { metadata: { name: "flowlens-probe" }, data: { hello: "world" } },
    });
    const cm = await core.readNamespacedConfigMap({ name: "flowlens-probe", namespace: "default" });
    assert.equal(cm.data?.hello, "world");
  });

  it("serves TLS to a kubeconfig loaded from the generated file, and refuses a bad token", async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    const nss = await core.listNamespace();
    assert.ok(nss.items.some((n) => n.metadata?.name === "kube-system"));

    const bad = new KubeConfig();
    bad.loadFromOptions({
      clusters: [{ name: "c", server: cp.server, caFile: cp.caFile }],
      users: [{ name: "u", token: "not-the-token" }],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x",
    });
    await assert.rejects(bad.makeApiClient(CoreV1Api).listNamespace(), (err: { code?: number }) => err.code === 401);
  });

  it("applies a CRD, waits until it is Established, and validates custom resources against its schema", async () => {
    const names = await cp.applyCrds([widgetCrd]);
    assert.deepEqual(names, ["widgets.test.flowlens.dev"]);
    const ext = cp.kubeConfig.makeApiClient(ApiextensionsV1Api);
    const crd = await ext.readCustomResourceDefinition({ name: "widgets.test.flowlens.dev" });
    assert.ok(crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True"));

    const custom = cp.kubeConfig.makeApiClient(CustomObjectsApi);
    const base = { group: "test.flowlens.dev", version: "v1", namespace: "default", plural: "widgets" };
    await custom.createNamespacedCustomObject({
      ...base,
      body: { apiVersion: "test.flowlens.dev/v1", kind: "Widget", metadata: { name: "w1" }, spec: { size: 3 } },
    });
    await assert.rejects(
      custom.createNamespacedCustomObject({
        ...base,
        body: { apiVersion: "test.flowlens.dev/v1", kind: "Widget", metadata: { name: "w2" }, spec: { size: 0 } },
      }),
      (err: { code?: number }) => err.code === 422,
    );
  });

  it("stops both processes and removes its files", async () => {
    const { etcd, apiserver, dir } = cp;
    await cp.stop();
    assert.equal(pidAlive(etcd.pid), false);
    assert.equal(pidAlive(apiserver.pid), false);
    assert.equal(existsSync(dir), false);
  });
});
