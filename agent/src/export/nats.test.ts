// NatsExporter against a real nats-server with JetStream. The stream is created here the way
// the aggregator creates it, and read back message by message, so that "exactly once" means
// exactly once in the stream (JetStream's message-id dedupe), not hidden by a deduper.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, describe, it } from "node:test";
import { batchMessageId, FLOWS_STREAM, FLOWS_SUBJECT_WILDCARD, flowsSubject, pb } from "@flowlens/contracts";
import { makeTempDir, makeTestPki, type NatsServer, removeTempDir, startNats, waitFor } from "@flowlens/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, nanos } from "@nats-io/transport-node";
import { NatsExporter, type NatsExporterOptions } from "./nats.js";
import type { EncodedBatch } from "./queue.js";

const FLOWS_PER_BATCH = 10;

function identity(node: string): pb.AgentIdentity {
  return { node, agentId: randomUUID(), version: "test" };
}

function batch(agent: pb.AgentIdentity, sequence: number, flows = FLOWS_PER_BATCH): EncodedBatch {
  const msg: pb.FlowBatch = {
    agent,
    sequence: BigInt(sequence),
    sentAtMs: BigInt(Date.now()),
    flows: Array.from({ length: flows }, (_, i) =>
      pb.Flow.fromPartial({ srcAddr: `10.0.${sequence & 255}.${i}`, dstAddr: "192.0.2.1", proto: 6, ipVersion: 4 }),
    ),
  };
  return { sequence: BigInt(sequence), flows, bytes: pb.FlowBatch.encode(msg).finish() };
}

async function createStream(server: NatsServer): Promise<void> {
  const nc = await connect({ servers: server.url });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: FLOWS_STREAM,
      subjects: [FLOWS_SUBJECT_WILDCARD],
      duplicate_window: nanos(120_000),
    });
  } finally {
    await nc.close();
  }
}

interface Stored {
  subject: string;
  msgId: string | undefined;
  batch: pb.FlowBatch;
}

/** Every message in the stream, decoded, in stream order. */
async function readStream(server: NatsServer): Promise<Stored[]> {
  const nc = await connect({ servers: server.url });
  try {
    const jsm = await jetstreamManager(nc);
    const { state } = await jsm.streams.info(FLOWS_STREAM);
    const out: Stored[] = [];
    for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
      const m = await jsm.streams.getMessage(FLOWS_STREAM, { seq });
      if (!m) continue;
      out.push({ subject: m.subject, msgId: m.header.get("Nats-Msg-Id"), batch: pb.FlowBatch.decode(m.data) });
    }
    return out;
  } finally {
    await nc.close();
  }
}

/** The sequences of one agent found in the stream, each of which must appear once. */
function sequencesOnce(stored: Stored[], agent: pb.AgentIdentity): number[] {
  const seqs = stored.filter((s) => s.batch.agent?.agentId === agent.agentId).map((s) => Number(s.batch.sequence));
  const unique = new Set(seqs);
  assert.equal(unique.size, seqs.length, `agent ${agent.node}: a batch is in the stream twice: ${seqs.join(",")}`);
  return [...unique].sort((a, b) => a - b);
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

function exporter(server: NatsServer, agent: pb.AgentIdentity, over: Partial<NatsExporterOptions> = {}) {
  return new NatsExporter({
    servers: [server.url],
    node: agent.node,
    identity: agent,
    queue: { maxFlows: 100_000, maxBytes: 64 << 20 },
    maxInFlight: 8,
    backoff: { initialMs: 50, maxMs: 500 },
    reconnectWaitMs: 200,
    publishTimeoutMs: 2000,
    ...over,
  });
}

describe("NatsExporter", () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  async function server(args?: string[]): Promise<NatsServer> {
    const s = await startNats({ args });
    cleanups.push(() => s.stop());
    return s;
  }

  it("publishes the batches of two agents on their node subjects, each exactly once, acked", async () => {
    const nats = await server();
    await createStream(nats);
    const a = identity("node-a");
    const b = identity("node.b"); // a dot must not split the subject token
    const ea = exporter(nats, a);
    const eb = exporter(nats, b);
    ea.start();
    eb.start();
    for (let seq = 1; seq <= 50; seq++) {
      ea.offer(batch(a, seq));
      eb.offer(batch(b, seq));
    }
    await waitFor("both agents acked", () => ea.stats().batchesAcked === 50 && eb.stats().batchesAcked === 50, {
      timeoutMs: 15_000,
    });
    const sa = ea.stats();
    assert.equal(sa.flowsAcked, 50 * FLOWS_PER_BATCH);
    assert.equal(sa.batches, 0, "acked batches leave the queue");
    assert.equal(sa.connected, true);
    assert.equal(sa.droppedBatches, 0);

    const stored = await readStream(nats);
    assert.equal(stored.length, 100);
    assert.deepEqual(sequencesOnce(stored, a), range(1, 50));
    assert.deepEqual(sequencesOnce(stored, b), range(1, 50));
    for (const s of stored) {
      const agent = s.batch.agent?.agentId === a.agentId ? a : b;
      assert.equal(s.subject, flowsSubject(agent.node));
      assert.equal(s.msgId, batchMessageId(agent, s.batch.sequence));
    }
    assert.equal(flowsSubject(b.node), "flowlens.flows.node_b");
    await Promise.all([ea.stop(Date.now() + 1000), eb.stop(Date.now() + 1000)]);
    assert.equal(ea.stats().connected, false);
  });

  it("stores a batch published twice with the same message id once, and counts the duplicate ack", async () => {
    const nats = await server();
    await createStream(nats);
    const a = identity("node-a");
    const e = exporter(nats, a, { maxInFlight: 1 });
    e.start();
    const once = batch(a, 7);
    e.offer(once);
    e.offer(once);
    await waitFor("both publishes acked", () => e.stats().batchesAcked === 2, { timeoutMs: 10_000 });
    assert.equal(e.stats().duplicates, 1);
    const stored = await readStream(nats);
    assert.deepEqual(sequencesOnce(stored, a), [7]);
    await e.stop(Date.now() + 1000);
  });

  it("keeps batches queued while the stream does not exist, and delivers them once it does", async () => {
    const nats = await server();
    const a = identity("node-a");
    const e = exporter(nats, a);
    e.start();
    for (let seq = 1; seq <= 5; seq++) e.offer(batch(a, seq));
    await waitFor("publishes refused for want of a stream", () => e.stats().errors >= 2, { timeoutMs: 10_000 });
    const s = e.stats();
    assert.match(s.lastError ?? "", /no stream takes this subject/);
    assert.equal(s.batches, 5, "refused batches stay queued");
    assert.equal(s.batchesAcked, 0);
    assert.equal(s.connected, true);

    await createStream(nats);
    await waitFor("queued batches delivered", () => e.stats().batchesAcked === 5, { timeoutMs: 10_000 });
    assert.deepEqual(sequencesOnce(await readStream(nats), a), range(1, 5));
    await e.stop(Date.now() + 1000);
  });

  it("rides out a nats-server outage during a stream of batches: every batch stored exactly once", async () => {
    const nats = await server();
    await createStream(nats);
    const a = identity("node-a");
    const e = exporter(nats, a);
    e.start();
    let seq = 0;
    const producer = setInterval(() => e.offer(batch(a, ++seq)), 10);
    try {
      await waitFor("some batches acked before the outage", () => e.stats().batchesAcked >= 20);
      await nats.halt();
      await waitFor("exporter notices the outage", () => !e.stats().connected);
      const acked = e.stats().batchesAcked;
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(e.stats().batchesAcked, acked, "nothing can be acked while the server is down");
      assert.ok(e.stats().batches > 0, "batches produced during the outage wait in the queue");
      await nats.restart();
      await waitFor("exporter reconnected", () => e.stats().connected, { timeoutMs: 15_000 });
      await waitFor("batches acked after the outage", () => e.stats().batchesAcked >= acked + 20);
    } finally {
      clearInterval(producer);
    }
    const last = seq;
    await waitFor("every batch acked", () => e.stats().batchesAcked === last, { timeoutMs: 20_000 });
    const s = e.stats();
    assert.equal(s.droppedBatches, 0);
    assert.ok(s.reconnects >= 1, `reconnects ${s.reconnects}`);
    assert.ok(s.errors >= 1, "the lost connection is counted");
    assert.deepEqual(sequencesOnce(await readStream(nats), a), range(1, last));
    await e.stop(Date.now() + 1000);
  });

  it("drops the oldest batches when its bound overflows while NATS is down, counts them, delivers the rest once", async () => {
    const nats = await server();
    await createStream(nats);
    const a = identity("node-a");
    // Room for 10 batches of FLOWS_PER_BATCH flows.
    const e = exporter(nats, a, { queue: { maxFlows: 10 * FLOWS_PER_BATCH, maxBytes: 64 << 20 } });
    e.start();
    for (let seq = 1; seq <= 5; seq++) e.offer(batch(a, seq));
    await waitFor("first batches acked", () => e.stats().batchesAcked === 5);
    await nats.halt();
    await waitFor("exporter notices the outage", () => !e.stats().connected);
    for (let seq = 6; seq <= 35; seq++) e.offer(batch(a, seq));
    const down = e.stats();
    assert.equal(down.droppedBatches, 20);
    assert.equal(down.droppedFlows, 20 * FLOWS_PER_BATCH);
    assert.equal(down.batches, 10);
    await nats.restart();
    await waitFor("the kept batches acked", () => e.stats().batchesAcked === 15, { timeoutMs: 15_000 });
    assert.deepEqual(sequencesOnce(await readStream(nats), a), [...range(1, 5), ...range(26, 35)]);
    await e.stop(Date.now() + 1000);
  });

  it("stop() delivers what is queued before closing, and gives up at the deadline when NATS is away", async () => {
    const nats = await server();
    await createStream(nats);
    const a = identity("node-a");
    const e = exporter(nats, a);
    e.start();
    await waitFor("connected", () => e.stats().connected);
    for (let seq = 1; seq <= 30; seq++) e.offer(batch(a, seq));
    await e.stop(Date.now() + 10_000);
    assert.equal(e.stats().batchesAcked, 30, "stop() must flush the queue while it can");
    assert.equal(e.stats().connected, false);
    e.offer(batch(a, 31));
    assert.equal(e.stats().droppedBatches, 1, "a batch offered after stop() is counted as dropped");

    const b = identity("node-b");
    const away = exporter(nats, b);
    away.start();
    await waitFor("connected", () => away.stats().connected);
    await nats.halt();
    await waitFor("outage noticed", () => !away.stats().connected);
    away.offer(batch(b, 1));
    const t0 = Date.now();
    await away.stop(Date.now() + 300);
    const took = Date.now() - t0;
    assert.ok(took >= 250 && took < 3000, `stop(300) took ${took} ms`);
    assert.equal(away.stats().batches, 1, "the undelivered batch is still accounted for");
    await nats.restart();
  });

  it("authenticates with a token", async () => {
    const nats = await server(["--auth", "s3cret-token"]);
    await assert.rejects(connect({ servers: nats.url }), /Authorization/i, "the server must require the token");
    const nc = await connect({ servers: nats.url, token: "s3cret-token" });
    await (await jetstreamManager(nc)).streams.add({ name: FLOWS_STREAM, subjects: [FLOWS_SUBJECT_WILDCARD] });
    await nc.close();
    const a = identity("node-a");
    const e = exporter(nats, a, { token: "s3cret-token" });
    e.start();
    e.offer(batch(a, 1));
    await waitFor("acked with a token", () => e.stats().batchesAcked === 1, { timeoutMs: 10_000 });
    await e.stop(Date.now() + 1000);
  });

  it("authenticates with user and password, and a wrong password is refused and retried, never delivered", async () => {
    const nats = await server(["--user", "agent", "--pass", "right-pass"]);
    const nc = await connect({ servers: nats.url, user: "agent", pass: "right-pass" });
    await (await jetstreamManager(nc)).streams.add({ name: FLOWS_STREAM, subjects: [FLOWS_SUBJECT_WILDCARD] });

    const bad = identity("node-bad");
    const refused = exporter(nats, bad, { user: "agent", pass: "wrong-pass" });
    refused.start();
    refused.offer(batch(bad, 1));
    await waitFor("refused twice", () => refused.stats().errors >= 2, { timeoutMs: 10_000 });
    const s = refused.stats();
    assert.equal(s.connected, false);
    assert.match(s.lastError ?? "", /authorization/i);
    assert.equal(s.batches, 1, "the batch waits for a connection");

    const good = identity("node-good");
    const e = exporter(nats, good, { user: "agent", pass: "right-pass" });
    e.start();
    e.offer(batch(good, 1));
    await waitFor("acked with the right password", () => e.stats().batchesAcked === 1, { timeoutMs: 10_000 });
    await Promise.all([e.stop(Date.now() + 1000), refused.stop(Date.now() + 0)]);
    const stored = await (async () => {
      const info = await (await jetstreamManager(nc)).streams.info(FLOWS_STREAM);
      return info.state.messages;
    })();
    assert.equal(stored, 1, "only the authenticated agent's batch is in the stream");
    await nc.close();
  });

  it("speaks mTLS: a client certificate from the server's CA gets in, a connection without one does not", async () => {
    const dir = makeTempDir("nats-pki");
    cleanups.push(async () => removeTempDir(dir));
    const pki = makeTestPki(dir);
    const nats = await server([
      "--tls",
      "--tlscert",
      pki.serverCert,
      "--tlskey",
      pki.serverKey,
      "--tlscacert",
      pki.caCert,
      "--tlsverify",
    ]);
    const tls = { caFile: pki.caCert, certFile: pki.clientCert, keyFile: pki.clientKey };
    const nc = await connect({ servers: nats.url, tls });
    await (await jetstreamManager(nc)).streams.add({ name: FLOWS_STREAM, subjects: [FLOWS_SUBJECT_WILDCARD] });
    await nc.close();

    const a = identity("node-a");
    const e = exporter(nats, a, { tls });
    e.start();
    e.offer(batch(a, 1));
    await waitFor("acked over mTLS", () => e.stats().batchesAcked === 1, { timeoutMs: 10_000 });

    const b = identity("node-b");
    const anonymous = exporter(nats, b, { tls: { caFile: pki.caCert }, connectTimeoutMs: 1000 });
    anonymous.start();
    anonymous.offer(batch(b, 1));
    await waitFor("refused without a client certificate", () => anonymous.stats().errors >= 2, { timeoutMs: 10_000 });
    assert.equal(anonymous.stats().connected, false);
    assert.equal(anonymous.stats().batchesAcked, 0);
    const t0 = Date.now();
    await Promise.all([e.stop(Date.now() + 1000), anonymous.stop(0)]);
    assert.ok(Date.now() - t0 < 1000, "stop() does not wait for a connection attempt to time out");
  });

  it("refuses a creds file it cannot read, and mixed credentials, naming them", () => {
    assert.throws(
      () =>
        new NatsExporter({
          servers: ["nats://127.0.0.1:1"],
          node: "n",
          identity: identity("n"),
          credsFile: "/nonexistent/agent.creds",
          queue: { maxFlows: 10, maxBytes: 1000 },
        }),
      /NATS creds file \/nonexistent\/agent\.creds/,
    );
    const base = {
      servers: ["nats://127.0.0.1:1"],
      node: "n",
      identity: identity("n"),
      queue: { maxFlows: 10, maxBytes: 1000 },
    };
    assert.throws(() => new NatsExporter({ ...base, user: "u", pass: "p", token: "t" }), /one of user\/pass, token/);
    assert.throws(() => new NatsExporter({ ...base, user: "u" }), /user u needs a pass/);
  });
});
