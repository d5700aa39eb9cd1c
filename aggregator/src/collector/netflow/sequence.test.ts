// Lost export datagrams and records by sequence numbers: NetFlow v9 counts packets per source id,
// IPFIX counts data records per observation domain (RFC 7011; softflowd counts them including
// the message's own, which the tracker learns). Checked on hand-made sequences (gaps, late and
// duplicate messages, exporter restarts, counter wrap) and on softflowd's own exports with
// datagrams dropped and reordered on purpose.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import dgram from "node:dgram";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { haveCommand, repoRoot } from "@flowlens/testkit";
import { NetflowDecoder } from "./decoder.js";
import { RecordSequenceTracker } from "./record-sequence.js";
import { dataSet, ipfixMessage, ipfixTemplate, ipfixTemplateSet } from "./testing.js";

/** A SYN scan: thousands of one-packet flows, some sixty export datagrams. */
const SYNSCAN = join(repoRoot, "../shared/testdata/pcaps/ndpi/synscan.pcap");
const skipSoftflowd = !haveCommand("softflowd")
  ? "softflowd not installed"
  : !existsSync(SYNSCAN)
    ? `${SYNSCAN} absent`
    : false;

/** Feeds [sequence, count] messages to a fresh tracker; returns each change and the total. */
function run(messages: [number, number][]): { changes: number[]; lost: number } {
  const t = new RecordSequenceTracker(16);
  const changes = messages.map(([seq, count]) => t.observe("x", seq, count));
  return { changes, lost: t.lost };
}

describe("IPFIX record sequence tracker", () => {
  it("counts the records of a gap (RFC: the sequence counts the records before the message)", () => {
    // Messages of 10, 5, 0 (templates only), 7 records; then 8 records never arrive.
    assert.deepEqual(
      run([
        [100, 10],
        [110, 5],
        [115, 0],
        [115, 7],
        [130, 3],
      ]),
      { changes: [0, 0, 0, 0, 8], lost: 8 },
    );
  });

  it("learns softflowd's way (the count includes the message's own records)", () => {
    assert.deepEqual(
      run([
        [21, 21],
        [48, 27],
        [74, 26],
        [102, 28],
        // 33 records lost, then a message of 31.
        [166, 31],
      ]),
      { changes: [0, 0, 0, 0, 33], lost: 33 },
    );
  });

  it("learns an exporter that counts flow records only, options data left out (softflowd)", () => {
    const t = new RecordSequenceTracker(4);
    // [sequence, data records, of which flow records]: options data every third message.
    const messages: [number, number, number][] = [
      [24, 25, 24],
      [56, 32, 32],
      [88, 32, 32],
      [112, 25, 24],
      [144, 32, 32],
      // 32 flow records lost
      [208, 32, 32],
      [232, 25, 24],
    ];
    assert.deepEqual(
      messages.map(([seq, count, flows]) => t.observe("x", seq, count, flows)),
      [0, 0, 0, 0, 0, 32, 0],
    );
    assert.equal(t.lost, 32);
  });

  it("takes back the records of a late message, ignores a duplicate", () => {
    const t = new RecordSequenceTracker(4);
    assert.equal(t.observe("x", 0, 10), 0);
    assert.equal(t.observe("x", 30, 10), 20); // [10, 30) missing: two messages of 10
    assert.equal(t.observe("x", 20, 10), -10); // the second one, late
    assert.equal(t.observe("x", 20, 10), 0); // the same again: a duplicate
    assert.equal(t.observe("x", 10, 10), -10); // the first one
    assert.equal(t.lost, 0);
    assert.equal(t.observe("x", 40, 5), 0);
    assert.deepEqual(
      t.stats().map((s) => [s.lost, s.reordered, s.restarts]),
      [[0, 2, 0]],
    );
  });

  it("treats a jump far back, or far ahead, as an exporter restart", () => {
    const t = new RecordSequenceTracker(4);
    t.observe("x", 5_000_000, 10);
    t.observe("x", 5_000_010, 10);
    assert.equal(t.observe("x", 0, 10), 0, "restart from 0");
    assert.equal(t.observe("x", 10, 10), 0);
    assert.equal(t.observe("x", 4_000_000_000, 1), 0, "a wild jump");
    assert.equal(t.lost, 0);
    assert.equal(t.stats()[0]?.restarts, 2);
  });

  it("follows the counter through its wrap at 2^32", () => {
    assert.deepEqual(
      run([
        [2 ** 32 - 15, 10],
        [2 ** 32 - 5, 10],
        [5, 10],
        [20, 1],
      ]),
      { changes: [0, 0, 0, 5], lost: 5 },
    );
  });

  it("resynchronises after a message it could not count, instead of counting a false gap", () => {
    assert.deepEqual(
      run([
        [0, 10],
        [10, -1],
        [37, 4],
        [41, 4],
      ]),
      { changes: [0, 0, 0, 0], lost: 0 },
    );
  });

  it("keeps sources apart and bounded", () => {
    const t = new RecordSequenceTracker(2);
    t.observe("a", 0, 1);
    t.observe("b", 0, 1);
    t.observe("c", 0, 1);
    assert.equal(t.evictions, 1);
    assert.deepEqual(
      t.stats().map((s) => s.source),
      ["b", "c"],
    );
  });
});

describe("decoder sequence numbers", () => {
  const template = ipfixTemplateSet([
    ipfixTemplate(256, [
      [8, 4],
      [12, 4],
      [1, 4],
    ]),
  ]);
  const record = new Uint8Array([10, 0, 0, 1, 10, 0, 0, 2, 0, 0, 0, 100]);
  const msg = (seq: number, records: number, domain = 1) =>
    ipfixMessage([dataSet(256, new Array<Uint8Array>(records).fill(record))], { seq, domain });

  it("reports IPFIX records lost per exporter and domain, and their return", () => {
    const dec = new NetflowDecoder({}, () => 0);
    const lost = (m: Uint8Array, exporter = "192.0.2.1") => dec.decode(m, exporter, 0).recordsLost;
    assert.equal(lost(ipfixMessage([template], { seq: 0, domain: 1 })), 0);
    assert.equal(lost(msg(0, 3)), 0);
    assert.equal(lost(msg(3, 2)), 0);
    assert.equal(lost(msg(9, 1)), 4);
    // Another domain and another exporter have sequences of their own.
    assert.equal(lost(ipfixMessage([template], { seq: 500, domain: 2 })), 0);
    assert.equal(lost(msg(500, 2, 2)), 0);
    assert.equal(lost(msg(7, 1), "192.0.2.2"), 0);
    assert.equal(lost(msg(5, 4)), -4);
    assert.equal(dec.stats().recordsLost, 0);
    assert.equal(dec.stats().datagramsLost, 0);
  });

  it("does not count a gap after a message whose data set waited for its template", () => {
    const dec = new NetflowDecoder({}, () => 0);
    assert.equal(dec.decode(msg(0, 3), "192.0.2.1", 0).recordsLost, 0);
    // The template comes after the data: its records are released then.
    const late = dec.decode(ipfixMessage([template], { seq: 3, domain: 1 }), "192.0.2.1", 0);
    assert.equal(late.flows.length, 3);
    assert.equal(dec.decode(msg(3, 2), "192.0.2.1", 0).recordsLost, 0);
    assert.equal(dec.decode(msg(5, 2), "192.0.2.1", 0).recordsLost, 0);
    assert.equal(dec.stats().recordsLost, 0);
  });
});

/** softflowd's export of a capture, every datagram as it sent it. */
async function softflowd(version: 9 | 10): Promise<Buffer[]> {
  const sock = dgram.createSocket("udp4");
  const datagrams: Buffer[] = [];
  sock.on("message", (m) => datagrams.push(m));
  await new Promise<void>((resolve) => sock.bind(0, "127.0.0.1", resolve));
  sock.setRecvBufferSize(8 << 20);
  const port = sock.address().port;
  const child = spawn(
    "softflowd",
    ["-r", SYNSCAN, "-v", String(version), "-n", `127.0.0.1:${port}`, "-c", "none", "-d"],
    {
      stdio: "ignore",
    },
  );
  const timer = setTimeout(() => child.kill("SIGTERM"), 30_000);
  await new Promise((resolve) => child.on("exit", resolve));
  clearTimeout(timer);
  await new Promise((resolve) => setTimeout(resolve, 300));
  sock.close();
  return datagrams;
}

describe("sequence numbers of a real exporter", { skip: skipSoftflowd }, () => {
  for (const version of [9, 10] as const) {
    it(`counts softflowd's ${version === 9 ? "NetFlow v9 datagrams" : "IPFIX records"} dropped on purpose, and none when all arrive, reordered`, async () => {
      const all = await softflowd(version);
      assert.ok(all.length >= 30, `${all.length} datagrams`);
      // Every datagram, two pairs swapped: nothing lost.
      const reordered = [...all];
      for (const i of [5, 17]) [reordered[i], reordered[i + 1]] = [reordered[i + 1] as Buffer, reordered[i] as Buffer];
      const whole = new NetflowDecoder({}, () => 0);
      for (const d of reordered) whole.decode(d, "127.0.0.1", 0);
      assert.equal(whole.stats().datagramsLost, 0);
      assert.equal(whole.stats().recordsLost, 0);
      // Every fourth datagram after the first (which has the templates) dropped; the records
      // they carried, counted by a decoder that sees them all.
      const reference = new NetflowDecoder({}, () => 0);
      const dec = new NetflowDecoder({}, () => 0);
      let droppedDatagrams = 0;
      let droppedRecords = 0;
      for (let i = 0; i < all.length; i++) {
        const d = all[i] as Buffer;
        const r = reference.decode(d, "127.0.0.1", 0);
        // The last datagram's loss is invisible: nothing comes after it.
        if (i > 0 && i % 4 === 0 && i < all.length - 1) {
          droppedDatagrams++;
          // softflowd's sequence counts its flow records only.
          droppedRecords += r.flows.length;
          continue;
        }
        dec.decode(d, "127.0.0.1", 0);
      }
      assert.ok(droppedDatagrams >= 5);
      if (version === 9) {
        assert.equal(dec.stats().datagramsLost, droppedDatagrams);
        assert.equal(dec.stats().recordsLost, 0);
      } else {
        assert.equal(dec.stats().recordsLost, droppedRecords);
        assert.equal(dec.stats().datagramsLost, 0);
      }
    });
  }
});
