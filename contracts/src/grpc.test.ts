// The FlowExport service over a real grpc-js server and client on loopback: batches stream
// in, acks stream back by sequence.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { recordToFlow } from "./flow.js";
import { type BatchAck, type FlowBatch, FlowExportClient, FlowExportService } from "./gen/flowlens/v1/flow.js";

describe("FlowExport gRPC service", () => {
  let server: grpc.Server;
  let port = 0;
  const received: FlowBatch[] = [];

  before(async () => {
    server = new grpc.Server();
    server.addService(FlowExportService, {
      export(call: grpc.ServerDuplexStream<FlowBatch, BatchAck>) {
        call.on("data", (b: FlowBatch) => {
          received.push(b);
          call.write({ sequence: b.sequence, flowsAccepted: BigInt(b.flows.length) });
        });
        call.on("end", () => call.end());
      },
    });
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
  });

  after(() => server.forceShutdown());

  it("acks every batch by its sequence number, in order", async () => {
    const client = new FlowExportClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const stream = client.export();
    const acks: BatchAck[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on("data", (a: BatchAck) => acks.push(a));
      stream.on("end", resolve);
      stream.on("error", reject);
    });
    const flow = recordToFlow({
      srcAddr: "10.0.0.1",
      srcPort: 1,
      dstAddr: "10.0.0.2",
      dstPort: 2,
      proto: 17,
      ipVersion: 4,
      vlan: 0,
      firstSeenMs: 1,
      lastSeenMs: 2,
      srcToDstPackets: 1,
      srcToDstBytes: 60,
      dstToSrcPackets: 0,
      dstToSrcBytes: 0,
      srcTcpFlags: 0,
      dstTcpFlags: 0,
      l7: "DNS",
      l7Category: "Network",
      srcRetransmits: 0,
      dstRetransmits: 0,
      srcOutOfOrder: 0,
      dstOutOfOrder: 0,
      endReason: "idle",
      communityId: "",
    });
    for (let seq = 1n; seq <= 5n; seq++) {
      stream.write({
        agent: { node: "n", agentId: "a", version: "t" },
        sequence: seq,
        sentAtMs: 0n,
        flows: Array(Number(seq)).fill(flow),
      });
    }
    stream.end();
    await done;
    client.close();
    assert.deepEqual(
      acks.map((a) => a.sequence),
      [1n, 2n, 3n, 4n, 5n],
    );
    assert.deepEqual(
      acks.map((a) => a.flowsAccepted),
      [1n, 2n, 3n, 4n, 5n],
    );
    assert.equal(
      received.reduce((n, b) => n + b.flows.length, 0),
      15,
    );
  });
});
