// IPFIX over TCP against a third-party exporter: python-ipfix (Debian python3-ipfix, Brian
// Trammell's RFC 7011 implementation) writes a message stream to a TCP socket in odd-sized
// writes; what the listener applies must equal what it says it sent, record for record.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { describe, it } from "node:test";
import type { pb } from "@flowlens/contracts";
import { exportIpfixOverTcp, havePythonIpfix } from "@flowlens/testkit";
import type { IngestFlow } from "../state/ingest-flow.js";
import { IPFIX_TCP_DEFAULTS, IpfixTcpListener } from "./tcp-listener.js";

const skip = havePythonIpfix ? false : "python3-ipfix is not installed (hack/install-deps.sh installs it)";

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function totals(flows: pb.Flow[]): { records: number; octets: number; packets: number } {
  let octets = 0;
  let packets = 0;
  for (const f of flows) {
    octets += Number(f.srcToDstBytes);
    packets += Number(f.srcToDstPackets);
  }
  return { records: flows.length, octets, packets };
}

describe("IPFIX over TCP", { skip }, () => {
  it("decodes a python-ipfix stream written in random pieces, every record and counter", async () => {
    const got: pb.Flow[] = [];
    const exporters = new Set<string>();
    const l = new IpfixTcpListener({ ...IPFIX_TCP_DEFAULTS, host: "127.0.0.1", port: 0 }, (records, n, exporter) => {
      for (let i = 0; i < n; i++) got.push((records[i] as IngestFlow).toMessage());
      exporters.add(exporter);
    });
    const port = await l.start();
    try {
      const sent = exportIpfixOverTcp(port, 3000, [1, 2]);
      await until("all records", () => got.length >= sent.records);
      await until("session closed", () => l.stats().sessionsOpen === 0);
      assert.deepEqual(totals(got), sent);
      assert.deepEqual([...exporters], ["127.0.0.1"]);
      assert.deepEqual(new Set(got.map((f) => f.observationDomain)), new Set([1, 2]));
      const first = got[0] as pb.Flow;
      assert.equal(first.srcAddr, "10.1.0.0");
      assert.equal(first.dstPort, 443);
      assert.equal(first.proto, 6);
      assert.equal(first.exportVersion, 10);
      assert.equal(first.firstSeenMs, BigInt(Date.UTC(2026, 10, 27, 10)));
      assert.equal(first.lastSeenMs, BigInt(Date.UTC(2026, 10, 27, 10)) + 5n);
      const s = l.stats();
      assert.equal(s.records, sent.records);
      assert.equal(s.framingErrors, 0);
      assert.ok(
        Object.values(s.decodeErrors).every((n) => n === 0),
        JSON.stringify(s.decodeErrors),
      );
    } finally {
      await l.stop();
    }
  });

  it("scopes templates to the session: data on a new connection without its template is not decoded", async () => {
    const got: pb.Flow[] = [];
    const l = new IpfixTcpListener({ ...IPFIX_TCP_DEFAULTS, host: "127.0.0.1", port: 0 }, (records, n) => {
      for (let i = 0; i < n; i++) got.push((records[i] as IngestFlow).toMessage());
    });
    const port = await l.start();
    try {
      exportIpfixOverTcp(port, 10, [1]);
      await until("first session", () => got.length === 10 && l.stats().sessionsOpen === 0);
      // A data set for template 256 alone, on a fresh session: 16-byte header + set header + 1 byte.
      const msg = Buffer.alloc(16 + 4 + 41);
      msg.writeUInt16BE(10, 0);
      msg.writeUInt16BE(msg.length, 2);
      msg.writeUInt32BE(1, 12);
      msg.writeUInt16BE(256, 16);
      msg.writeUInt16BE(4 + 41, 18);
      await new Promise<void>((resolve, reject) => {
        const s = connect(port, "127.0.0.1", () => s.end(msg));
        s.on("close", () => resolve());
        s.on("error", reject);
      });
      await until("second session closed", () => l.stats().sessionsTotal === 2 && l.stats().sessionsOpen === 0);
      assert.equal(got.length, 10);
      assert.equal(l.stats().messages >= 2, true);
    } finally {
      await l.stop();
    }
  });

  it("closes a session whose stream is not IPFIX and counts it, other sessions unharmed", async () => {
    const got: pb.Flow[] = [];
    const l = new IpfixTcpListener({ ...IPFIX_TCP_DEFAULTS, host: "127.0.0.1", port: 0 }, (records, n) => {
      for (let i = 0; i < n; i++) got.push((records[i] as IngestFlow).toMessage());
    });
    const port = await l.start();
    try {
      const garbage = connect(port, "127.0.0.1");
      await new Promise<void>((resolve) => garbage.once("connect", () => resolve()));
      const closed = new Promise<void>((resolve) => garbage.once("close", () => resolve()));
      garbage.on("error", () => {});
      garbage.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      await closed;
      assert.equal(l.stats().framingErrors, 1);
      // A message header claiming less than a header is as fatal.
      const short = connect(port, "127.0.0.1");
      short.on("error", () => {});
      const shortClosed = new Promise<void>((resolve) => short.once("close", () => resolve()));
      short.write(Buffer.from([0, 10, 0, 4]));
      await shortClosed;
      assert.equal(l.stats().framingErrors, 2);
      const sent = exportIpfixOverTcp(port, 500, [9]);
      await until("good session", () => got.length === sent.records);
    } finally {
      await l.stop();
    }
  });

  it("refuses sessions past the cap and counts them", async () => {
    const l = new IpfixTcpListener({ ...IPFIX_TCP_DEFAULTS, maxSessions: 2, host: "127.0.0.1", port: 0 }, () => {});
    const port = await l.start();
    const sockets = [];
    try {
      for (let i = 0; i < 4; i++) {
        const s = connect(port, "127.0.0.1");
        s.on("error", () => {});
        sockets.push(s);
        await new Promise<void>((resolve) => s.once("connect", () => resolve()));
      }
      await until("refusals", () => l.stats().sessionsRefused === 2);
      assert.equal(l.stats().sessionsOpen, 2);
    } finally {
      for (const s of sockets) s.destroy();
      await l.stop();
    }
  });

  it("closes idle sessions", async () => {
    const l = new IpfixTcpListener({ ...IPFIX_TCP_DEFAULTS, idleTimeoutMs: 200, host: "127.0.0.1", port: 0 }, () => {});
    const port = await l.start();
    try {
      const s = connect(port, "127.0.0.1");
      s.on("error", () => {});
      const closed = new Promise<void>((resolve) => s.once("close", () => resolve()));
      await closed;
      await until("session gone", () => l.stats().sessionsOpen === 0);
      assert.equal(l.stats().idleTimeouts, 1);
    } finally {
      await l.stop();
    }
  });
});
