import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import {
  canonicalAddr,
  compareFlows,
  type NdpiFlow,
  ndpiReaderAvailable,
  type OurFlow,
  parseFlowLine,
  parseNdpiReaderOutput,
  runNdpiReader,
} from "./ndpi-reader.js";

// Real flow lines printed by `ndpiReader -i <capture> -v 2` (nDPI 4.2.0, Debian libndpi-bin 4.2)
// on the nDPI test captures in /work/shared/testdata/pcaps/ndpi.

// 443-curl.pcap
const TLS =
  "\t1\tTCP 192.168.1.13:55523 <-> 178.62.197.130:443 [proto: 91.26/TLS.ntop][Encrypted][Confidence: DPI][cat: Network/14][51 pkts/4260 bytes <-> 58 pkts/69722 bytes][Goodput ratio: 22/94][1.10 sec][Hostname/SNI: www.ntop.org][ALPN: h2;http/1.1][bytes ratio: -0.885 (Download)][IAT c2s/s2c min/avg/max/stddev: 0/0 25/19 784/784 122/114][Pkt Len c2s/s2c min/avg/max/stddev: 54/66 84/1202 583/1506 74/562][TLSv1.2][JA3C: 2a26b1a62e40d25d4de3babc9d532f30][ServerNames: www.ntop.org][JA3S: ae53107a2e47ea20c72ac44821a728bf][Issuer: C=US, O=Let's Encrypt, CN=Let's Encrypt Authority X3][Subject: CN=www.ntop.org][Certificate SHA-1: DB:A7:E4:3E:6D:BB:21:AB:68:47:35:E8:0B:8F:15:DF:DB:C7:C9:6F][Firefox][Validity: 2019-12-17 01:17:28 - 2020-03-16 01:17:28][Cipher: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256][Plen Bins: 3,13,1,1,1,0,1,0,0,0,0,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,3,0,0,0,0,0,0,0,0,0,0,0,1,0,73,0,0]";
// dns.pcap
const DNS_VLAN =
  "\t1\tUDP 82.178.113.245:47255 <-> 82.178.158.181:53 [VLAN: 785][proto: 5.142/DNS.WhatsApp][ClearText][Confidence: DPI][cat: Chat/9][1 pkts/91 bytes <-> 1 pkts/219 bytes][Goodput ratio: 36/73][0.00 sec][Hostname/SNI: e7.whatsapp.net][169.45.219.235][PLAIN TEXT (whatsapp)][Plen Bins: 0,50,0,0,0,50,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]";
// http_ipv6.pcap
const IPV6 =
  "\t2\tTCP [2a00:d40:1:3:7aac:c0ff:fea7:d4c]:37506 <-> [2a03:b0c0:3:d0::70:1001]:443 [proto: 91.26/TLS.ntop][Encrypted][Confidence: DPI][cat: Network/14][14 pkts/3969 bytes <-> 12 pkts/11648 bytes][Goodput ratio: 69/91][0.43 sec][Hostname/SNI: www.ntop.org][ALPN: http/1.1;spdy/3.1;h2-14;h2][bytes ratio: -0.492 (Download)][IAT c2s/s2c min/avg/max/stddev: 0/0 37/44 229/290 62/88][Pkt Len c2s/s2c min/avg/max/stddev: 86/86 284/971 919/1514 324/539][Risk: ** TLS Certificate Mismatch **][Risk Score: 100][TLSv1.2][JA3C: d3e627f423a33ea41841c19b8af79293][ServerNames: shop.ntop.org,www.shop.ntop.org][JA3S: 389ed42c02ebecc32e73aa31def07e14][Issuer: C=GB, ST=Greater Manchester, L=Salford, O=COMODO CA Limited, CN=COMODO RSA Domain Validation Secure Server CA][Subject: OU=Domain Control Validated, OU=PositiveSSL, CN=shop.ntop.org][Certificate SHA-1: FB:A6:FF:A7:58:F3:9D:54:24:45:E5:A0:C4:04:18:D5:58:91:E0:34][Firefox][Validity: 2015-11-15 00:00:00 - 2018-11-14 23:59:59][Cipher: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256][Plen Bins: 0,0,0,6,0,0,6,0,6,0,0,0,0,0,0,0,0,6,0,0,6,0,0,0,6,6,6,0,0,0,0,6,0,0,0,0,6,0,6,0,0,0,0,0,28,0,0,0]";
// 4in4tunnel.pcap (undetected list; 4.2 decapsulates IP-in-IP)
const UNKNOWN_VLAN =
  "\t1\tUDP 10.10.100.25:62367 -> 10.10.101.2:17000 [VLAN: 505][proto: 0/Unknown][ClearText][Confidence: Unknown][5 pkts/850 bytes -> 0 pkts/0 bytes][Goodput ratio: 59/0][121572.07 sec][Plen Bins: 0,0,0,100,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]";
// icmp-tunnel.pcap
const ICMP =
  "\t1\tICMP 192.168.154.131:0 <-> 192.168.154.132:0 [proto: 81/ICMP][ClearText][Confidence: DPI][cat: Network/14][448 pkts/98566 bytes <-> 415 pkts/92244 bytes][Goodput ratio: 81/81][1122.51 sec][bytes ratio: 0.033 (Mixed)][IAT c2s/s2c min/avg/max/stddev: 0/0 2578/2731 145505/145505 9091/9494][Pkt Len c2s/s2c min/avg/max/stddev: 74/74 220/222 1075/1070 245/245][PLAIN TEXT (OpenSSH5)][Plen Bins: 0,32,24,24,7,3,3,0,0,0,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,4,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]";
// 6in4tunnel.pcap
const ICMPV6 =
  "\t5\tICMPV6 [2a03:2880:1010:6f03:face:b00c::2]:0 -> [2001:470:1f17:13f:3e97:eff:fe73:4dec]:0 [proto: 102/ICMPV6][ClearText][Confidence: DPI][cat: Network/14][1 pkts/1314 bytes -> 0 pkts/0 bytes][Goodput ratio: 94/0][< 1 sec][PLAIN TEXT (ds 0/u6)][Plen Bins: 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,100,0,0,0,0,0,0,0,0,0]";
// gre.pcapng (4.2 does not decapsulate GRE: protocol 47 printed by number)
const GRE =
  "\t1\t47 109.105.228.253:0 -> 10.177.98.84:0 [VLAN: 142][proto: 80/GRE][ClearText][Confidence: DPI][cat: Network/14][1 pkts/384 bytes -> 0 pkts/0 bytes][Goodput ratio: 0/0][< 1 sec][PLAIN TEXT (SIP/2.0 100 Trying)][Plen Bins: 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]";
// ipv6_in_gtp.pcap with -t (ESP printed by number)
const GTP =
  "\t1\t50 [2a01:4c8:c014:144e:1:2:945b:6761]:0 -> [2a01:4c8:f000:f49::4]:0 [VLAN: 2][proto: GTP:79/IPsec][Encrypted][Confidence: DPI][cat: VPN/2][1 pkts/166 bytes -> 0 pkts/0 bytes][Goodput ratio: 0/0][< 1 sec][Plen Bins: 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]";
// dns_fragmented.pcap
const RISKS =
  "\t3\tUDP [2001:470:1f0b:16b0:20c:29ff:fe7c:a4cb]:55729 <-> [2001:470:765b::a25:53]:53 [proto: 5/DNS][ClearText][Confidence: DPI][cat: Network/14][2 pkts/228 bytes <-> 1 pkts/1494 bytes][Goodput ratio: 45/95][5.01 sec][Hostname/SNI: weberlab.de][::][Risk: ** DNS Packet Larger Than 512 bytes **** Fragmented DNS Message **][Risk Score: 100][PLAIN TEXT (weberlab)][Plen Bins: 0,66,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,33,0,0,0]";
// alexa-app.pcapng
const IGMP =
  "\t160\tIGMP 0.0.0.0:0 -> 224.0.0.1:0 [proto: 82/IGMP][ClearText][Confidence: DPI][cat: Network/14][2 pkts/92 bytes -> 0 pkts/0 bytes][Goodput ratio: 0/0][125.44 sec][Plen Bins: 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]";
// dns.pcap as nDPI 4.11 prints it (dns.pcap.out)
const V411 =
  "\t1\tUDP 82.178.113.245:47255 <-> 82.178.158.181:53 [VLAN: 785][proto: 5.142/DNS.WhatsApp][IP: 0/Unknown][ClearText][Confidence: DPI][FPC: 5.142/DNS.WhatsApp, Confidence: DPI][DPI packets: 2][cat: Network/14][1 pkts/91 bytes <-> 1 pkts/219 bytes][Goodput ratio: 36/73][0.00 sec][Hostname/SNI: e7.whatsapp.net][169.45.219.235][PLAIN TEXT (whatsapp)][Plen Bins: 0,50,0,0,0,50,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]";

// 4in4tunnel.pcap, full output minus the banner: statistics, then one undetected flow.
const OUTPUT_4IN4 = [
  "Using nDPI (4.2.0) [1 thread(s)]",
  "Using libgcrypt version 1.10.1",
  "Reading packets from pcap file /work/shared/testdata/pcaps/ndpi/4in4tunnel.pcap...",
  "Running thread 0...",
  "",
  "nDPI Memory statistics:",
  "\tnDPI Memory (once):      235.17 KB    ",
  "\tFlow Memory (per flow):  688 B        ",
  "\tActual Memory:           4.39 MB      ",
  "\tPeak Memory:             4.39 MB      ",
  "\tSetup Time:              59 msec",
  "\tPacket Processing Time:  0 msec",
  "",
  "Traffic statistics:",
  "\tEthernet bytes:        970           (includes ethernet CRC/IFC/trailer)",
  "\tDiscarded bytes:       0            ",
  "\tIP packets:            5             of 5 packets total",
  "\tIP bytes:              850           (avg pkt size 170 bytes)",
  "\tUnique flows:          1            ",
  "\tTCP Packets:           0            ",
  "\tUDP Packets:           5            ",
  "\tVLAN Packets:          5            ",
  "\tMPLS Packets:          0            ",
  "\tPPPoE Packets:         0            ",
  "\tFragmented Packets:    0            ",
  "\tMax Packet size:       108          ",
  "\tPacket Len < 64:       0            ",
  "\tPacket Len 64-128:     5            ",
  "\tPacket Len 128-256:    0            ",
  "\tPacket Len 256-1024:   0            ",
  "\tPacket Len 1024-1500:  0            ",
  "\tPacket Len > 1500:     0            ",
  "\tnDPI throughput:       12.82 K pps / 18.98 Mb/sec",
  "\tAnalysis begin:        15/Sep/2018 20:44:31",
  "\tAnalysis end:          17/Sep/2018 06:30:43",
  "\tTraffic throughput:    0.00 pps / 0 b/sec",
  "\tTraffic duration:      121572.070 sec",
  "\tGuessed flow protos:   1            ",
  "\tDPI Packets (UDP):     5             (5.00 pkts/flow)",
  "\tConfidence: Unknown    1             (flows)",
  "",
  "",
  "Detected protocols:",
  "\tUnknown              packets: 5             bytes: 850           flows: 1            ",
  "",
  "",
  "Protocol statistics:",
  "\tUnrated                        850 bytes",
  "",
  "",
  "",
  "Undetected flows:",
  "\t1\tUDP 10.10.100.25:62367 -> 10.10.101.2:17000 [VLAN: 505][proto: 0/Unknown][ClearText][Confidence: Unknown][5 pkts/850 bytes -> 0 pkts/0 bytes][Goodput ratio: 59/0][121572.07 sec][Plen Bins: 0,0,0,100,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]",
  "",
].join("\n");

// The JA3 host table of 443-curl.pcap: numbered like flow lines, but must not be taken for flows.
const OUTPUT_JA3 = [
  "Traffic statistics:",
  "\tIP packets:            109           of 109 packets total",
  "\tUnique flows:          1            ",
  "",
  "JA3 Host Stats: ",
  "\t\t IP Address                  \t # JA3C     ",
  "\t1\t 192.168.1.13             \t 1      ",
  "",
  "",
  TLS,
].join("\n");

const PCAPS = "/work/shared/testdata/pcaps/ndpi";

function parsed(line: string): NdpiFlow {
  const f = parseFlowLine(line);
  assert.ok(f, `cannot parse ${line}`);
  return f;
}

describe("parseFlowLine", () => {
  it("parses a TLS flow with sub-protocol, category, hostname and JA3", () => {
    const f = parsed(TLS);
    assert.equal(f.index, 1);
    assert.equal(f.section, "detected");
    assert.equal(f.proto, 6);
    assert.equal(f.protoName, "TCP");
    assert.deepEqual(f.a, { addr: "192.168.1.13", port: 55523 });
    assert.deepEqual(f.b, { addr: "178.62.197.130", port: 443 });
    assert.equal(f.vlan, 0);
    assert.equal(f.app, "TLS.ntop");
    assert.equal(f.masterApp, "TLS");
    assert.equal(f.appId, "91.26");
    assert.equal(f.category, "Network");
    assert.equal(f.categoryId, 14);
    assert.equal(f.encrypted, true);
    assert.equal(f.confidence, "DPI");
    assert.deepEqual(f.aToB, { packets: 51, bytes: 4260 });
    assert.deepEqual(f.bToA, { packets: 58, bytes: 69722 });
    assert.equal(f.hostname, "www.ntop.org");
    assert.equal(f.ja3c, "2a26b1a62e40d25d4de3babc9d532f30");
    assert.equal(f.ja3s, "ae53107a2e47ea20c72ac44821a728bf");
    assert.equal(f.risks, undefined);
    assert.equal(f.tunnel, undefined);
    assert.equal(f.raw, TLS);
  });

  it("parses the VLAN id", () => {
    const f = parsed(DNS_VLAN);
    assert.equal(f.proto, 17);
    assert.equal(f.vlan, 785);
    assert.equal(f.app, "DNS.WhatsApp");
    assert.equal(f.masterApp, "DNS");
    assert.equal(f.category, "Chat");
    assert.equal(f.encrypted, false);
    assert.deepEqual(f.aToB, { packets: 1, bytes: 91 });
    assert.deepEqual(f.bToA, { packets: 1, bytes: 219 });
    assert.equal(f.hostname, "e7.whatsapp.net");
  });

  it("parses bracketed IPv6 endpoints and risks", () => {
    const f = parsed(IPV6);
    assert.equal(f.index, 2);
    assert.deepEqual(f.a, { addr: "2a00:d40:1:3:7aac:c0ff:fea7:d4c", port: 37506 });
    assert.deepEqual(f.b, { addr: "2a03:b0c0:3:d0::70:1001", port: 443 });
    assert.equal(f.app, "TLS.ntop");
    assert.deepEqual(f.risks, ["TLS Certificate Mismatch"]);
    assert.equal(f.ja3c, "d3e627f423a33ea41841c19b8af79293");
  });

  it("parses several risks", () => {
    const f = parsed(RISKS);
    assert.deepEqual(f.risks, ["DNS Packet Larger Than 512 bytes", "Fragmented DNS Message"]);
    assert.equal(f.app, "DNS");
    assert.equal(f.masterApp, "DNS");
    assert.equal(f.hostname, "weberlab.de");
  });

  it("parses one-directional Unknown flows (-> arrow, no category)", () => {
    const f = parsed(UNKNOWN_VLAN);
    assert.equal(f.vlan, 505);
    assert.equal(f.app, "Unknown");
    assert.equal(f.appId, "0");
    assert.equal(f.category, "Unspecified");
    assert.equal(f.categoryId, 0);
    assert.equal(f.confidence, "Unknown");
    assert.deepEqual(f.aToB, { packets: 5, bytes: 850 });
    assert.deepEqual(f.bToA, { packets: 0, bytes: 0 });
  });

  it("parses portless protocols: ICMP, ICMPV6, IGMP and protocols printed by number", () => {
    const icmp = parsed(ICMP);
    assert.equal(icmp.proto, 1);
    assert.deepEqual(icmp.a, { addr: "192.168.154.131", port: 0 });
    assert.deepEqual(icmp.bToA, { packets: 415, bytes: 92244 });
    assert.equal(icmp.app, "ICMP");
    const icmp6 = parsed(ICMPV6);
    assert.equal(icmp6.proto, 58);
    assert.equal(icmp6.index, 5);
    assert.deepEqual(icmp6.b, { addr: "2001:470:1f17:13f:3e97:eff:fe73:4dec", port: 0 });
    assert.deepEqual(icmp6.bToA, { packets: 0, bytes: 0 });
    assert.equal(parsed(IGMP).proto, 2);
    const gre = parsed(GRE);
    assert.equal(gre.proto, 47);
    assert.equal(gre.protoName, "47");
    assert.equal(gre.vlan, 142);
    assert.equal(gre.app, "GRE");
  });

  it("parses flows found inside a tunnel (-t)", () => {
    const f = parsed(GTP);
    assert.equal(f.proto, 50);
    assert.equal(f.tunnel, "GTP");
    assert.equal(f.app, "IPsec");
    assert.equal(f.appId, "79");
    assert.equal(f.vlan, 2);
    assert.equal(f.category, "VPN");
  });

  it("parses the richer lines of later nDPI versions (4.11)", () => {
    const f = parsed(V411);
    assert.equal(f.app, "DNS.WhatsApp");
    assert.equal(f.vlan, 785);
    assert.equal(f.category, "Network");
    assert.equal(f.confidence, "DPI");
    assert.deepEqual(f.bToA, { packets: 1, bytes: 219 });
  });

  it("rejects malformed lines", () => {
    const bad = [
      TLS.replace("[51 pkts/4260 bytes <-> 58 pkts/69722 bytes]", ""), // no counters
      TLS.replace("[proto: 91.26/TLS.ntop]", ""), // no protocol
      TLS.replace("TCP ", "FOO "), // unknown L4 protocol
      TLS.replace("178.62.197.130:443", "178.62.197.130"), // no port
      TLS.replace("<-> 58 pkts", "-> 58 pkts"), // arrows disagree
      TLS.slice(0, 120), // truncated
      "[proto: 0/Unknown][ClearText][Confidence: Unknown][5 pkts/1795 bytes -> 0 pkts/0 bytes]", // -v 1 form
    ];
    for (const line of bad) assert.equal(parseFlowLine(line), undefined, line);
  });
});

describe("parseNdpiReaderOutput", () => {
  it("parses statistics, sections and flows of a full output", () => {
    const r = parseNdpiReaderOutput(OUTPUT_4IN4);
    assert.equal(r.version, "4.2.0");
    assert.equal(r.flows.length, 1);
    assert.equal(r.flows[0]?.section, "undetected");
    assert.deepEqual(r.unparsed, []);
    assert.deepEqual(r.diagnostics, []);
    assert.equal(r.complete, true);
    const s = r.stats;
    assert.ok(s);
    assert.equal(s.ethernetBytes, 970);
    assert.equal(s.discardedBytes, 0);
    assert.equal(s.ipPackets, 5);
    assert.equal(s.totalPackets, 5);
    assert.equal(s.ipBytes, 850);
    assert.equal(s.uniqueFlows, 1);
    assert.equal(s.tcpPackets, 0);
    assert.equal(s.udpPackets, 5);
    assert.equal(s.vlanPackets, 5);
    assert.equal(s.fragmentedPackets, 0);
    assert.equal(s.maxPacketSize, 108);
    assert.equal(s.guessedFlowProtos, 1);
    assert.deepEqual(s.dpiPackets, { udp: 5 });
    assert.deepEqual(s.confidence, { Unknown: 1 });
    assert.equal(s.raw["Traffic duration"], "121572.070 sec");
    assert.deepEqual(r.detectedProtocols, [{ name: "Unknown", packets: 5, bytes: 850, flows: 1 }]);
  });

  it("does not take the JA3 host table for flows", () => {
    const r = parseNdpiReaderOutput(OUTPUT_JA3);
    assert.equal(r.flows.length, 1);
    assert.equal(r.flows[0]?.app, "TLS.ntop");
    assert.deepEqual(r.unparsed, []);
    assert.equal(r.complete, true);
  });

  it("reports lines it cannot parse, never drops them", () => {
    const broken = TLS.replace("[proto: 91.26/TLS.ntop]", "");
    const r = parseNdpiReaderOutput(`${OUTPUT_JA3}\n${broken}\n${GRE}\n`);
    assert.deepEqual(r.unparsed, [broken]);
    assert.equal(r.flows.length, 2);
    assert.equal(r.complete, false);
    assert.match(r.diagnostics.join("\n"), /1 unique flows but printed 3 flow lines/);
  });

  it("flags outputs without statistics and ndpiReader's messages", () => {
    const r = parseNdpiReaderOutput(
      ["Using nDPI (4.2.0) [1 thread(s)]", "Running thread 0...", "Unsupported datalink 192. Skip pcap"].join("\n"),
    );
    assert.equal(r.stats, undefined);
    assert.equal(r.flows.length, 0);
    assert.equal(r.complete, false);
    assert.equal(r.diagnostics[0], "Unsupported datalink 192. Skip pcap");
    assert.match(r.diagnostics[1] ?? "", /no 'Traffic statistics' section/);
  });
});

describe("canonicalAddr", () => {
  it("normalizes IPv6 spellings and keeps IPv4", () => {
    assert.equal(canonicalAddr("10.0.0.1"), "10.0.0.1");
    const full = "2001:0db8:0000:0000:0000:0000:0000:0001";
    for (const a of ["2001:db8::1", "2001:DB8:0:0::1", "[2001:db8::1]", "2001:db8:0:0:0:0:0:1"]) {
      assert.equal(canonicalAddr(a), full, a);
    }
    assert.equal(canonicalAddr("::ffff:1.2.3.4"), "0000:0000:0000:0000:0000:ffff:0102:0304");
    assert.equal(canonicalAddr("::"), "0000:0000:0000:0000:0000:0000:0000:0000");
  });
});

function ndpiFlow(
  proto: number,
  a: string,
  b: string,
  aToB: [number, number],
  bToA: [number, number],
  extra: Partial<NdpiFlow> = {},
): NdpiFlow {
  const ep = (s: string) => {
    const i = s.lastIndexOf(":");
    return { addr: s.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(s.slice(i + 1)) };
  };
  return {
    index: 1,
    section: "detected",
    proto,
    protoName: String(proto),
    a: ep(a),
    b: ep(b),
    vlan: 0,
    appId: "7",
    app: "HTTP",
    masterApp: "HTTP",
    category: "Web",
    categoryId: 5,
    aToB: { packets: aToB[0], bytes: aToB[1] },
    bToA: { packets: bToA[0], bytes: bToA[1] },
    raw: "",
    ...extra,
  };
}

function ourFlow(
  proto: number,
  src: string,
  dst: string,
  srcToDstPackets: number,
  dstToSrcPackets: number,
  extra: Partial<OurFlow> = {},
): OurFlow {
  const ep = (s: string) => {
    const i = s.lastIndexOf(":");
    return [s.slice(0, i).replace(/^\[|\]$/g, ""), Number(s.slice(i + 1))] as const;
  };
  const [srcAddr, srcPort] = ep(src);
  const [dstAddr, dstPort] = ep(dst);
  return {
    srcAddr,
    srcPort,
    dstAddr,
    dstPort,
    proto,
    ipVersion: srcAddr.includes(":") ? 6 : 4,
    vlan: 0,
    firstSeenMs: 0,
    lastSeenMs: 0,
    srcToDstPackets,
    srcToDstBytes: 0,
    dstToSrcPackets,
    dstToSrcBytes: 0,
    srcTcpFlags: 0,
    dstTcpFlags: 0,
    l7: "HTTP",
    l7Category: "Web",
    srcRetransmits: 0,
    dstRetransmits: 0,
    srcOutOfOrder: 0,
    dstOutOfOrder: 0,
    endReason: "eof",
    communityId: "",
    ...extra,
  };
}

describe("compareFlows", () => {
  it("matches identical flow sets", () => {
    const c = compareFlows(
      [ndpiFlow(6, "10.0.0.1:1234", "10.0.0.2:80", [3, 300], [2, 200])],
      [ourFlow(6, "10.0.0.1:1234", "10.0.0.2:80", 3, 2, { wireBytes: { srcToDst: 300, dstToSrc: 200 } })],
    );
    assert.equal(c.matched.length, 1);
    assert.equal(c.matched[0]?.reversed, false);
    assert.equal(c.bytesCompared, 1);
    assert.equal(c.sameFlows, true);
    assert.equal(c.appAgreement, 1);
    assert.equal(c.format().split("\n").length, 1);
    assert.match(c.format(), /1 matched, 0 only in ndpiReader, 0 only ours/);
  });

  it("aligns directions when our src is ndpiReader's b", () => {
    const c = compareFlows(
      [ndpiFlow(17, "10.0.0.2:53", "10.0.0.1:5353", [1, 90], [4, 400])],
      [ourFlow(17, "10.0.0.1:5353", "10.0.0.2:53", 4, 1, { wireBytes: { srcToDst: 400, dstToSrc: 90 } })],
    );
    assert.equal(c.matched.length, 1);
    assert.equal(c.matched[0]?.reversed, true);
    assert.deepEqual(c.packetMismatches, []);
    assert.deepEqual(c.byteMismatches, []);
    assert.equal(c.sameFlows, true);
  });

  it("reports packet mismatches per direction, in our orientation", () => {
    const c = compareFlows(
      [ndpiFlow(6, "10.0.0.2:80", "10.0.0.1:1234", [5, 500], [3, 300])],
      [ourFlow(6, "10.0.0.1:1234", "10.0.0.2:80", 2, 5)],
    );
    assert.equal(c.packetMismatches.length, 1);
    const m = c.packetMismatches[0];
    assert.equal(m?.direction, "srcToDst");
    assert.equal(m?.ours, 2);
    assert.equal(m?.ndpi, 3);
    assert.equal(m?.tuple, "TCP 10.0.0.1:1234 -> 10.0.0.2:80");
    assert.equal(c.sameFlows, false);
    assert.match(c.format(), /^packets: TCP 10\.0\.0\.1:1234 -> 10\.0\.0\.2:80: src->dst ours 2, ndpiReader 3$/m);
  });

  it("compares wire bytes only when our flow carries them", () => {
    const ndpi = [
      ndpiFlow(6, "10.0.0.1:1", "10.0.0.2:80", [1, 60], [1, 1514]),
      ndpiFlow(6, "10.0.0.1:2", "10.0.0.2:80", [1, 60], [1, 1514]),
    ];
    const c = compareFlows(ndpi, [
      ourFlow(6, "10.0.0.1:1", "10.0.0.2:80", 1, 1, { wireBytes: { srcToDst: 60, dstToSrc: 1510 } }),
      ourFlow(6, "10.0.0.1:2", "10.0.0.2:80", 1, 1, { srcToDstBytes: 46, dstToSrcBytes: 1500 }),
    ]);
    assert.equal(c.bytesCompared, 1);
    assert.equal(c.byteMismatches.length, 1);
    assert.equal(c.byteMismatches[0]?.direction, "dstToSrc");
    assert.equal(c.byteMismatches[0]?.ours, 1510);
    assert.equal(c.byteMismatches[0]?.ndpi, 1514);
    assert.deepEqual(c.packetMismatches, []);
    assert.match(c.format(), /^wire bytes: TCP 10\.0\.0\.1:1 -> 10\.0\.0\.2:80: dst->src ours 1510, ndpiReader 1514$/m);
  });

  it("reports app and category mismatches and the app agreement", () => {
    const c = compareFlows(
      [
        ndpiFlow(6, "10.0.0.1:1", "10.0.0.2:443", [1, 1], [1, 1], { app: "TLS.ntop", category: "Network" }),
        ndpiFlow(6, "10.0.0.1:2", "10.0.0.2:443", [1, 1], [1, 1], { app: "TLS", category: "Web" }),
      ],
      [
        ourFlow(6, "10.0.0.1:1", "10.0.0.2:443", 1, 1, { l7: "TLS", l7Category: "Web" }),
        ourFlow(6, "10.0.0.1:2", "10.0.0.2:443", 1, 1, { l7: "TLS", l7Category: "Web" }),
      ],
    );
    assert.equal(c.appAgreement, 0.5);
    assert.equal(c.appMismatches.length, 1);
    assert.equal(c.appMismatches[0]?.ours, "TLS");
    assert.equal(c.appMismatches[0]?.ndpi, "TLS.ntop");
    assert.equal(c.categoryMismatches.length, 1);
    assert.equal(c.sameFlows, true, "labels do not make flows differ");
    assert.match(c.format(), /^app: TCP 10\.0\.0\.1:1 -> 10\.0\.0\.2:443: ours "TLS", ndpiReader "TLS\.ntop"$/m);
    assert.match(c.format(), /app agreement 50\.0% \(1\/2\)/);
  });

  it("reports flows on one side only; VLAN and protocol are part of the key", () => {
    const c = compareFlows(
      [
        ndpiFlow(17, "10.0.0.1:1", "10.0.0.2:53", [1, 80], [0, 0], { vlan: 10 }),
        ndpiFlow(6, "10.0.0.1:1", "10.0.0.2:53", [1, 80], [0, 0]),
      ],
      [ourFlow(17, "10.0.0.1:1", "10.0.0.2:53", 1, 0, { vlan: 11 }), ourFlow(17, "10.0.0.1:1", "10.0.0.2:53", 1, 0)],
    );
    assert.equal(c.matched.length, 0);
    assert.equal(c.onlyNdpi.length, 2);
    assert.equal(c.onlyOurs.length, 2);
    const text = c.format();
    assert.match(text, /^only ndpiReader: UDP 10\.0\.0\.1:1 -> 10\.0\.0\.2:53 vlan 10 \[HTTP\] 1 pkts\/80 bytes -> 0/m);
    assert.match(text, /^only ndpiReader: TCP 10\.0\.0\.1:1 -> 10\.0\.0\.2:53 \[HTTP\]/m);
    assert.match(text, /^only ours: UDP 10\.0\.0\.1:1 -> 10\.0\.0\.2:53 vlan 11 \[HTTP\]/m);
    assert.match(text, /^only ours: UDP 10\.0\.0\.1:1 -> 10\.0\.0\.2:53 \[HTTP\]/m);
    assert.equal(text.split("\n").length, 5);
  });

  it("matches duplicate 5-tuples in order of appearance instead of collapsing them", () => {
    const ndpi = [
      ndpiFlow(6, "10.0.0.1:1000", "10.0.0.2:80", [10, 1000], [8, 800]),
      ndpiFlow(6, "10.0.0.1:1000", "10.0.0.2:80", [3, 300], [2, 200]),
    ];
    // Ours in another order: exact packet agreement wins over position.
    const ours = [ourFlow(6, "10.0.0.1:1000", "10.0.0.2:80", 3, 2), ourFlow(6, "10.0.0.1:1000", "10.0.0.2:80", 10, 8)];
    const c = compareFlows(ndpi, ours);
    assert.equal(c.matched.length, 2);
    assert.deepEqual(c.packetMismatches, []);
    assert.equal(c.matched[0]?.ndpi, ndpi[0]);
    assert.equal(c.matched[0]?.ours, ours[1]);

    // Without exact agreement, pairs follow the order of appearance; extra flows stay unmatched.
    const ours2 = [
      ourFlow(6, "10.0.0.2:80", "10.0.0.1:1000", 9, 10),
      ourFlow(6, "10.0.0.1:1000", "10.0.0.2:80", 4, 2),
      ourFlow(6, "10.0.0.1:1000", "10.0.0.2:80", 1, 1),
    ];
    const c2 = compareFlows(ndpi, ours2);
    assert.equal(c2.matched.length, 2);
    assert.equal(c2.matched[0]?.ours, ours2[0]);
    assert.equal(c2.matched[0]?.reversed, true);
    assert.equal(c2.matched[1]?.ours, ours2[1]);
    assert.deepEqual(c2.onlyOurs, [ours2[2]]);
    assert.deepEqual(
      c2.packetMismatches.map((m) => [m.direction, m.ours, m.ndpi]),
      [
        ["srcToDst", 9, 8],
        ["srcToDst", 4, 3],
      ],
    );
  });

  it("ignores ports of portless protocols and IPv6 spelling differences", () => {
    const c = compareFlows(
      [
        ndpiFlow(1, "192.168.154.131:0", "192.168.154.132:0", [448, 98566], [415, 92244], { app: "ICMP" }),
        ndpiFlow(6, "[2001:db8::1]:443", "[2001:db8::2]:5000", [2, 200], [1, 100]),
      ],
      [
        ourFlow(1, "192.168.154.131:0", "192.168.154.132:2048", 448, 415, { l7: "ICMP" }),
        ourFlow(6, "[2001:DB8:0::2]:5000", "[2001:db8:0:0:0:0:0:1]:443", 1, 2),
      ],
    );
    assert.equal(c.matched.length, 2);
    assert.equal(c.matched[1]?.reversed, true);
    assert.equal(c.sameFlows, true);
  });
});

const noNdpiReader = ndpiReaderAvailable() ? false : "ndpiReader not installed (Debian libndpi-bin)";

describe("runNdpiReader", () => {
  it("parses the flow of 443-curl.pcap", { skip: noNdpiReader }, async () => {
    const r = await runNdpiReader(`${PCAPS}/443-curl.pcap`);
    assert.deepEqual(r.unparsed, []);
    assert.deepEqual(r.diagnostics, []);
    assert.equal(r.complete, true);
    assert.match(r.version ?? "", /^4\./);
    assert.equal(r.stats?.ipPackets, 109);
    assert.equal(r.stats?.totalPackets, 109);
    assert.equal(r.stats?.uniqueFlows, 1);
    assert.equal(r.flows.length, 1);
    const f = r.flows[0];
    assert.ok(f);
    assert.equal(f.proto, 6);
    assert.deepEqual(f.a, { addr: "192.168.1.13", port: 55523 });
    assert.deepEqual(f.b, { addr: "178.62.197.130", port: 443 });
    assert.equal(f.app, "TLS.ntop");
    assert.equal(f.category, "Network");
    assert.deepEqual(f.aToB, { packets: 51, bytes: 4260 });
    assert.deepEqual(f.bToA, { packets: 58, bytes: 69722 });
    assert.equal(f.hostname, "www.ntop.org");
    // ndpiReader's bytes are frame bytes: their sum is the capture's IP bytes statistic (frame lengths).
    assert.equal(f.aToB.bytes + f.bToA.bytes, r.stats?.ipBytes);
  });

  it("reports captures ndpiReader 4.2 skips", { skip: noNdpiReader }, async (t) => {
    const file = `${PCAPS}/someip_sd_sample.pcap`;
    if (!existsSync(file)) return t.skip(`${file} missing`);
    const r = await runNdpiReader(file);
    assert.equal(r.complete, false);
    assert.equal(r.flows.length, 0);
    assert.match(r.diagnostics.join("\n"), /Unsupported datalink 192/);
  });

  it("fails on a capture it cannot open", { skip: noNdpiReader }, async () => {
    await assert.rejects(runNdpiReader(`${PCAPS}/does-not-exist.pcap`), /ENOENT/);
    await assert.rejects(runNdpiReader("/tmp/a,b.pcap"), /list separator/);
  });
});
