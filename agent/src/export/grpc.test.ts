// GrpcExporter against a scripted FlowExport server on loopback: what goes on the wire, the
// in-flight window, cumulative acks, resend after a lost stream, a dead peer found by
// keep-alive, backoff, stop() and its deadline. The round trips through the aggregator's real
// GrpcIngest (exactly once, restarts, TLS, tokens) are in aggregator/src/ingest/grpc.test.ts.
import assert from "node:assert/strict";
import { createServer, connect as netConnect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { pb } from "@flowlens/contracts";
import { freePort, makeTempDir, waitFor } from "@flowlens/testkit";
import * as grpc from "@grpc/grpc-js";
import { GrpcExporter, type GrpcExporterOptions } from "./grpc.js";
import type { EncodedBatch } from "./queue.js";

const AGENT = { node: "node-a", agentId: "agent-1", version: "test" };

function makeBatch(sequence: number, flows: number): EncodedBatch {
  const message: pb.FlowBatch = {
    agent: AGENT,
    sequence: BigInt(sequence),
    sentAtMs: 1n,
    flows: Array.from({ length: flows }, (_, i) =>
      pb.Flow.fromPartial({ srcAddr: "10.0.0.1", dstAddr: "10.0.0.2", srcPort: i, ipVersion: 4, proto: 6 }),
    ),
  };
  return { sequence: message.sequence, flows, bytes: pb.FlowBatch.encode(message).finish(), message };
}

type Call = grpc.ServerDuplexStream<Buffer, pb.BatchAck>;

/**
 * A FlowExport server whose behaviour the test scripts: it records the raw bytes of every
 * message per stream and acks only when told to (or at once with autoAck).
 */
class ScriptedServer {
  readonly streams: { call: Call; received: Buffer[] }[] = [];
  autoAck = false;
  onMessage?: (stream: { call: Call; received: Buffer[] }, bytes: Buffer) => void;
  private server = new grpc.Server();
  port = 0;

  async start(port = 0): Promise<number> {
    this.server = new grpc.Server();
    this.server.addService(
      // Raw bytes in: the test compares them with what the batcher encoded.
      { export: { ...pb.FlowExportService.export, requestDeserialize: (b: Buffer) => b } },
      {
        export: (call: Call) => {
          const stream = { call, received: [] as Buffer[] };
          this.streams.push(stream);
          call.sendMetadata(new grpc.Metadata());
          call.on("data", (bytes: Buffer) => {
            stream.received.push(bytes);
            if (this.autoAck) this.ack(stream, pb.FlowBatch.decode(bytes).sequence);
            this.onMessage?.(stream, bytes);
          });
          call.on("end", () => call.end());
          call.on("error", () => {});
        },
      },
    );
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    return this.port;
  }

  ack(stream: { call: Call }, sequence: bigint): void {
    stream.call.write({ sequence, flowsAccepted: 0n });
  }

  get received(): Buffer[] {
    return this.streams.flatMap((s) => s.received);
  }

  sequences(): bigint[] {
    return this.received.map((b) => pb.FlowBatch.decode(b).sequence);
  }

  stop(): void {
    this.server.forceShutdown();
  }
}

/** A TCP relay that can go silent on every connection it carries, as a vanished peer does. */
async function startRelay(targetPort: number): Promise<{ port: number; freeze(): void; close(): void }> {
  const live = new Set<[Socket, Socket]>();
  const all = new Set<Socket>();
  const relay = createServer((client) => {
    const upstream = netConnect(targetPort, "127.0.0.1");
    const pair: [Socket, Socket] = [client, upstream];
    live.add(pair);
    for (const s of pair) {
      all.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        live.delete(pair);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => relay.listen(port, "127.0.0.1", resolve));
  return {
    port,
    freeze() {
      // Neither end learns anything: no FIN, no RST, just no more bytes.
      for (const [client, upstream] of live) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
      live.clear();
    },
    close() {
      relay.close();
      for (const s of all) s.destroy();
    },
  };
}

const baseOptions = (port: number): GrpcExporterOptions => ({
  target: `127.0.0.1:${port}`,
  queue: { maxFlows: 1_000_000, maxBytes: 1 << 30 },
  backoff: { initialMs: 20, maxMs: 200 },
});

describe("GrpcExporter", () => {
  const exporters: GrpcExporter[] = [];
  const servers: ScriptedServer[] = [];
  const make = (o: GrpcExporterOptions) => {
    const e = new GrpcExporter(o);
    exporters.push(e);
    return e;
  };
  const server = async () => {
    const s = new ScriptedServer();
    servers.push(s);
    await s.start();
    return s;
  };
  after(async () => {
    await Promise.all(exporters.map((e) => e.stop(0)));
    for (const s of servers) s.stop();
  });

  it("writes the encoded bytes as they are and keeps each batch until a cumulative ack covers it", async () => {
    const srv = await server();
    const e = make(baseOptions(srv.port));
    e.start();
    const batches = [1, 2, 3, 4, 5].map((s) => makeBatch(s, s * 10));
    for (const b of batches) e.offer(b);
    await waitFor("5 batches at the server", () => srv.received.length === 5, { timeoutMs: 10_000 });
    srv.received.forEach((bytes, i) => {
      assert.ok(Buffer.from((batches[i] as EncodedBatch).bytes).equals(bytes), `batch ${i + 1} bytes unchanged`);
    });
    let s = e.stats();
    assert.equal(s.connected, true);
    assert.equal(s.batchesSent, 5);
    assert.equal(s.inFlight, 5);
    assert.equal(s.batchesAcked, 0);
    assert.equal(s.batches, 5);

    srv.ack(srv.streams[0] as { call: Call }, 3n);
    await waitFor("ack of 1..3", () => e.stats().batchesAcked === 3, { timeoutMs: 10_000 });
    s = e.stats();
    assert.equal(s.flowsAcked, 10 + 20 + 30);
    assert.equal(s.batches, 2);
    assert.equal(s.flows, 40 + 50);
    assert.equal(s.inFlight, 2);
    assert.equal(s.errors, 0);
  });

  it("never has more than maxInFlightBatches unacknowledged, and uses the whole window", async () => {
    const srv = await server();
    const window = 4;
    let acked = 0;
    let maxUnacked = 0;
    // The server acks one batch only when it holds a full window: a smaller window stalls
    // (and times out), a larger one shows up in maxUnacked.
    srv.onMessage = (stream) => {
      const unacked = srv.received.length - acked;
      maxUnacked = Math.max(maxUnacked, unacked);
      if (unacked === window) srv.ack(stream, BigInt(++acked));
    };
    const e = make({ ...baseOptions(srv.port), maxInFlightBatches: window });
    e.start();
    for (let i = 1; i <= 40; i++) e.offer(makeBatch(i, 1));
    await waitFor("40 batches at the server", () => srv.received.length === 40, { timeoutMs: 10_000 });
    assert.equal(maxUnacked, window);
    assert.ok(e.stats().inFlight <= window);
    srv.ack(srv.streams[0] as { call: Call }, 40n);
    await waitFor("all acked", () => e.stats().batches === 0, { timeoutMs: 10_000 });
    assert.deepEqual(
      srv.sequences(),
      Array.from({ length: 40 }, (_, i) => BigInt(i + 1)),
    );
  });

  it("sends every unacknowledged batch again, in order, on a new stream after the old one ends", async () => {
    const srv = await server();
    srv.onMessage = (stream, bytes) => {
      const seq = pb.FlowBatch.decode(bytes).sequence;
      if (srv.streams.length === 1) {
        if (seq <= 3n) srv.ack(stream, seq);
        // Batch 5 is received but the stream fails before it is acknowledged.
        if (seq === 5n) stream.call.emit("error", { code: grpc.status.UNAVAILABLE, details: "scripted failure" });
      } else {
        srv.ack(stream, seq);
      }
    };
    const e = make(baseOptions(srv.port));
    e.start();
    for (let i = 1; i <= 8; i++) e.offer(makeBatch(i, 1));
    await waitFor("all acked", () => e.stats().batchesAcked === 8, { timeoutMs: 10_000 });
    assert.equal(srv.streams.length, 2);
    const second = (srv.streams[1] as { received: Buffer[] }).received.map((b) => pb.FlowBatch.decode(b).sequence);
    assert.deepEqual(second, [4n, 5n, 6n, 7n, 8n]);
    const s = e.stats();
    assert.equal(s.errors, 1);
    assert.match(s.lastError ?? "", /UNAVAILABLE: scripted failure/);
    assert.equal(s.flowsAcked, 8);
  });

  it("notices a peer that went silent by keep-alive and delivers over a new connection", async () => {
    const srv = await server();
    srv.autoAck = true;
    const relay = await startRelay(srv.port);
    try {
      const e = make({ ...baseOptions(relay.port), keepalive: { timeMs: 100, timeoutMs: 200 } });
      e.start();
      for (let i = 1; i <= 3; i++) e.offer(makeBatch(i, 1));
      await waitFor("1..3 acked", () => e.stats().batchesAcked === 3, { timeoutMs: 10_000 });
      relay.freeze();
      for (let i = 4; i <= 6; i++) e.offer(makeBatch(i, 1));
      await waitFor("the dead connection noticed", () => e.stats().errors >= 1, { timeoutMs: 10_000 });
      await waitFor("4..6 acked over a new connection", () => e.stats().batchesAcked === 6, { timeoutMs: 10_000 });
      assert.match(e.stats().lastError ?? "", /UNAVAILABLE/);
      assert.deepEqual(srv.sequences(), [1n, 2n, 3n, 4n, 5n, 6n], "the frozen connection delivered nothing more");
      assert.equal(srv.streams.length, 2);
    } finally {
      relay.close();
    }
  });

  it("backs off between reconnection attempts", async () => {
    const port = await freePort(); // nothing listens there
    const e = make({ ...baseOptions(port), backoff: { initialMs: 40, maxMs: 160 } });
    const t0 = Date.now();
    e.start();
    await waitFor("5 failed attempts", () => e.stats().errors >= 5, { timeoutMs: 10_000, intervalMs: 5 });
    // Delays after failures 1..4 are at least half their ceilings 40, 80, 160, 160.
    assert.ok(Date.now() - t0 >= 20 + 40 + 80 + 80, `5 attempts took only ${Date.now() - t0} ms`);
    assert.equal(e.stats().connected, false);
    assert.match(e.stats().lastError ?? "", /UNAVAILABLE/);
  });

  it("does not write while the aggregator is away, so overflow drops exactly the oldest batches", async () => {
    const port = await freePort();
    const e = make({ ...baseOptions(port), queue: { maxFlows: 50, maxBytes: 1 << 30 } });
    e.start();
    for (let i = 1; i <= 30; i++) e.offer(makeBatch(i, 5));
    await waitFor("a failed attempt", () => e.stats().errors >= 1, { timeoutMs: 10_000 });
    let s = e.stats();
    assert.equal(s.droppedBatches, 20);
    assert.equal(s.droppedFlows, 100);
    assert.equal(s.batchesSent, 0);
    const srv = new ScriptedServer();
    servers.push(srv);
    srv.autoAck = true;
    await srv.start(port);
    await waitFor("the rest acked", () => e.stats().batches === 0, { timeoutMs: 10_000 });
    assert.deepEqual(
      srv.sequences(),
      Array.from({ length: 10 }, (_, i) => BigInt(i + 21)),
    );
    s = e.stats();
    assert.equal(s.flowsAcked, 50);
  });

  it("stop() delivers what is queued, half-closes, and refuses later batches (counted)", async () => {
    const srv = await server();
    srv.autoAck = true;
    const e = make(baseOptions(srv.port));
    e.start();
    for (let i = 1; i <= 10; i++) e.offer(makeBatch(i, 2));
    await e.stop(Date.now() + 10_000);
    const s = e.stats();
    assert.equal(s.batches, 0);
    assert.equal(s.flowsAcked, 20);
    assert.equal(s.errors, 0, "the stream ended cleanly");
    assert.equal(s.connected, false);
    e.offer(makeBatch(11, 7));
    assert.equal(e.stats().droppedBatches, 1);
    assert.equal(e.stats().droppedFlows, 7);
  });

  it("stop() gives up at the deadline and leaves the undelivered batches counted", async () => {
    const srv = await server(); // never acks
    const e = make(baseOptions(srv.port));
    e.start();
    for (let i = 1; i <= 3; i++) e.offer(makeBatch(i, 4));
    await waitFor("3 batches at the server", () => srv.received.length === 3, { timeoutMs: 10_000 });
    const t0 = Date.now();
    await e.stop(t0 + 300);
    assert.ok(Date.now() - t0 >= 290, "waited for acks until the deadline");
    const s = e.stats();
    assert.equal(s.batches, 3);
    assert.equal(s.flows, 12);
    assert.equal(s.batchesAcked, 0);
  });

  describe("configuration", () => {
    let dir = "";
    before(() => {
      dir = makeTempDir("grpc-exporter");
    });

    it("refuses bad options with the reason", () => {
      const q = { maxFlows: 10, maxBytes: 1000 };
      assert.throws(() => new GrpcExporter({ target: "no-port", queue: q }), /HOST:PORT/);
      assert.throws(() => new GrpcExporter({ target: "h:1", queue: q, maxInFlightBatches: 0 }), /maxInFlightBatches/);
      assert.throws(
        () => new GrpcExporter({ target: "h:1", queue: q, backoff: { initialMs: 100, maxMs: 10 } }),
        /initialMs <= maxMs/,
      );
      assert.throws(
        () => new GrpcExporter({ target: "h:1", queue: q, tls: { certFile: `${dir}/c.pem` } }),
        /certFile and tls.keyFile go together/,
      );
      assert.throws(
        () => new GrpcExporter({ target: "h:1", queue: q, tls: { caFile: `${dir}/missing.pem` } }),
        (err: Error) => err.message.includes("tls.caFile") && err.message.includes(`${dir}/missing.pem`),
      );
      assert.throws(() => new GrpcExporter({ target: "h:1", queue: q, token: "two words" }), /token/);
    });
  });
});
