// Helpers of the operator's control-plane tests: a client with admin rights, namespaces, a
// ServiceAccount bound to exactly OPERATOR_RBAC, and matching a live object against a desired one.
import assert from "node:assert/strict";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { type ControlPlane, waitFor } from "@flowlens/testkit";
import { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { KubeClient, type KubeObject } from "./kube/client.js";
import type { ResourceType } from "./kube/resources.js";
import { OPERATOR_RBAC, type PolicyRule } from "./rbac.js";

export const quietLogger = () => pino({ level: process.env.FLOWLENS_TEST_LOG ?? "silent" });

const rt = (group: string, version: string, plural: string, kind: string): ResourceType => ({
  group,
  version,
  plural,
  kind,
});
export const EXTRA = {
  namespaces: rt("", "v1", "namespaces", "Namespace"),
  serviceAccounts: rt("", "v1", "serviceaccounts", "ServiceAccount"),
  clusterRoles: rt("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole"),
  clusterRoleBindings: rt("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding"),
};

/** A client with the control plane's admin token and no RBAC self-check: the test's own hands. */
export function adminClient(cp: ControlPlane): KubeClient {
  return new KubeClient(cp.kubeConfig, { enforceRbac: false, fieldManager: "test-admin" });
}

export async function createNamespace(admin: KubeClient, name: string): Promise<void> {
  await admin.create(EXTRA.namespaces, "", { apiVersion: "v1", kind: "Namespace", metadata: { name } });
}

/**
 * A kubeconfig for a ServiceAccount bound (ClusterRoleBinding) to a ClusterRole with exactly
 * OPERATOR_RBAC: the operator run with it proves the rules are enough. `rules` and `name` give
 * another ServiceAccount and ClusterRole (both named `name`), e.g. one missing a permission.
 */
export async function operatorKubeConfig(
  cp: ControlPlane,
  admin: KubeClient,
  namespace: string,
  o: { name?: string; rules?: readonly PolicyRule[] } = {},
): Promise<KubeConfig> {
  const name = o.name ?? "flowlens-operator";
  await admin.create(EXTRA.serviceAccounts, namespace, {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name },
  });
  await admin.create(EXTRA.clusterRoles, "", {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name },
    rules: o.rules ?? OPERATOR_RBAC,
  });
  await admin.create(EXTRA.clusterRoleBindings, "", {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
    subjects: [{ kind: "ServiceAccount", name, namespace }],
  });
  const tokenRequest = await admin.create<KubeObject & { status?: { token?: string } }>(
    { ...EXTRA.serviceAccounts, plural: `serviceaccounts/${name}/token` },
    namespace,
    { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } },
  );
  const token = tokenRequest.status?.token;
  assert.ok(token, "TokenRequest returned a token");
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "test", server: cp.server, caFile: cp.caFile }],
    users: [{ name, token }],
    contexts: [{ name: "test", cluster: "test", user: name }],
    currentContext: "test",
  });
  return kc;
}

export function eventually<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000) {
  return waitFor(what, probe, { timeoutMs, intervalMs: 150 });
}

/**
 * Every field of `desired` is in `live` with the same value (the API server adds defaults, and
 * may turn an int-or-string into either): arrays element by element, same length. client-node
 * model names (`_from`) are read as their JSON names.
 */
export function assertSubset(live: unknown, desired: unknown, path = "$"): void {
  if (desired === undefined) return;
  if (Array.isArray(desired)) {
    assert.ok(Array.isArray(live), `${path}: expected an array, got ${JSON.stringify(live)}`);
    assert.equal(live.length, desired.length, `${path}: length`);
    for (const [i, d] of desired.entries()) assertSubset(live[i], d, `${path}[${i}]`);
    return;
  }
  if (desired !== null && typeof desired === "object") {
    assert.ok(live !== null && typeof live === "object", `${path}: expected an object, got ${JSON.stringify(live)}`);
    for (const [k, v] of Object.entries(desired)) {
      const key = k.startsWith("_") ? k.slice(1) : k;
      assertSubset((live as Record<string, unknown>)[key], v, `${path}.${key}`);
    }
    return;
  }
  assert.equal(String(live), String(desired), `${path}`);
}

export async function metricsText(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return res.text();
}

/** The sum of a metric's samples in Prometheus text, optionally filtered by a label substring. */
export function metricValue(text: string, name: string, labelFilter = ""): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name || !(m[2] ?? "").includes(labelFilter)) continue;
    sum += Number(m[3]);
  }
  return sum;
}

/**
 * A TCP relay on loopback between one client and the API server (TLS passes through untouched;
 * the server certificate is for 127.0.0.1 whatever the port). cut() resets every connection and
 * refuses new ones until heal(): a network partition for that client only, while the test's own
 * client keeps talking to the API server directly. silence() makes new connections hang.
 */
export class TcpRelay {
  private readonly sockets = new Set<Socket>();
  private partitioned = false;
  private silent = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number }): Promise<TcpRelay> {
    let relay: TcpRelay | undefined;
    // Half-open allowed, and ends relayed as a close of both sides: a relay socket never shuts
    // down its write side, so resetAndDestroy() can always reset it. (libuv refuses to reset a
    // socket with a shutdown pending; Node then drops the handle without closing it, and the
    // process spins forever in its exit cleanup.)
    const server = createServer({ allowHalfOpen: true }, (client) => relay?.accept(client, target));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    assert.ok(address && typeof address === "object");
    relay = new TcpRelay(server, address.port);
    return relay;
  }

  private accept(client: Socket, target: { host: string; port: number }): void {
    if (this.partitioned) {
      client.resetAndDestroy();
      return;
    }
    if (this.silent) {
      // Accepted and never answered, as a peer behind a firewall that drops packets.
      this.sockets.add(client);
      client.on("error", () => undefined);
      client.on("close", () => this.sockets.delete(client));
      return;
    }
    const upstream = createConnection({ ...target, allowHalfOpen: true });
    for (const s of [client, upstream]) {
      const other = s === client ? upstream : client;
      this.sockets.add(s);
      s.on("error", () => undefined);
      s.on("end", () => {
        s.destroy();
        other.destroy();
      });
      s.on("close", () => {
        this.sockets.delete(s);
        other.destroy();
      });
    }
    client.pipe(upstream, { end: false });
    upstream.pipe(client, { end: false });
  }

  cut(): void {
    this.partitioned = true;
    for (const s of this.sockets) s.resetAndDestroy();
  }

  /** New connections are accepted and then never answered; those open keep working. */
  silence(): void {
    this.silent = true;
  }

  heal(): void {
    this.partitioned = false;
    this.silent = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A kubeconfig with the control plane's admin token that reaches it through `port` on loopback. */
export function adminKubeConfigVia(cp: ControlPlane, port: number): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "relayed", server: `https://127.0.0.1:${port}`, caFile: cp.caFile }],
    users: [{ name: "admin", token: cp.token }],
    contexts: [{ name: "relayed", cluster: "relayed", user: "admin" }],
    currentContext: "relayed",
  });
  return kc;
}
