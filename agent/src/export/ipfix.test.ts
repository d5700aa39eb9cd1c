// IPFIX and NetFlow v9 export checked by a collector we did not write: nfcapd (nfdump) receives
// what IpfixExporter sends over loopback and nfdump reads it back. Same records, same per-record
// packets and bytes, same totals as the flows we exported, in every mode (IPFIX/v9, one record
// per direction or biflow).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { type pb, recordToFlow } from "@flowlens/contracts";
import {
  freeUdpPort,
  haveCommand,
  makeTempDir,
  removeTempDir,
  repoRoot,
  startProcess,
  waitFor,
} from "@flowlens/testkit";
import { readPcap } from "../engine/pcap.js";
import { IpfixExporter } from "./ipfix.js";
import { IpfixEncoder } from "./ipfix-encoder.js";

const captures = ["pcaps/ndpi/1kxun.pcap", "pcaps/ndpi/ipv6_in_gtp.pcap", "pcaps/ndpi/quic-mvfst-27.pcapng"]
  .map((p) => join(repoRoot, "../shared/testdata", p))
  .filter((p) => existsSync(p));
const skip =
  !haveCommand("nfcapd") || !haveCommand("nfdump")
    ? "nfcapd/nfdump (Debian nfdump) not installed"
    : captures.length === 0
      ? "no shared captures"
      : false;

async function flowsOf(files: string[]): Promise<pb.Flow[]> {
  const out: pb.Flow[] = [];
  for (const file of files)
    await readPcap({ files: [file], dpi: true }, (batch) => out.push(...batch.map(recordToFlow)));
  return out;
}

/** The records a collector should see, as nfdump prints them. */
function expectedLines(flows: pb.Flow[], biflow: boolean): string[] {
  const lines: string[] = [];
  for (const f of flows) {
    const icmp = f.proto === 1 || f.proto === 58;
    const line = (sa: string, da: string, sp: number, dp: number, ip: bigint, ib: bigint, op: bigint, ob: bigint) =>
      [f.proto, sa, da, sp, dp, ip, ib, op, ob].join(" ");
    if (biflow) {
      lines.push(
        line(
          f.srcAddr,
          f.dstAddr,
          f.srcPort,
          f.dstPort,
          f.srcToDstPackets,
          f.srcToDstBytes,
          f.dstToSrcPackets,
          f.dstToSrcBytes,
        ),
      );
      continue;
    }
    lines.push(line(f.srcAddr, f.dstAddr, f.srcPort, f.dstPort, f.srcToDstPackets, f.srcToDstBytes, 0n, 0n));
    if (f.dstToSrcPackets > 0n) {
      lines.push(
        line(
          f.dstAddr,
          f.srcAddr,
          icmp ? 0 : f.dstPort,
          icmp ? f.dstPort : f.srcPort,
          f.dstToSrcPackets,
          f.dstToSrcBytes,
          0n,
          0n,
        ),
      );
    }
  }
  return lines.sort();
}

describe("IPFIX / NetFlow v9 export, read back by nfcapd and nfdump", { skip }, () => {
  for (const version of [10, 9] as const) {
    for (const biflow of [false, true]) {
      it(`${version === 10 ? "IPFIX" : "NetFlow v9"} ${biflow ? "biflow" : "one record per direction"}`, async () => {
        const flows = await flowsOf(captures);
        assert.ok(flows.length > 100);
        const dir = makeTempDir("nfcapd");
        const port = await freeUdpPort();
        const nfcapd = startProcess("nfcapd", "nfcapd", [
          "-w",
          dir,
          "-p",
          String(port),
          "-b",
          "127.0.0.1",
          "-t",
          "3600",
        ]);
        try {
          await waitFor("nfcapd listening", () => nfcapd.output().includes("Startup"), {
            proc: nfcapd,
            timeoutMs: 10_000,
          });
          const exporter = new IpfixExporter({ target: `127.0.0.1:${port}`, version, biflow });
          exporter.start();
          // Several batches, as the agent sends them, so sequence numbers and template refresh run.
          for (let i = 0; i < flows.length; i += 100) {
            const part = flows.slice(i, i + 100);
            exporter.offer({
              sequence: BigInt(i + 1),
              flows: part.length,
              bytes: new Uint8Array(),
              message: { agent: undefined, sequence: BigInt(i + 1), sentAtMs: 0n, flows: part },
            });
          }
          await exporter.stop(Date.now() + 5000);
          const stats = exporter.stats();
          assert.equal(stats.errors, 0, stats.lastError);
          // Loopback UDP is delivered by the time send() calls back; give nfcapd a moment to read.
          await new Promise((r) => setTimeout(r, 300));
          await nfcapd.stop();
          const summary = /Flows: (\d+), Packets: (\d+), Bytes: (\d+), Sequence Errors: (\d+), Bad Packets: (\d+)/.exec(
            nfcapd.output(),
          );
          assert.ok(summary, nfcapd.output());
          assert.equal(Number(summary[1]), stats.records, "records received = records sent");
          assert.equal(
            Number(summary[2]),
            flows.reduce((s, f) => s + Number(f.srcToDstPackets + f.dstToSrcPackets), 0),
          );
          assert.equal(
            Number(summary[3]),
            flows.reduce((s, f) => s + Number(f.srcToDstBytes + f.dstToSrcBytes), 0),
          );
          assert.equal(Number(summary[4]), 0, "no sequence errors");
          assert.equal(Number(summary[5]), 0, "no bad packets");
          assert.ok(readdirSync(dir).some((f) => f.startsWith("nfcapd.")));
          const dump = spawnSync(
            "nfdump",
            ["-R", dir, "-q", "-6", "-o", "fmt:%pr %sa %da %sp %dp %ipkt %ibyt %opkt %obyt"],
            { encoding: "utf8" },
          );
          assert.equal(dump.status, 0, dump.stderr);
          const names: Record<string, number> = {
            ICMP: 1,
            IGMP: 2,
            TCP: 6,
            UDP: 17,
            GRE: 47,
            ESP: 50,
            AH: 51,
            ICMP6: 58,
            SCTP: 132,
          };
          const got = dump.stdout
            .trim()
            .split("\n")
            .map((l) => {
              const [pr, ...rest] = l.trim().split(/\s+/);
              return [names[pr as string] ?? pr, ...rest].join(" ");
            })
            .sort();
          const want = expectedLines(flows, biflow);
          const missing = want.filter((l) => !got.includes(l));
          const extra = got.filter((l) => !want.includes(l));
          assert.deepEqual({ missing, extra }, { missing: [], extra: [] });
          assert.deepEqual(got, want);
        } finally {
          await nfcapd.stop();
          removeTempDir(dir);
        }
      });
    }
  }
});

describe("IpfixEncoder", () => {
  const flow = (i: number): pb.Flow =>
    recordToFlow({
      srcAddr: i % 2 ? "10.0.0.1" : "2001:db8::1",
      srcPort: 1000 + i,
      dstAddr: i % 2 ? "10.0.0.2" : "2001:db8::2",
      dstPort: 443,
      proto: 6,
      ipVersion: i % 2 ? 4 : 6,
      vlan: 7,
      firstSeenMs: 1_700_000_000_000,
      lastSeenMs: 1_700_000_001_000,
      srcToDstPackets: 3,
      srcToDstBytes: 300,
      dstToSrcPackets: 2,
      dstToSrcBytes: 200,
      srcTcpFlags: 0x1b,
      dstTcpFlags: 0x1b,
      l7: "TLS.Google",
      l7Category: "Web",
      clientNwLatencyUs: 1500,
      srcRetransmits: 1,
      dstRetransmits: 0,
      srcOutOfOrder: 0,
      dstOutOfOrder: 0,
      endReason: "fin",
      communityId: "",
    });

  it("never writes a message larger than the limit, and numbers IPFIX messages by data records", () => {
    const enc = new IpfixEncoder({ version: 10, biflow: false, observationDomain: 5, maxMessageBytes: 600 }, 1000);
    const msgs = enc.encode(Array.from({ length: 50 }, (_, i) => flow(i)));
    assert.ok(msgs.length > 5);
    const seqs: number[] = [];
    for (const m of msgs) {
      assert.ok(m.length <= 600);
      assert.equal(m.readUInt16BE(0), 10);
      assert.equal(m.readUInt16BE(2), m.length, "IPFIX length field is the message length");
      assert.equal(m.readUInt32BE(12), 5);
      seqs.push(m.readUInt32BE(8));
      // The sets tile the message exactly.
      let at = 16;
      while (at < m.length) {
        const len = m.readUInt16BE(at + 2);
        assert.ok(len >= 4 && at + len <= m.length);
        at += len;
      }
      assert.equal(at, m.length);
    }
    // The sequence number counts data records sent before each message.
    assert.equal(seqs[0], 0);
    for (let i = 1; i < seqs.length; i++) assert.ok((seqs[i] as number) > (seqs[i - 1] as number));
    assert.ok((seqs.at(-1) as number) < enc.records);
    assert.equal(enc.records, 100, "one record per direction");
  });

  it("refuses absurd message sizes", () => {
    assert.throws(
      () => new IpfixEncoder({ version: 9, biflow: false, observationDomain: 0, maxMessageBytes: 100 }),
      RangeError,
    );
  });
});
