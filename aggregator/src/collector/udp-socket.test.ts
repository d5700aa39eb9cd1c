import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { describe, it } from "node:test";
import { batchedUdpAvailable, ipv6Bytes, openUdpSocket } from "./udp-socket.js";

const skip = batchedUdpAvailable() ? false : "the native addon is not built (make native)";

interface Got {
  bytes: Buffer;
  from: string;
}

/** A socket (batched or dgram) that keeps a copy of every datagram it is handed. */
async function receiver(host: string, batched: boolean) {
  const got: Got[] = [];
  const socket = await openUdpSocket(
    host,
    0,
    8 << 20,
    // Batched datagrams are views of an arena that the next batch overwrites.
    (msg, from) => got.push({ bytes: Buffer.from(msg), from }),
    () => assert.fail("socket error"),
    batched,
  );
  return { socket, got };
}

/** Sends each payload from a socket of `type` to host:port, in order, one at a time. */
async function send(type: "udp4" | "udp6", host: string, port: number, payloads: Buffer[]) {
  const s = createSocket(type);
  try {
    for (const p of payloads)
      await new Promise<void>((resolve, reject) => s.send(p, port, host, (err) => (err ? reject(err) : resolve())));
  } finally {
    s.close();
  }
}

async function until(what: string, f: () => boolean) {
  const end = Date.now() + 5000;
  while (!f()) {
    if (Date.now() > end) assert.fail(`${what}: not within 5 s`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Payloads whose bytes say where they are: sizes from 1 byte to near UDP's largest. */
function payloads(count: number): Buffer[] {
  const sizes = [1, 7, 64, 1400, 1500, 9000, 60_000, 65_507];
  return Array.from({ length: count }, (_, i) => {
    const b = Buffer.alloc(sizes[i % sizes.length] as number);
    for (let k = 0; k < b.length; k++) b[k] = (i * 31 + k * 7) & 0xff;
    return b;
  });
}

describe("ipv6Bytes", () => {
  it("reads the forms an address to bind is written in", () => {
    const hex = (t: string) => Buffer.from(ipv6Bytes(t) ?? []).toString("hex");
    assert.equal(hex("::"), "00".repeat(16));
    assert.equal(hex("::1"), `${"00".repeat(15)}01`);
    assert.equal(hex("2001:db8::8:800:200c:417a"), "20010db80000000000080800200c417a");
    assert.equal(hex("fe80::"), `fe80${"00".repeat(14)}`);
    assert.equal(hex("1:2:3:4:5:6:7:8"), "00010002000300040005000600070008");
    assert.equal(hex("::ffff:192.0.2.1"), `${"00".repeat(10)}ffffc0000201`);
    assert.equal(hex("64:ff9b::10.1.2.3"), `0064ff9b${"00".repeat(8)}0a010203`);
    assert.equal(ipv6Bytes("fe80::1%eth0"), null, "a zone: dgram binds it");
    assert.equal(ipv6Bytes("192.0.2.1"), null);
    assert.equal(ipv6Bytes("not an address"), null);
  });
});

describe("openUdpSocket", { skip }, () => {
  it("hands over the same datagrams and sources batched as dgram does, in order, up to 65,507 bytes", async () => {
    const sent = payloads(300); // several batches of 64
    const results: Got[][] = [];
    for (const batched of [true, false]) {
      const r = await receiver("127.0.0.1", batched);
      try {
        await send("udp4", "127.0.0.1", r.socket.port, sent);
        await until("all datagrams", () => r.got.length === sent.length);
        assert.equal(r.socket.failures(), 0);
        assert.ok(r.socket.recvBufferBytes > 0);
      } finally {
        await r.socket.close();
      }
      results.push(r.got);
    }
    const [batched, dgram] = results as [Got[], Got[]];
    assert.deepEqual(
      batched.map((g) => g.bytes),
      sent,
    );
    assert.deepEqual(batched, dgram);
    assert.ok(batched.every((g) => g.from === "127.0.0.1"));
  });

  it("on ::, takes IPv4 (as ::ffff:a.b.c.d) and IPv6 senders, named as dgram names them", async () => {
    const results: string[][] = [];
    for (const batched of [true, false]) {
      const r = await receiver("::", batched);
      try {
        await send("udp4", "127.0.0.1", r.socket.port, payloads(3));
        await send("udp6", "::1", r.socket.port, payloads(3));
        await send("udp4", "127.0.0.1", r.socket.port, payloads(2));
        await until("all datagrams", () => r.got.length === 8);
      } finally {
        await r.socket.close();
      }
      results.push(r.got.map((g) => g.from));
    }
    assert.deepEqual(results[0], [
      ...Array(3).fill("::ffff:127.0.0.1"),
      ...Array(3).fill("::1"),
      ...Array(2).fill("::ffff:127.0.0.1"),
    ]);
    assert.deepEqual(results[0], results[1]);
  });

  it("lets go of its port when closed (once or twice), and refuses a port in use", async () => {
    const a = await receiver("127.0.0.1", true);
    const port = a.socket.port;
    await assert.rejects(
      openUdpSocket(
        "127.0.0.1",
        port,
        0,
        () => {},
        () => {},
        true,
      ),
      (err: Error & { code?: string }) => err.code === "EADDRINUSE" && /bind/.test(err.message),
    );
    await a.socket.close();
    const b = await openUdpSocket(
      "127.0.0.1",
      port,
      0,
      () => {},
      () => {},
      true,
    );
    assert.equal(b.port, port);
    await b.close();
    await b.close(); // twice is harmless
    assert.equal(b.failures(), 0);
  });
});
