// NatsIngest against a real nats-server with JetStream. Agents are played by plain JetStream
// publishers (message id = batchMessageId, as the agent's exporter does), and the sink counts
// what it applies behind a SequenceDeduper, as the real pipeline does.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { batchMessageId, FLOWS_STREAM, FLOWS_SUBJECT_WILDCARD, flowsSubject, pb } from "@flowlens/contracts";
import { makeTempDir, makeTestPki, type NatsServer, removeTempDir, startNats, waitFor } from "@flowlens/testkit";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection, nanos } from "@nats-io/transport-node";
import { SequenceDeduper } from "./dedupe.js";
import { NatsIngest, NatsIngestError, type NatsIngestOptions } from "./nats.js";
import type { BatchSink } from "./sink.js";

const FLOWS_PER_BATCH = 10;

function identity(node: string): pb.AgentIdentity {
  return { node, agentId: randomUUID(), version: "test" };
}

function encode(agent: pb.AgentIdentity, sequence: number, flows = FLOWS_PER_BATCH): Uint8Array {
  return pb.FlowBatch.encode({
    agent,
    sequence: BigInt(sequence),
    sentAtMs: BigInt(Date.now()),
    flows: Array.from({ length: flows }, (_, i) =>
      pb.Flow.fromPartial({ srcAddr: `10.1.${sequence & 255}.${i}`, dstAddr: "192.0.2.1", proto: 17, ipVersion: 4 }),
    ),
  }).finish();
}

/** The live state stand-in: applies each batch at most once per agent process and sequence. */
class CountingSink implements BatchSink {
  readonly deduper = new SequenceDeduper();
  flows = 0;
  batches = 0;
  readonly applied = new Map<string, number[]>();
  onApply?: (batch: pb.FlowBatch) => void;

  apply(batch: pb.FlowBatch, transport: "grpc" | "nats" | "local"): boolean {
    assert.equal(transport, "nats");
    const id = batch.agent?.agentId ?? "";
    if (this.deduper.isDuplicate(id, batch.sequence)) return false;
    this.flows += batch.flows.length;
    this.batches++;
    const seqs = this.applied.get(id) ?? [];
    seqs.push(Number(batch.sequence));
    this.applied.set(id, seqs);
    this.deduper.markApplied(id, batch.sequence);
    this.onApply?.(batch);
    return true;
  }

  sequences(agent: pb.AgentIdentity): number[] {
    return [...(this.applied.get(agent.agentId) ?? [])].sort((a, b) => a - b);
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function publish(nc: NatsConnection, agent: pb.AgentIdentity, seq: number, msgID?: string): Promise<boolean> {
  const ack = await jetstream(nc).publish(flowsSubject(agent.node), encode(agent, seq), {
    msgID: msgID ?? batchMessageId(agent, BigInt(seq)),
  });
  return ack.duplicate;
}

describe("NatsIngest", () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  async function server(args?: string[]): Promise<NatsServer> {
    const s = await startNats({ args });
    cleanups.push(() => s.stop());
    return s;
  }
  async function client(
    nats: NatsServer,
    auth: { user?: string; pass?: string; token?: string; tls?: { caFile: string } } = {},
  ) {
    const nc = await connect({ servers: nats.url, ...auth });
    cleanups.push(() => nc.close());
    return nc;
  }
  function ingest(nats: NatsServer, sink: BatchSink, over: Partial<NatsIngestOptions> = {}): NatsIngest {
    const i = new NatsIngest(
      {
        servers: [nats.url],
        ackWaitMs: 30_000,
        backoff: { initialMs: 50, maxMs: 1000 },
        reconnectWaitMs: 200,
        lagIntervalMs: 200,
        ...over,
      },
      sink,
    );
    cleanups.push(() => i.stop(1000));
    return i;
  }
  async function consumerInfo(nc: NatsConnection, durable = "flowlens-aggregator") {
    return (await jetstreamManager(nc)).consumers.info(FLOWS_STREAM, durable);
  }

  it("creates the stream and durable consumer, ingests two agents' batches exactly once and acks them", async () => {
    const nats = await server();
    const sink = new CountingSink();
    const ing = ingest(nats, sink, { stream: { maxAgeMs: 10 * 60_000, maxBytes: 64 << 20 } });
    await ing.start();
    const nc = await client(nats);
    const si = await (await jetstreamManager(nc)).streams.info(FLOWS_STREAM);
    assert.deepEqual(si.config.subjects, [FLOWS_SUBJECT_WILDCARD]);
    assert.equal(si.config.duplicate_window, nanos(120_000));
    assert.equal(si.config.max_age, nanos(10 * 60_000));
    assert.equal(si.config.max_bytes, 64 << 20);
    const ci = await consumerInfo(nc);
    assert.equal(ci.config.ack_policy, AckPolicy.Explicit);
    assert.equal(ci.config.ack_wait, nanos(30_000));

    const a = identity("node-a");
    const b = identity("node-b");
    await Promise.all(range(1, 50).flatMap((seq) => [publish(nc, a, seq), publish(nc, b, seq)]));
    await waitFor("all flows applied", () => sink.flows === 100 * FLOWS_PER_BATCH, { timeoutMs: 10_000 });
    assert.deepEqual(sink.sequences(a), range(1, 50));
    assert.deepEqual(sink.sequences(b), range(1, 50));
    const s = ing.stats();
    assert.equal(s.messages, 100);
    assert.equal(s.batches, 100);
    assert.equal(s.flows, 100 * FLOWS_PER_BATCH);
    assert.equal(s.duplicates, 0);
    assert.equal(s.decodeErrors, 0);
    assert.equal(s.redeliveries, 0);
    assert.equal(s.connected, true);
    await waitFor("everything acked", async () => {
      const info = await consumerInfo(nc);
      return info.num_ack_pending === 0 && info.num_pending === 0;
    });
    await waitFor("lag read back as 0", () => ing.stats().consumerLag === 0 && ing.stats().ackPending === 0);
    await ing.stop(1000);
    assert.equal(ing.stats().connected, false);
  });

  it("reassembles batches larger than a socket read whole, each in a buffer of its size", async () => {
    const nats = await server();
    const sink = new CountingSink();
    const ing = ingest(nats, sink);
    await ing.start();
    const nc = await client(nats);
    const a = identity("node-big");
    const sizedBefore = ing.stats().messagesSized;
    // 10000 flows: a message of some 300 KiB, over several 64 KiB reads.
    const big = (seq: number) => encode(a, seq, 10_000);
    assert.ok(big(1).length > 3 * 65536, `${big(1).length} bytes`);
    for (const seq of range(1, 5)) {
      await jetstream(nc).publish(flowsSubject(a.node), big(seq), { msgID: batchMessageId(a, BigInt(seq)) });
    }
    await waitFor("all flows applied", () => sink.flows === 5 * 10_000, { timeoutMs: 10_000 });
    assert.deepEqual(sink.sequences(a), range(1, 5));
    assert.equal(ing.stats().decodeErrors, 0);
    assert.ok(ing.stats().messagesSized - sizedBefore >= 5, JSON.stringify(ing.stats()));
  });

  it("applies a batch published twice once: JetStream drops the same message id, the sink any other copy", async () => {
    const nats = await server();
    const sink = new CountingSink();
    const ing = ingest(nats, sink);
    await ing.start();
    const nc = await client(nats);
    const a = identity("node-a");
    assert.equal(await publish(nc, a, 1), false);
    assert.equal(await publish(nc, a, 1), true, "the same message id is a JetStream duplicate");
    // The same batch under another id, as after the duplicate window: only the sink can tell.
    assert.equal(await publish(nc, a, 1, "republished-later"), false);
    await publish(nc, a, 2);
    await waitFor("later batch applied", () => sink.sequences(a).includes(2), { timeoutMs: 10_000 });
    await waitFor("every message handled", () => ing.stats().messages === 3);
    assert.deepEqual(sink.sequences(a), [1, 2]);
    assert.equal(sink.flows, 2 * FLOWS_PER_BATCH);
    assert.equal(ing.stats().duplicates, 1);
    assert.equal(ing.stats().duplicateFlows, FLOWS_PER_BATCH);
    assert.equal(ing.stats().batches, 2);
  });

  it("gets the redeliveries of an aggregator that crashed after applying, before acking, without double counting", async () => {
    const nats = await server();
    const sink = new CountingSink();
    const opts = { ackWaitMs: 1000 };
    // Creates the stream and the consumer, as the crashed aggregator's start() did.
    const first = ingest(nats, sink, opts);
    await first.start();
    await first.stop(1000);

    const nc = await client(nats);
    const a = identity("node-a");
    for (const seq of range(1, 10)) await publish(nc, a, seq);

    // The crashing aggregator: same durable consumer, applies 6 batches, dies before acking.
    const crashing = await connect({ servers: nats.url });
    const consumer = await jetstream(crashing).consumers.get(FLOWS_STREAM, "flowlens-aggregator");
    const got = await consumer.fetch({ max_messages: 6, expires: 2000 });
    for await (const m of got) sink.apply(pb.FlowBatch.decode(m.data), "nats");
    assert.deepEqual(sink.sequences(a), range(1, 6));
    await crashing.close();

    const second = ingest(nats, sink, opts);
    await second.start();
    await waitFor("all batches applied", () => sink.sequences(a).length === 10, { timeoutMs: 15_000 });
    await waitFor("redeliveries acknowledged", () => second.stats().messages === 10, { timeoutMs: 15_000 });
    const s = second.stats();
    assert.equal(s.redeliveries, 6, "the 6 unacknowledged messages come again");
    assert.equal(s.duplicates, 6, "and the sink recognises them");
    assert.equal(s.batches, 4);
    assert.deepEqual(sink.sequences(a), range(1, 10));
    assert.equal(sink.flows, 10 * FLOWS_PER_BATCH, "no flow counted twice");
    await waitFor("all acked", async () => (await consumerInfo(nc)).num_ack_pending === 0);
  });

  it("acknowledges only after apply(): a batch whose apply throws comes again and is applied once", async () => {
    const nats = await server();
    const sink = new CountingSink();
    let failures = 0;
    const flaky: BatchSink = {
      apply(batch, transport) {
        if (batch.sequence === 2n && failures < 2) {
          failures++;
          throw new Error("state unavailable");
        }
        return sink.apply(batch, transport);
      },
    };
    const ing = ingest(nats, flaky, { backoff: { initialMs: 50, maxMs: 200 } });
    await ing.start();
    const nc = await client(nats);
    const a = identity("node-a");
    for (const seq of range(1, 3)) await publish(nc, a, seq);
    await waitFor("every batch applied", () => sink.batches === 3, { timeoutMs: 10_000 });
    const s = ing.stats();
    assert.equal(s.applyErrors, 2);
    assert.match(s.lastError ?? "", /applying batch 2 .*state unavailable/);
    assert.equal(s.redeliveries, 2);
    assert.deepEqual(sink.sequences(a), [1, 2, 3]);
    await waitFor("all acked", async () => (await consumerInfo(nc)).num_ack_pending === 0);
  });

  it("resumes after nats-server is stopped for a few seconds mid-stream: every flow exactly once", async () => {
    const nats = await server();
    const sink = new CountingSink();
    // A message stuck in a lost pull would come back only after the ack wait; keep it long so
    // that resuming must not depend on it.
    const ing = ingest(nats, sink, { ackWaitMs: 60_000 });
    await ing.start();
    const agents = [identity("node-a"), identity("node-b")];
    const last = new Map<string, number>();
    let producing = true;
    // The agents' side of an outage: publish in order, retry the same batch (same id) until acked.
    const producers = agents.map(async (agent) => {
      const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
      let seq = 0;
      while (producing) {
        seq++;
        for (;;) {
          try {
            await jetstream(nc, { timeout: 1000 }).publish(flowsSubject(agent.node), encode(agent, seq), {
              msgID: batchMessageId(agent, BigInt(seq)),
              timeout: 1000,
            });
            break;
          } catch {
            await sleep(100);
          }
        }
        last.set(agent.agentId, seq);
        await sleep(5);
      }
      await nc.close();
    });
    try {
      await waitFor("flows before the outage", () => sink.batches >= 40);
      await nats.halt();
      await waitFor("ingest notices the outage", () => !ing.stats().connected);
      const before = sink.batches;
      await sleep(2500);
      assert.equal(sink.batches, before, "nothing is ingested while the server is down");
      await nats.restart();
      await waitFor("ingest reconnected", () => ing.stats().connected, { timeoutMs: 15_000 });
      await waitFor("flows after the outage", () => sink.batches >= before + 40, { timeoutMs: 15_000 });
    } finally {
      producing = false;
      await Promise.all(producers);
    }
    const want = agents.reduce((n, a) => n + (last.get(a.agentId) ?? 0), 0);
    await waitFor("every batch applied", () => sink.batches === want, { timeoutMs: 15_000 });
    for (const a of agents) assert.deepEqual(sink.sequences(a), range(1, last.get(a.agentId) ?? 0));
    assert.equal(sink.flows, want * FLOWS_PER_BATCH);
    const s = ing.stats();
    assert.ok(s.reconnects >= 1, `reconnects ${s.reconnects}`);
    assert.equal(s.batches, want);
    assert.equal(s.messages, s.batches + s.duplicates);
  });

  it("terminates and counts a message that is not a FlowBatch, and goes on ingesting", async () => {
    const nats = await server();
    const sink = new CountingSink();
    const ing = ingest(nats, sink, { ackWaitMs: 1000 });
    await ing.start();
    const nc = await client(nats);
    const a = identity("node-a");
    await publish(nc, a, 1);
    const js = jetstream(nc);
    // Field 1 as a length-delimited string claiming 100 bytes, with 3 present: cannot decode.
    await js.publish(flowsSubject("intruder"), new Uint8Array([0x0a, 100, 1, 2, 3]));
    // Valid protobuf (empty), but no agent: cannot be deduplicated, so refused as well.
    await js.publish(flowsSubject("intruder"), new Uint8Array());
    await publish(nc, a, 2);
    await waitFor("valid batches applied", () => sink.batches === 2, { timeoutMs: 10_000 });
    await waitFor("all messages handled", () => ing.stats().messages === 4);
    assert.equal(ing.stats().decodeErrors, 2);
    assert.equal(ing.metricRows().find((r) => r.name === "decode_errors")?.value, 2);
    assert.match(ing.stats().lastError ?? "", /terminated/);
    // Terminated, not left for redelivery: nothing comes back after the ack wait.
    await sleep(1500);
    assert.equal(ing.stats().messages, 4);
    assert.equal(ing.stats().redeliveries, 0);
    const info = await consumerInfo(nc);
    assert.equal(info.num_ack_pending, 0);
    await publish(nc, a, 3);
    await waitFor("ingest still runs", () => sink.batches === 3, { timeoutMs: 10_000 });
  });

  it("recreates the stream and the consumer when they are deleted under it", async () => {
    const nats = await server();
    const sink = new CountingSink();
    const ing = ingest(nats, sink);
    await ing.start();
    const nc = await client(nats);
    const jsm = await jetstreamManager(nc);
    const a = identity("node-a");
    await publish(nc, a, 1);
    await waitFor("first batch", () => sink.batches === 1, { timeoutMs: 10_000 });
    await jsm.streams.delete(FLOWS_STREAM);
    await waitFor(
      "stream and consumer recreated",
      async () => (await jsm.consumers.info(FLOWS_STREAM, "flowlens-aggregator")).config.durable_name,
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    await publish(nc, a, 2);
    await waitFor("batch after the recreation", () => sink.batches === 2, { timeoutMs: 20_000 });
    assert.ok(ing.stats().consumeRestarts >= 1);
  });

  it("updates an existing stream's limits and the consumer's ack wait, and refuses a push consumer of its name", async () => {
    const nats = await server();
    const nc = await client(nats);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: FLOWS_STREAM, subjects: [FLOWS_SUBJECT_WILDCARD], max_age: nanos(3_600_000) });
    await jsm.consumers.add(FLOWS_STREAM, {
      durable_name: "flowlens-aggregator",
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(5000),
    });
    const ing = ingest(nats, new CountingSink(), { stream: { maxAgeMs: 7_200_000 }, ackWaitMs: 9000 });
    await ing.start();
    assert.equal((await jsm.streams.info(FLOWS_STREAM)).config.max_age, nanos(7_200_000));
    assert.equal((await jsm.consumers.info(FLOWS_STREAM, "flowlens-aggregator")).config.ack_wait, nanos(9000));
    await ing.stop(1000);

    await jsm.consumers.add(FLOWS_STREAM, {
      durable_name: "pushed",
      deliver_subject: "somewhere",
      ack_policy: AckPolicy.Explicit,
    });
    const wrong = ingest(nats, new CountingSink(), { durable: "pushed" });
    await assert.rejects(wrong.start(), (err: Error) => {
      assert.ok(err instanceof NatsIngestError);
      assert.match(err.message, /not a pull consumer/);
      return true;
    });
  });

  it("reports the consumer lag from the deliveries", async () => {
    const nats = await server();
    const setup = ingest(nats, new CountingSink());
    await setup.start();
    await setup.stop(1000);
    const nc = await client(nats);
    const a = identity("node-a");
    for (const seq of range(1, 7)) await publish(nc, a, seq);
    const sink = new CountingSink();
    const lagSeen: Array<number | undefined> = [];
    const ing = ingest(nats, sink, { lagIntervalMs: 0 });
    sink.onApply = () => lagSeen.push(ing.stats().consumerLag);
    await ing.start();
    await waitFor("all applied", () => sink.batches === 7, { timeoutMs: 10_000 });
    assert.deepEqual(lagSeen, [6, 5, 4, 3, 2, 1, 0]);
  });

  it("authenticates with a token or user and password, and start() rejects a wrong password", async () => {
    const tokenServer = await server(["--auth", "s3cret-token"]);
    const withToken = ingest(tokenServer, new CountingSink(), { token: "s3cret-token" });
    await withToken.start();
    const tnc = await client(tokenServer, { token: "s3cret-token" });
    const a = identity("node-a");
    await publish(tnc, a, 1);
    await waitFor("ingested with a token", () => withToken.stats().batches === 1, { timeoutMs: 10_000 });

    const userServer = await server(["--user", "aggregator", "--pass", "right-pass"]);
    const wrong = ingest(userServer, new CountingSink(), { user: "aggregator", pass: "wrong-pass" });
    await assert.rejects(wrong.start(), (err: Error) => {
      assert.ok(err instanceof NatsIngestError, `${err.name}: ${err.message}`);
      assert.match(err.message, /authorization/i);
      return true;
    });
    assert.equal(wrong.stats().connected, false);
    const right = ingest(userServer, new CountingSink(), { user: "aggregator", pass: "right-pass" });
    await right.start();
    const unc = await client(userServer, { user: "aggregator", pass: "right-pass" });
    await publish(unc, a, 1);
    await waitFor("ingested with user and password", () => right.stats().batches === 1, { timeoutMs: 10_000 });
  });

  it("connects over TLS to a server its CA vouches for, and keeps refusing one it does not trust", async () => {
    const dir = makeTempDir("nats-pki");
    cleanups.push(async () => removeTempDir(dir));
    const pki = makeTestPki(dir);
    const nats = await server(["--tls", "--tlscert", pki.serverCert, "--tlskey", pki.serverKey]);
    const sink = new CountingSink();
    const ing = ingest(nats, sink, { tls: { caFile: pki.caCert } });
    await ing.start();
    const nc = await client(nats, { tls: { caFile: pki.caCert } });
    await publish(nc, identity("node-a"), 1);
    await waitFor("ingested over TLS", () => sink.batches === 1, { timeoutMs: 10_000 });

    const distrustful = ingest(nats, new CountingSink(), { tls: { caFile: pki.untrustedCaCert } });
    const pending = distrustful.start();
    await waitFor("TLS verification fails", () => distrustful.stats().errors >= 1, { timeoutMs: 10_000 });
    assert.match(distrustful.stats().lastError ?? "", /certificate/i);
    await distrustful.stop(500);
    await assert.rejects(pending, /stopped before it was ready/);
  });

  it("start() keeps retrying while the server is not up yet, and stop() ends the attempts", async () => {
    const nats = await server();
    await nats.halt();
    const sink = new CountingSink();
    const ing = ingest(nats, sink);
    const started = ing.start();
    await waitFor("connection attempts fail", () => ing.stats().errors >= 2);
    assert.match(ing.stats().lastError ?? "", /connect to/);
    await nats.restart();
    await started;
    assert.equal(ing.stats().connected, true);

    await nats.halt();
    const never = ingest(nats, sink);
    const pending = never.start();
    await waitFor("attempt failed", () => never.stats().errors >= 1);
    await never.stop(500);
    await assert.rejects(pending, /stopped before it was ready/);
    await nats.restart();
  });
});
