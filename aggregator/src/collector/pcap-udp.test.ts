// The capture reader against tshark on captures of every format and link type in
// ../shared/testdata: the same UDP datagrams (frame, addresses, ports, payload length), IP
// fragments left out on both sides.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { haveCommand, makeTempDir, removeTempDir, repoRoot } from "@flowlens/testkit";
import { formatIPv6, PcapFormatError, PcapUdpReader, readUdpDatagrams } from "./pcap-udp.js";

const run = promisify(execFile);
const DATA = join(repoRoot, "../shared/testdata");

// Chosen for their formats: big-endian, nanosecond+PPI, pcapng with SLL, several interfaces and
// VLAN/QinQ tags, raw IP, SLL, IPv6 transport of IPFIX.
const FILES = [
  "pcaps/ndpi/nfsv3.pcap",
  "pcaps/ndpi/someip_sd_sample.pcap",
  "pcaps/ndpi/quic-v2.pcapng",
  "pcaps/ndpi/KakaoTalk_chat.pcap",
  "pcaps/ndpi/ocs.pcap",
  "pcaps/ndpi/zoom.pcap",
  "pcaps/ndpi/snmp.pcap",
  "pcaps/zeek/pcapng-multi-interface.pcapng",
  "pcaps/zeek/ntp.pcap",
  "flowexports/pmacct-test-automation/104-IPFIXv10-IPv6-CISCO-sampling_option.traffic-00.pcap",
  "flowexports/akvorado/netflow_nfv5.pcap",
].map((f) => join(DATA, f));

const skip = !haveCommand("tshark") ? "tshark is not installed" : FILES.every(existsSync) ? false : "test data missing";

async function tsharkUdp(file: string): Promise<string[]> {
  const fields = [
    "frame.number",
    "ip.src",
    "ipv6.src",
    "ip.dst",
    "ipv6.dst",
    "udp.srcport",
    "udp.dstport",
    "udp.length",
  ];
  const filter = "udp && !icmp && !icmpv6 && !(ip.flags.mf == 1) && !(ip.frag_offset > 0) && !ipv6.fragment";
  const args = ["-n", "-r", file, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE", "-Y", filter];
  args.push("-T", "fields", "-E", "occurrence=f", "-E", "separator=|");
  for (const f of fields) args.push("-e", f);
  const { stdout } = await run("tshark", args, { maxBuffer: 1 << 28 });
  return stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const [frame, s4, s6, d4, d6, sp, dp, len] = l.split("|");
      return `${frame} ${s4 || s6} ${d4 || d6} ${sp} ${dp} ${Number(len) - 8}`;
    });
}

describe("pcap-udp against tshark", { skip }, () => {
  for (const file of skip ? [] : FILES) {
    it(file.slice(DATA.length + 1), async () => {
      const { datagrams, stats } = readUdpDatagrams(file);
      const ours = datagrams.map(
        (d) => `${d.frame} ${d.srcAddr} ${d.dstAddr} ${d.srcPort} ${d.dstPort} ${d.payload.length}`,
      );
      assert.deepEqual(ours, await tsharkUdp(file));
      assert.equal(stats.udp, datagrams.length);
    });
  }
});

describe("pcap-udp", () => {
  const tmp = makeTempDir("pcap-udp");
  after(() => removeTempDir(tmp));

  it("reads pcapng's payload bytes exactly and takes capture times from the file", () => {
    const file = join(DATA, "pcaps/ndpi/quic-v2.pcapng");
    if (!existsSync(file)) return;
    const { datagrams } = readUdpDatagrams(file);
    const first = datagrams[0];
    assert.ok(first);
    assert.ok(first.timestampMs > 1.5e12 && first.timestampMs < 2e12, `${first.timestampMs}`);
    assert.equal(createHash("sha1").update(first.payload).digest("hex").length, 40);
  });

  it("rejects what is not a capture, and a record that runs past the file", () => {
    const junk = join(tmp, "junk.pcap");
    writeFileSync(junk, "hello world, not a pcap");
    assert.throws(() => readUdpDatagrams(junk), PcapFormatError);
    const header = Buffer.alloc(24 + 16 + 4);
    header.writeUInt32LE(0xa1b2c3d4, 0);
    header.writeUInt32LE(1, 20);
    header.writeUInt32LE(1000, 24 + 8); // caplen far beyond the file
    assert.throws(() => [...new PcapUdpReader(header).datagrams()], PcapFormatError);
  });

  it("formats IPv6 as RFC 5952 text", () => {
    const b = (hex: string) => Uint8Array.from(Buffer.from(hex, "hex"));
    assert.equal(formatIPv6(b("20010db8000000000000000000000001"), 0), "2001:db8::1");
    assert.equal(formatIPv6(b("20010db8000000010000000000000000"), 0), "2001:db8:0:1::");
    assert.equal(formatIPv6(b("20010db8000100000001000000000000"), 0), "2001:db8:1:0:1::");
    assert.equal(formatIPv6(b("00000000000000000000ffffc0000201"), 0), "::ffff:192.0.2.1");
    assert.equal(formatIPv6(b("00000000000000000000000000000000"), 0), "::");
    assert.equal(formatIPv6(b("20010db8000100010001000100010001"), 0), "2001:db8:1:1:1:1:1:1");
  });
});
