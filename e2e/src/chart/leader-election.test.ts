// `flowlens operator --leader-elect` as users run it (cli/dist/main.js, flags only), two replicas
// against the harness's kube-apiserver: one holds the Lease and reconciles, the other stands by
// (ready, and saying so), and takes over when the leader is killed without a goodbye.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { API_VERSION, GROUP, VERSION } from "@flowlens/contracts";
import {
  type ControlPlane,
  freePort,
  type ManagedProcess,
  repoRoot,
  startControlPlane,
  startProcess,
  waitFor,
} from "@flowlens/testkit";
import { AppsV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";

const bin = join(repoRoot, "cli/dist/main.js");
const WATCHED = "le-watched";
const LEASE_NS = "flowlens-system";
const LEASE = "flowlens-operator-cli";
// Short, in the ratios of the defaults (15/10/2 s): a takeover within seconds.
const TIMING = ["--lease-duration=3", "--renew-deadline=2", "--retry-period=0.3"];

interface Replica {
  name: string;
  proc: ManagedProcess;
  port: number;
  identity: string;
}

/** The value of an unlabelled (or summed) metric in Prometheus text. */
function metric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) sum += Number(m[3]);
  }
  return sum;
}

describe("flowlens operator --leader-elect: two replicas from the CLI", () => {
  let cp: ControlPlane;
  const replicas: Replica[] = [];

  before(async () => {
    cp = await startControlPlane({ crdsDir: join(repoRoot, "crds"), startTimeoutMs: 300_000 });
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    for (const name of [WATCHED, LEASE_NS]) await core.createNamespace({ body: { metadata: { name } } });
  });
  after(async () => {
    for (const r of replicas) await r.proc.stop();
    await cp?.stop();
  });

  async function startReplica(name: string): Promise<Replica> {
    const port = await freePort();
    const proc = startProcess(
      name,
      process.execPath,
      [
        bin,
        "operator",
        `--kubeconfig=${cp.kubeconfigPath}`,
        "--leader-elect",
        `--lease-namespace=${LEASE_NS}`,
        `--lease-name=${LEASE}`,
        ...TIMING,
        `--namespace=${WATCHED}`,
        `--metrics-address=127.0.0.1:${port}`,
        "--log-level=info",
      ],
      // POD_NAME names the replica in the Lease, as the chart's downward API does.
      { env: { PATH: process.env.PATH, POD_NAME: name }, keepLines: 200 },
    );
    const replica = { name, proc, port, identity: `${name}_${proc.pid}` };
    replicas.push(replica);
    await waitFor("/healthz", async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, { proc });
    return replica;
  }

  const scrape = async (r: Replica) => {
    const text = await (await fetch(`http://127.0.0.1:${r.port}/metrics`)).text();
    return {
      leader: metric(text, "flowlens_operator_leader"),
      applies: metric(text, "flowlens_operator_applies_total"),
    };
  };
  const readyz = async (r: Replica) => {
    const res = await fetch(`http://127.0.0.1:${r.port}/readyz`);
    return { status: res.status, body: (await res.json()) as { status: string; reason?: string } };
  };
  const lease = async () =>
    (await cp.kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: LEASE_NS, name: LEASE }))
      .spec;
  const createCollector = (name: string) =>
    cp.kubeConfig.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: WATCHED,
      plural: "flowcollectors",
      body: { apiVersion: API_VERSION, kind: "FlowCollector", metadata: { name }, spec: {} },
    });
  const deployment = (name: string) => async () => {
    try {
      return await cp.kubeConfig
        .makeApiClient(AppsV1Api)
        .readNamespacedDeployment({ namespace: WATCHED, name: `${name}-aggregator` });
    } catch {
      return undefined;
    }
  };

  it("one leads and reconciles, the other stands by; killed, the leader is replaced", async () => {
    const a = await startReplica("replica-a");
    const b = await startReplica("replica-b");
    const leader = await waitFor(
      "exactly one leader",
      async () => {
        const [ma, mb] = await Promise.all([scrape(a), scrape(b)]);
        return ma.leader + mb.leader === 1 ? (ma.leader === 1 ? a : b) : undefined;
      },
      { timeoutMs: 30_000 },
    );
    const standby = leader === a ? b : a;
    assert.equal((await lease())?.holderIdentity, leader.identity, "the Lease names the leader's Pod and process");

    // Both ready; the body says which is which.
    const ready = await waitFor("the leader ready", async () => {
      const r = await readyz(leader);
      return r.status === 200 ? r : undefined;
    });
    assert.deepEqual(ready.body, { status: "ok", reason: "leading, caches synced" });
    const standing = await readyz(standby);
    assert.equal(standing.status, 200);
    assert.equal(standing.body.reason, `standby: not leading (Lease ${LEASE_NS}/${LEASE})`);

    await createCollector("first");
    await waitFor("the leader's Deployment for first", deployment("first"), { proc: leader.proc });
    await waitFor("the leader counted its applies", async () => (await scrape(leader)).applies > 0);
    // Time for a standby that wrongly reconciled to show it.
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(await scrape(standby), { leader: 0, applies: 0 }, "the standby did nothing");

    // A crash: no release. The standby waits out the lease duration, then leads.
    const killedAt = Date.now();
    leader.proc.child.kill("SIGKILL");
    await waitFor("the standby leads", async () => (await scrape(standby)).leader === 1, {
      proc: standby.proc,
      timeoutMs: 15_000,
    });
    const takeoverMs = Date.now() - killedAt;
    assert.ok(takeoverMs >= 2_500, `took the Lease after ${takeoverMs} ms, before it could have expired`);
    const taken = await lease();
    assert.equal(taken?.holderIdentity, standby.identity);
    assert.equal(taken?.leaseTransitions, 1);
    await createCollector("second");
    await waitFor("the new leader's Deployment for second", deployment("second"), { proc: standby.proc });
    assert.equal((await readyz(standby)).body.reason, "leading, caches synced");

    // SIGTERM: a clean exit that hands the Lease back at once.
    await standby.proc.stop();
    assert.equal(standby.proc.child.exitCode, 0, standby.proc.output());
    assert.equal((await lease())?.holderIdentity, "", "the Lease was released");
  });
});
