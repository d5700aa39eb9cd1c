// A real Kubernetes control plane for tests: etcd and kube-apiserver (built from Go modules by
// hack/build-tools.sh), serving TLS on loopback, a static admin token and a generated kubeconfig.
// There is no scheduler or kubelet: objects are stored and validated, nothing runs.

import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { ApiextensionsV1Api, KubeConfig, type KubernetesObject, loadAllYaml } from "@kubernetes/client-node";
import { freePorts } from "./ports.js";
import { type ManagedProcess, makeTempDir, removeTempDir, run, startProcess, waitFor } from "./process.js";
import { goTool } from "./tools.js";

export interface ControlPlane {
  server: string;
  token: string;
  caFile: string;
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  dir: string;
  etcd: ManagedProcess;
  /** etcd's client URL (plain HTTP on loopback; its v3 JSON gateway answers there too). */
  etcdUrl: string;
  /** The running kube-apiserver (a new process after startApiServer). */
  apiserver: ManagedProcess;
  /** Creates the CRDs in these YAML files or objects and waits until they are Established. */
  applyCrds(source: string | KubernetesObject[]): Promise<string[]>;
  /**
   * Stops kube-apiserver only (etcd keeps the data): clients see the API server go away. Its
   * graceful shutdown waits on open watches; after `graceMs` (default 10 s) it is killed.
   */
  stopApiServer(opts?: { graceMs?: number }): Promise<void>;
  /**
   * Starts kube-apiserver again on the same port, etcd, certificates and token; waits until ready.
   * `extraArgs` apply to this run only (e.g. `--watch-cache=false`, so that watches are served by
   * etcd itself and see its compactions).
   */
  startApiServer(opts?: { extraArgs?: string[] }): Promise<void>;
  /**
   * Compacts etcd's history up to its current revision (what kube-apiserver does every 5 min):
   * a watch or list from an older resourceVersion that reaches etcd then gets 410 Gone.
   * Returns the revision compacted to.
   */
  compactEtcd(): Promise<number>;
  stop(): Promise<void>;
}

export interface ControlPlaneOptions {
  /** A directory of CRD YAML files to apply once the API server is ready. */
  crdsDir?: string;
  startTimeoutMs?: number;
  /** More kube-apiserver flags, for every run (after the harness's own; a later flag wins). */
  apiserverArgs?: string[];
}

function generateCerts(dir: string): void {
  const o = (args: string[]) => run("openssl", args);
  o([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    join(dir, "ca.key"),
    "-out",
    join(dir, "ca.crt"),
    "-days",
    "2",
    "-subj",
    "/CN=flowlens-test-ca",
  ]);
  writeFileSync(
    join(dir, "server.ext"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n",
  );
  o([
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    join(dir, "server.key"),
    "-out",
    join(dir, "server.csr"),
    "-subj",
    "/CN=kube-apiserver",
  ]);
  o([
    "x509",
    "-req",
    "-in",
    join(dir, "server.csr"),
    "-CA",
    join(dir, "ca.crt"),
    "-CAkey",
    join(dir, "ca.key"),
    "-CAcreateserial",
    "-out",
    join(dir, "server.crt"),
    "-days",
    "2",
    "-extfile",
    join(dir, "server.ext"),
  ]);
  o(["genrsa", "-out", join(dir, "sa.key"), "2048"]);
  o(["rsa", "-in", join(dir, "sa.key"), "-pubout", "-out", join(dir, "sa.pub")]);
}

function kubeconfigYaml(server: string, caFile: string, token: string): string {
  const ca = readFileSync(caFile).toString("base64");
  return `apiVersion: v1
kind: Config
clusters:
- name: flowlens-test
  cluster:
    server: ${server}
    certificate-authority-data: ${ca}
users:
- name: admin
  user:
    token: ${token}
contexts:
- name: flowlens-test
  context:
    cluster: flowlens-test
    user: admin
    namespace: default
current-context: flowlens-test
`;
}

function httpsGet(url: string, ca: Buffer, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers: { authorization: `Bearer ${token}` }, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** POSTs JSON to etcd's v3 gateway (grpc-gateway: int64 fields travel as strings). */
async function etcdGateway<T>(etcdUrl: string, path: string, body: object): Promise<T> {
  const res = await fetch(`${etcdUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`etcd ${path}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

async function compactEtcd(etcdUrl: string): Promise<number> {
  const status = await etcdGateway<{ header?: { revision?: string } }>(etcdUrl, "/v3/maintenance/status", {});
  const revision = Number(status.header?.revision);
  if (!Number.isSafeInteger(revision) || revision <= 0) {
    throw new Error(`etcd /v3/maintenance/status: no revision in ${JSON.stringify(status)}`);
  }
  // physical: answer once the compaction is applied to the backend, not merely scheduled.
  await etcdGateway(etcdUrl, "/v3/kv/compaction", { revision: String(revision), physical: true });
  return revision;
}

function apiserverArgs(dir: string, etcdClient: number, securePort: number): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${etcdClient}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--secure-port=${securePort}`,
    `--cert-dir=${join(dir, "certs")}`,
    `--tls-cert-file=${join(dir, "server.crt")}`,
    `--tls-private-key-file=${join(dir, "server.key")}`,
    `--client-ca-file=${join(dir, "ca.crt")}`,
    `--token-auth-file=${join(dir, "tokens.csv")}`,
    "--authorization-mode=RBAC",
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${join(dir, "sa.pub")}`,
    `--service-account-signing-key-file=${join(dir, "sa.key")}`,
    "--service-cluster-ip-range=10.0.0.0/24",
    "--allow-privileged=true",
    "--profiling=false",
    "--v=0",
  ];
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const etcdBin = goTool("etcd");
  const apiserverBin = goTool("kube-apiserver");
  const dir = makeTempDir("kube");
  const [etcdClient, etcdPeer, securePort] = (await freePorts(3)) as [number, number, number];
  const token = randomBytes(24).toString("hex");
  generateCerts(dir);
  writeFileSync(join(dir, "tokens.csv"), `${token},admin,admin-uid,"system:masters"\n`);
  const timeoutMs = opts.startTimeoutMs ?? 90_000;

  const etcd = startProcess("etcd", etcdBin, [
    "--name",
    "default",
    "--data-dir",
    join(dir, "etcd"),
    "--listen-client-urls",
    `http://127.0.0.1:${etcdClient}`,
    "--advertise-client-urls",
    `http://127.0.0.1:${etcdClient}`,
    "--listen-peer-urls",
    `http://127.0.0.1:${etcdPeer}`,
    "--initial-advertise-peer-urls",
    `http://127.0.0.1:${etcdPeer}`,
    "--initial-cluster",
    `default=http://127.0.0.1:${etcdPeer}`,
    "--unsafe-no-fsync",
    "--log-level",
    "warn",
  ]);
  let apiserver: ManagedProcess | undefined;
  const stop = async () => {
    await apiserver?.stop(10_000);
    await etcd.stop();
    removeTempDir(dir);
  };
  try {
    await waitFor("etcd /health", async () => (await fetch(`http://127.0.0.1:${etcdClient}/health`)).ok, {
      proc: etcd,
      timeoutMs,
    });
    const server = `https://127.0.0.1:${securePort}`;
    const ca = readFileSync(join(dir, "ca.crt"));
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const launch = async (extraArgs: string[] = []): Promise<ManagedProcess> => {
      const proc = startProcess("kube-apiserver", apiserverBin, [
        ...apiserverArgs(dir, etcdClient, securePort),
        ...(opts.apiserverArgs ?? []),
        ...extraArgs,
      ]);
      apiserver = proc;
      await waitFor(
        "kube-apiserver /readyz",
        async () => (await httpsGet(`${server}/readyz`, ca, token)).status === 200,
        { proc, timeoutMs, intervalMs: 250 },
      );
      return proc;
    };
    const proc = await launch();
    const kubeconfigPath = join(dir, "kubeconfig");
    writeFileSync(kubeconfigPath, kubeconfigYaml(server, join(dir, "ca.crt"), token), { mode: 0o600 });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);
    const cp: ControlPlane = {
      server,
      token,
      caFile: join(dir, "ca.crt"),
      kubeconfigPath,
      kubeConfig,
      dir,
      etcd,
      etcdUrl,
      apiserver: proc,
      applyCrds: (source) => applyCrds(kubeConfig, source),
      async stopApiServer(o = {}) {
        await apiserver?.stop(o.graceMs ?? 10_000);
      },
      async startApiServer(o = {}) {
        if (apiserver && !apiserver.exited()) throw new Error("kube-apiserver is already running");
        cp.apiserver = await launch(o.extraArgs);
      },
      compactEtcd: () => compactEtcd(etcdUrl),
      stop,
    };
    if (opts.crdsDir) await cp.applyCrds(opts.crdsDir);
    return cp;
  } catch (err) {
    await stop();
    throw err;
  }
}

function loadCrdObjects(source: string | KubernetesObject[]): KubernetesObject[] {
  if (typeof source !== "string") return source;
  return readdirSync(source)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .flatMap((f) => loadAllYaml(readFileSync(join(source, f), "utf8")) as KubernetesObject[])
    .filter((o) => o?.kind === "CustomResourceDefinition");
}

async function applyCrds(kc: KubeConfig, source: string | KubernetesObject[]): Promise<string[]> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const crds = loadCrdObjects(source);
  for (const crd of crds) {
    // biome-ignore lint/suspicious/noExplicitAny: the CRD body is validated by the API server
    await api.createCustomResourceDefinition({ body: crd as any });
  }
  const names = crds.map((c) => c.metadata?.name ?? "");
  for (const name of names) {
    await waitFor(
      `CRD ${name} Established`,
      async () => {
        const got = await api.readCustomResourceDefinition({ name });
        return got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True");
      },
      { timeoutMs: 30_000 },
    );
  }
  return names;
}
