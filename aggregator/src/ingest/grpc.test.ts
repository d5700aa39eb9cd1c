// GrpcIngest over real loopback connections, with the agent's real GrpcExporter as the client:
// every flow exactly once (a counting sink on SequenceDeduper), through an aggregator restart
// and a queue overflow; TLS, mTLS and bearer tokens accepted and refused (and counted); a
// message that is garbage, invalid or too big ends its stream, never the server.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { AUTH_METADATA_KEY, pb } from "@flowlens/contracts";
import { freePort, makeTempDir, makeTestPki, removeTempDir, type TestPki, waitFor } from "@flowlens/testkit";
import * as grpc from "@grpc/grpc-js";
import { SequenceDeduper } from "./dedupe.js";
import { GrpcIngest, type GrpcIngestOptions } from "./grpc.js";
import type { BatchSink } from "./sink.js";

// The agent's exporter is the client under test too. The aggregator package does not depend on
// the agent's, so the test loads its build output (`npx tsc -b` builds the agent first) and
// names the little of its API it uses.
interface EncodedBatch {
  sequence: bigint;
  flows: number;
  bytes: Uint8Array;
}
interface ExporterOptions {
  target: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string; serverName?: string };
  token?: string;
  queue: { maxFlows: number; maxBytes: number };
  maxInFlightBatches?: number;
  backoff?: { initialMs: number; maxMs: number };
}
interface ExporterStats {
  connected: boolean;
  batches: number;
  flows: number;
  inFlight: number;
  droppedBatches: number;
  droppedFlows: number;
  batchesSent: number;
  batchesAcked: number;
  flowsAcked: number;
  errors: number;
  lastError?: string;
}
interface Exporter {
  start(): void;
  offer(batch: EncodedBatch): void;
  stop(deadlineMs: number): Promise<void>;
  stats(): ExporterStats;
}
const agentModule = new URL("../../../agent/dist/export/grpc.js", import.meta.url).href;
const { GrpcExporter } = (await import(agentModule)) as { GrpcExporter: new (o: ExporterOptions) => Exporter };

/** Applies each batch once per agent and sequence, and counts every flow by its id. */
class CountingSink implements BatchSink {
  readonly deduper = new SequenceDeduper();
  /** Flow id (firstSeenMs) -> times applied. */
  readonly flowCounts = new Map<bigint, number>();
  readonly sequences: bigint[] = [];
  onApplied?: (batch: pb.FlowBatch) => void;
  throwOnce?: bigint;

  apply(batch: pb.FlowBatch, transport: "grpc" | "nats" | "local"): boolean {
    assert.equal(transport, "grpc");
    const agentId = (batch.agent as pb.AgentIdentity).agentId;
    if (batch.sequence === this.throwOnce) {
      this.throwOnce = undefined;
      throw new Error("state unavailable");
    }
    if (this.deduper.isDuplicate(agentId, batch.sequence)) return false;
    for (const f of batch.flows) this.flowCounts.set(f.firstSeenMs, (this.flowCounts.get(f.firstSeenMs) ?? 0) + 1);
    this.sequences.push(batch.sequence);
    this.deduper.markApplied(agentId, batch.sequence);
    this.onApplied?.(batch);
    return true;
  }

  get flows(): number {
    let n = 0;
    for (const c of this.flowCounts.values()) n += c;
    return n;
  }
}

/** Batches of one agent process with globally unique flow ids (firstSeenMs), 1, 2, 3... */
class BatchSource {
  private sequence = 0n;
  private flowId = 0n;
  readonly messages: pb.FlowBatch[] = [];
  constructor(private readonly agentId = "agent-1") {}

  next(flows: number): EncodedBatch {
    const message: pb.FlowBatch = {
      agent: { node: "node-a", agentId: this.agentId, version: "test" },
      sequence: ++this.sequence,
      sentAtMs: BigInt(Date.now()),
      flows: Array.from({ length: flows }, (_, i) =>
        pb.Flow.fromPartial({
          srcAddr: `10.1.${i >> 8}.${i & 255}`,
          dstAddr: "192.0.2.1",
          srcPort: 1024 + i,
          dstPort: 443,
          proto: 6,
          ipVersion: 4,
          firstSeenMs: ++this.flowId,
          lastSeenMs: this.flowId + 5n,
          srcToDstBytes: 1500n,
          l7: "TLS",
        }),
      ),
    };
    this.messages.push(message);
    return { sequence: message.sequence, flows, bytes: pb.FlowBatch.encode(message).finish() };
  }

  get flowCount(): number {
    return Number(this.flowId);
  }
}

/** Every flow id from `from` to `to` applied exactly once, and nothing else. */
function assertExactlyOnce(sink: CountingSink, from: number, to: number): void {
  const twice = [...sink.flowCounts].filter(([, n]) => n !== 1).map(([id]) => id);
  assert.deepEqual(twice, [], "flows applied more than once");
  const missing: number[] = [];
  for (let id = from; id <= to; id++) if (!sink.flowCounts.has(BigInt(id))) missing.push(id);
  assert.deepEqual(missing.slice(0, 20), [], `${missing.length} flows never applied`);
  assert.equal(sink.flowCounts.size, to - from + 1, "no flow outside the expected range");
}

const queue = { maxFlows: 1_000_000, maxBytes: 1 << 30 };
const backoff = { initialMs: 20, maxMs: 250 };
const wait = { timeoutMs: 15_000, intervalMs: 10 };

/** A raw client of the Export method that writes bytes as given: for what no agent would send. */
function rawStream(port: number, metadata = new grpc.Metadata()) {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = client.makeBidiStreamRequest<Buffer, pb.BatchAck>(
    pb.FlowExportService.export.path,
    (b) => b,
    (b) => pb.BatchAck.decode(b),
    metadata,
    {},
  );
  const acks: pb.BatchAck[] = [];
  call.on("data", (a: pb.BatchAck) => acks.push(a));
  const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
  call.on("error", () => {}); // the status promise carries it
  return { call, acks, status, close: () => client.close() };
}

describe("GrpcIngest with the agent's GrpcExporter", () => {
  const exporters: Exporter[] = [];
  const ingests: GrpcIngest[] = [];
  let dir = "";
  let pki: TestPki;

  const exporter = (o: ExporterOptions) => {
    const e = new GrpcExporter(o);
    exporters.push(e);
    e.start();
    return e;
  };
  const ingest = async (o: Partial<GrpcIngestOptions>, sink: BatchSink) => {
    const g = new GrpcIngest({ listen: "127.0.0.1:0", ...o }, sink);
    ingests.push(g);
    await g.start();
    return g;
  };

  before(() => {
    dir = makeTempDir("grpc-ingest");
    pki = makeTestPki(join(dir, "pki"));
  });
  after(async () => {
    await Promise.all(exporters.map((e) => e.stop(0)));
    await Promise.all(ingests.map((g) => g.stop(0)));
    removeTempDir(dir);
  });

  it("delivers every batch exactly once and acks each", async () => {
    const sink = new CountingSink();
    const g = await ingest({}, sink);
    const e = exporter({ target: `127.0.0.1:${g.port}`, queue, backoff });
    const src = new BatchSource();
    for (let i = 0; i < 200; i++) e.offer(src.next(1 + (i % 50)));
    await waitFor("all acked", () => e.stats().batches === 0, wait);

    assertExactlyOnce(sink, 1, src.flowCount);
    assert.deepEqual(
      sink.sequences,
      src.messages.map((m) => m.sequence),
      "applied in order",
    );
    const es = e.stats();
    assert.equal(es.batchesAcked, 200);
    assert.equal(es.flowsAcked, src.flowCount);
    assert.equal(es.errors, 0);
    const gs = g.stats();
    assert.equal(gs.batchesReceived, 200);
    assert.equal(gs.flowsReceived, src.flowCount);
    assert.equal(gs.duplicateBatches, 0);
    assert.equal(gs.streamsOpen, 1);
    assert.equal(gs.connectionsOpen, 1);
    // The session's receive windows were raised from HTTP/2's 64 KiB (http2-window.ts): a
    // grpc-js upgrade that hides the session from us shows here.
    assert.equal(gs.windowsNotRaised, 0);
  });

  it("round-trips the flows themselves, field for field", async () => {
    const received: pb.FlowBatch[] = [];
    const g = await ingest({}, { apply: (b) => received.push(b) > 0 });
    const e = exporter({ target: `127.0.0.1:${g.port}`, queue, backoff });
    const src = new BatchSource();
    e.offer(src.next(3));
    await waitFor("acked", () => e.stats().batchesAcked === 1, wait);
    assert.deepEqual(received, src.messages);
  });

  it("loses and doubles nothing when the aggregator goes away for 2 s mid-stream", async () => {
    const sink = new CountingSink();
    const first = await ingest({}, sink);
    const port = first.port;
    let stopped: Promise<void> | undefined;
    // Stops the aggregator at once from inside the apply of batch 30: that batch is in the
    // state but its ack never leaves, so the agent must resend it and dedupe must catch it.
    sink.onApplied = (b) => {
      if (b.sequence === 30n) stopped = first.stop(0);
    };
    const e = exporter({ target: `127.0.0.1:${port}`, queue, backoff });
    const src = new BatchSource();
    // Batches keep coming before, during and after the outage; the phases are counted rather
    // than timed, so "in the middle" holds however slow the machine is.
    const offered = { before: 0, outage: 0, after: 0 };
    let phase: keyof typeof offered = "before";
    const second = new GrpcIngest({ listen: `127.0.0.1:${port}` }, sink);
    const producer = setInterval(() => {
      e.offer(src.next(10));
      offered[phase]++;
    }, 5);
    try {
      await waitFor("the aggregator stopped", () => stopped !== undefined, wait);
      phase = "outage";
      await stopped;
      await waitFor("the agent noticed", () => !e.stats().connected && e.stats().errors >= 1, wait);
      await sleep(2000); // the outage itself
      sink.onApplied = undefined;
      ingests.push(second);
      assert.equal(await second.start(), port);
      phase = "after";
      await waitFor("30 batches after the restart", () => offered.after >= 30, wait);
      clearInterval(producer);
      await waitFor("all acked", () => e.stats().batches === 0, wait);
    } finally {
      clearInterval(producer);
    }
    assert.ok(offered.outage > 0, "batches were offered while the aggregator was away");
    assertExactlyOnce(sink, 1, src.flowCount);
    assert.ok(sink.deduper.duplicates >= 1, "batch 30 was resent and recognised");
    assert.ok(second.stats().duplicateBatches >= 1, "counted by the restarted aggregator");
    const es = e.stats();
    assert.equal(es.droppedBatches, 0);
    assert.equal(es.flowsAcked, src.flowCount);
    assert.ok(es.errors >= 1);
  });

  it("drops the oldest batches (counted) while the aggregator is down, and delivers the rest once", async () => {
    const port = await freePort();
    const e = exporter({
      target: `127.0.0.1:${port}`,
      queue: { maxFlows: 100, maxBytes: 1 << 30 },
      backoff,
    });
    const src = new BatchSource();
    for (let i = 0; i < 50; i++) e.offer(src.next(10)); // room for 10 batches
    await waitFor("a failed attempt", () => e.stats().errors >= 1, wait);
    const s = e.stats();
    assert.equal(s.droppedBatches, 40);
    assert.equal(s.droppedFlows, 400);
    const sink = new CountingSink();
    const g = new GrpcIngest({ listen: `127.0.0.1:${port}` }, sink);
    ingests.push(g);
    await g.start();
    await waitFor("the rest acked", () => e.stats().batches === 0, wait);
    assertExactlyOnce(sink, 401, 500);
    assert.equal(g.stats().duplicateBatches, 0);
  });

  it("resends a batch the sink failed on, and answers INTERNAL meanwhile", async () => {
    const sink = new CountingSink();
    sink.throwOnce = 3n;
    const g = await ingest({}, sink);
    const e = exporter({ target: `127.0.0.1:${g.port}`, queue, backoff });
    const src = new BatchSource();
    for (let i = 0; i < 6; i++) e.offer(src.next(4));
    await waitFor("all acked", () => e.stats().batches === 0, wait);
    assertExactlyOnce(sink, 1, 24);
    assert.equal(g.stats().sinkErrors, 1);
    assert.match(
      e.stats().lastError ?? "",
      /INTERNAL: applying batch 3 of agent agent-1 \(node-a\) failed: state unavailable/,
    );
  });

  it("ends open streams on stop() without waiting out the grace period", async () => {
    const g = await ingest({}, new CountingSink());
    const e = exporter({ target: `127.0.0.1:${g.port}`, queue, backoff: { initialMs: 5000, maxMs: 5000 } });
    await waitFor("connected", () => e.stats().connected && g.stats().streamsOpen === 1, wait);
    const t0 = Date.now();
    await g.stop(10_000);
    assert.ok(Date.now() - t0 < 5000, `stop took ${Date.now() - t0} ms`);
    assert.equal(g.stats().connectionsOpen, 0);
    await waitFor("the agent saw UNAVAILABLE", () => /UNAVAILABLE/.test(e.stats().lastError ?? ""), wait);
    assert.match(e.stats().lastError ?? "", /aggregator shutting down/);
  });

  describe("TLS and tokens", () => {
    const mtls = () => ({ certFile: pki.serverCert, keyFile: pki.serverKey, clientCaFile: pki.caCert });
    const clientTls = (cert = pki.clientCert, key = pki.clientKey) => ({
      caFile: pki.caCert,
      certFile: cert,
      keyFile: key,
      serverName: "localhost",
    });

    it("accepts mTLS with a valid token", async () => {
      const sink = new CountingSink();
      const g = await ingest({ tls: mtls(), tokens: ["other-token", "s3cret-token"] }, sink);
      const e = exporter({ target: `127.0.0.1:${g.port}`, tls: clientTls(), token: "s3cret-token", queue, backoff });
      const src = new BatchSource();
      for (let i = 0; i < 20; i++) e.offer(src.next(7));
      await waitFor("all acked", () => e.stats().batches === 0, wait);
      assertExactlyOnce(sink, 1, 140);
      const refused = Object.values(g.stats().refused).reduce((a, b) => a + b, 0);
      assert.equal(refused, 0);
      assert.equal(e.stats().errors, 0);
    });

    it("accepts server-only TLS verified against the IP address in the certificate", async () => {
      const sink = new CountingSink();
      const g = await ingest({ tls: { certFile: pki.serverCert, keyFile: pki.serverKey } }, sink);
      const e = exporter({ target: `127.0.0.1:${g.port}`, tls: { caFile: pki.caCert }, queue, backoff });
      const src = new BatchSource();
      e.offer(src.next(5));
      await waitFor("acked", () => e.stats().batches === 0, wait);
      assertExactlyOnce(sink, 1, 5);
    });

    it("refuses a wrong token and a missing one with UNAUTHENTICATED, and counts each", async () => {
      const sink = new CountingSink();
      const g = await ingest({ tls: mtls(), tokens: ["s3cret-token"] }, sink);
      const wrong = exporter({
        target: `127.0.0.1:${g.port}`,
        tls: clientTls(),
        token: "s3cret-tokem",
        queue,
        backoff,
      });
      const none = exporter({ target: `127.0.0.1:${g.port}`, tls: clientTls(), queue, backoff });
      const src = new BatchSource();
      wrong.offer(src.next(3));
      none.offer(new BatchSource("agent-2").next(3));
      await waitFor(
        "both refused",
        () => g.stats().refused.bad_token >= 1 && g.stats().refused.no_token >= 1 && none.stats().errors >= 1,
        wait,
      );
      assert.match(wrong.stats().lastError ?? "", /UNAUTHENTICATED: bearer token not accepted/);
      assert.match(none.stats().lastError ?? "", /UNAUTHENTICATED: missing bearer token/);
      assert.equal(sink.flows, 0);
      assert.equal(g.stats().batchesReceived, 0);
      assert.equal(wrong.stats().batches, 1, "the batch stays queued for a token that works");
    });

    it("refuses a client certificate from an untrusted CA before grpc-js sees the connection", async () => {
      const sink = new CountingSink();
      const g = await ingest({ tls: mtls(), tokens: ["s3cret-token"] }, sink);
      const e = exporter({
        target: `127.0.0.1:${g.port}`,
        tls: clientTls(pki.untrustedClientCert, pki.untrustedClientKey),
        token: "s3cret-token",
        queue,
        backoff,
      });
      e.offer(new BatchSource().next(3));
      await waitFor("refused", () => g.stats().refused.client_certificate >= 1 && e.stats().errors >= 1, wait);
      const s = g.stats();
      assert.match(s.lastRefusal ?? "", /client_certificate: client certificate of 127\.0\.0\.1:\d+ refused: \w+/);
      assert.equal(s.streamsTotal, 0);
      assert.equal(s.refused.bad_token + s.refused.no_token, 0, "refused before any token was looked at");
      assert.equal(sink.flows, 0);
      assert.equal(e.stats().connected, false);
    });

    it("refuses a client without a certificate when mTLS is on", async () => {
      const sink = new CountingSink();
      const g = await ingest({ tls: mtls() }, sink);
      const e = exporter({
        target: `127.0.0.1:${g.port}`,
        tls: { caFile: pki.caCert, serverName: "localhost" },
        queue,
        backoff,
      });
      e.offer(new BatchSource().next(3));
      await waitFor("refused", () => g.stats().refused.client_certificate >= 1 && e.stats().errors >= 1, wait);
      assert.match(g.stats().lastRefusal ?? "", /no client certificate/);
      assert.equal(g.stats().streamsTotal, 0);
      assert.equal(sink.flows, 0);
    });

    it("counts a plaintext client at a TLS port as a failed handshake", async () => {
      const g = await ingest({ tls: mtls() }, new CountingSink());
      const e = exporter({ target: `127.0.0.1:${g.port}`, queue, backoff });
      e.offer(new BatchSource().next(1));
      await waitFor("refused", () => g.stats().refused.tls_handshake >= 1 && e.stats().errors >= 1, wait);
      assert.match(g.stats().lastRefusal ?? "", /tls_handshake: TLS handshake with 127\.0\.0\.1:\d+ failed/);
    });

    it("refuses bad token configurations", () => {
      assert.throws(() => new GrpcIngest({ listen: ":0", tokens: [] }, new CountingSink()), /tokens must be non-empty/);
      assert.throws(
        () => new GrpcIngest({ listen: ":0", tokens: [""] }, new CountingSink()),
        /tokens must be non-empty/,
      );
      assert.throws(() => new GrpcIngest({ listen: ":0", tokens: ["a b"] }, new CountingSink()), /without whitespace/);
      assert.throws(() => new GrpcIngest({ listen: "nowhere" }, new CountingSink()), /listen must be \[HOST\]:PORT/);
    });

    it("reports unreadable certificate files with their path", async () => {
      const g = new GrpcIngest(
        { listen: "127.0.0.1:0", tls: { certFile: join(dir, "missing.crt"), keyFile: pki.serverKey } },
        new CountingSink(),
      );
      await assert.rejects(g.start(), (err: Error) => err.message.includes(`tls.certFile ${join(dir, "missing.crt")}`));
    });
  });

  describe("messages no agent sends", () => {
    it("answers a message that is not a FlowBatch with INVALID_ARGUMENT and keeps serving", async () => {
      const sink = new CountingSink();
      const g = await ingest({}, sink);
      const good = new BatchSource().next(4).bytes;
      // A flow's length runs past the end of the message.
      const truncated = Buffer.from(good.subarray(0, good.length - 5));
      const s = rawStream(g.port);
      s.call.write(Buffer.from(good));
      s.call.write(truncated);
      const status = await s.status;
      s.close();
      assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
      assert.match(status.details, /message 2 \(\d+ bytes\) is not a FlowBatch/);
      assert.deepEqual(
        s.acks.map((a) => a.sequence),
        [1n],
        "the good batch before it was acked",
      );
      assert.equal(g.stats().decodeErrors, 1);
      assert.equal(g.stats().refused.decode_error, 1);
      await stillServes(g, sink);
    });

    it("answers a batch without agent identity or sequence with INVALID_ARGUMENT", async () => {
      const sink = new CountingSink();
      const g = await ingest({}, sink);
      const cases: [pb.FlowBatch, RegExp][] = [
        [pb.FlowBatch.fromPartial({ sequence: 1n, flows: [] }), /no agent identity/],
        [pb.FlowBatch.fromPartial({ agent: { node: "n", agentId: "a" }, sequence: 0n }), /sequence must be > 0/],
      ];
      for (const [batch, why] of cases) {
        const s = rawStream(g.port);
        s.call.write(Buffer.from(pb.FlowBatch.encode(batch).finish()));
        const status = await s.status;
        s.close();
        assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
        assert.match(status.details, why);
      }
      assert.equal(g.stats().refused.invalid_batch, 2);
      assert.equal(sink.flows, 0);
      await stillServes(g, sink);
    });

    it("lets grpc-js refuse a message over maxBatchBytes with RESOURCE_EXHAUSTED and keeps serving", async () => {
      const sink = new CountingSink();
      const g = await ingest({ maxBatchBytes: 64 << 10 }, sink);
      const s = rawStream(g.port);
      s.call.write(Buffer.alloc(100 << 10, 0x0a));
      const status = await s.status;
      s.close();
      assert.equal(status.code, grpc.status.RESOURCE_EXHAUSTED);
      await waitFor("the stream counted as aborted", () => g.stats().streamsAborted === 1, wait);
      assert.equal(g.stats().batchesReceived, 0);
      await stillServes(g, sink);
    });

    it("takes a token only as `Bearer <token>`", async () => {
      const g = await ingest({ tokens: ["s3cret-token"] }, new CountingSink());
      for (const value of ["s3cret-token", "Basic s3cret-token", "Bearer s3cret-token extra"]) {
        const md = new grpc.Metadata();
        md.set(AUTH_METADATA_KEY, value);
        const s = rawStream(g.port, md);
        s.call.write(Buffer.from(new BatchSource().next(1).bytes));
        const status = await s.status;
        s.close();
        assert.equal(status.code, grpc.status.UNAUTHENTICATED, `'${value}'`);
      }
      assert.equal(g.stats().refused.bad_token, 3);
    });
  });

  async function stillServes(g: GrpcIngest, sink: CountingSink): Promise<void> {
    const before = sink.flows;
    const e = exporter({ target: `127.0.0.1:${g.port}`, queue, backoff });
    e.offer(new BatchSource("agent-after").next(2));
    await waitFor("a good batch after the bad ones", () => e.stats().batchesAcked === 1, wait);
    assert.equal(sink.flows, before + 2);
  }
});
