import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startNats } from "./nats.js";
import { canCreateNamespaces, NetLab, removeStaleNamespaces } from "./netns.js";
import { pidAlive } from "./process.js";

describe("startNats", () => {
  it("runs a real JetStream server: publish with acks, consume, dedupe by message id, and cleans up", async () => {
    const server = await startNats();
    try {
      const nc = await connect({ servers: server.url });
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: "FLOWS", subjects: ["flowlens.flows.>"], duplicate_window: 60_000_000_000 });
      const js = jetstream(nc);
      for (let i = 0; i < 10; i++) {
        const ack = await js.publish(`flowlens.flows.node-${i % 2}`, `batch-${i}`, { msgID: `node-${i % 2}:${i}` });
        assert.equal(ack.duplicate, false);
      }
      const dup = await js.publish("flowlens.flows.node-0", "batch-0", { msgID: "node-0:0" });
      assert.equal(dup.duplicate, true, "JetStream must report a republished message id as a duplicate");

      await jsm.consumers.add("FLOWS", { durable_name: "agg", ack_policy: "explicit" });
      const consumer = await js.consumers.get("FLOWS", "agg");
      const got: string[] = [];
      const messages = await consumer.fetch({ max_messages: 20, expires: 2000 });
      for await (const m of messages) {
        got.push(m.string());
        m.ack();
      }
      assert.deepEqual(
        got,
        Array.from({ length: 10 }, (_, i) => `batch-${i}`),
      );
      await nc.drain();
    } finally {
      await server.stop();
    }
    assert.equal(pidAlive(server.proc.pid), false, "nats-server must be gone after stop()");
    assert.equal(existsSync(server.storeDir), false, "the JetStream store must be removed");
  });

  it("halts and restarts on the same port with the same JetStream store", async () => {
    const server = await startNats();
    try {
      const nc = await connect({ servers: server.url });
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: "KEEP", subjects: ["keep.>"] });
      const js = jetstream(nc);
      for (let i = 0; i < 5; i++) await js.publish("keep.a", `m-${i}`);
      await nc.close();
      const firstPid = server.proc.pid;

      for (const signal of ["SIGTERM", "SIGKILL"] as const) {
        await server.halt({ signal });
        assert.equal(server.running, false);
        assert.equal(pidAlive(server.proc.pid), false, `nats-server must be gone after halt(${signal})`);
        await assert.rejects(connect({ servers: server.url, reconnect: false }), "nothing may listen while halted");
        assert.equal(existsSync(server.storeDir), true, "halt() must keep the JetStream store");

        await server.restart();
        assert.equal(server.running, true);
        const again = await connect({ servers: server.url });
        const info = await (await jetstreamManager(again)).streams.info("KEEP");
        assert.equal(info.state.messages, 5, `the stream must survive a restart after ${signal}`);
        await again.close();
      }
      assert.notEqual(server.proc.pid, firstPid, "restart() starts a new process");
      await assert.rejects(server.restart(), /still running/);
    } finally {
      await server.stop();
    }
    assert.equal(existsSync(server.storeDir), false);
  });

  it("starts two independent servers side by side on distinct ports", async () => {
    const [a, b] = await Promise.all([startNats(), startNats()]);
    try {
      assert.notEqual(a.port, b.port);
      assert.notEqual(a.port, 4222, "must not use the machine's own NATS port");
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

const can = canCreateNamespaces();
describe("startNats inside a network namespace", { skip: can.ok ? false : `no namespaces: ${can.reason}` }, () => {
  it("listens on the namespace's addresses, reachable from another host, and restarts there", async () => {
    removeStaleNamespaces();
    const lab = new NetLab();
    try {
      const { a, b } = lab.pair("natsclient", "natsserver", 7);
      const server = await startNats({ host: b });
      try {
        assert.equal(server.host, b);
        // The client port greets with INFO; read it from the other host.
        const greet = () =>
          a.exec("bash", ["-c", `exec 3<>/dev/tcp/${b.addr}/${server.port}; head -c 4 <&3`], { timeoutMs: 5000 });
        assert.equal(greet(), "INFO");
        await server.halt();
        assert.throws(greet, "nothing listens while halted");
        await server.restart();
        assert.equal(greet(), "INFO");
      } finally {
        await server.stop();
      }
      assert.equal(pidAlive(server.proc.pid), false);
    } finally {
      lab.destroy();
    }
  });
});
