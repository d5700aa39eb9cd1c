import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot } from "@flowlens/testkit";
import { communityId, flowCommunityId, icmpCounterpart, sha1Short } from "./community-id.js";

const ZEEK = join(repoRoot, "../shared/testdata/pcaps/zeek");

const SIP4 = "1.2.3.4";
const DIP4 = "5.6.7.8";
const SIP6 = "fe80:0001:0203:0405:0607:0809:0A0B:0C0D".toLowerCase();
const DIP6 = "fe80:1011:1213:1415:1617:1819:1A1B:1C1D".toLowerCase();

// corelight/community-id-spec baseline/README.md tables and baseline_deflt.json, the same
// vectors agent/native/test/community_id_test.c checks the C implementation against.
const SPEC: [number, string, string, number, number, number, string][] = [
  [6, SIP4, DIP4, 1122, 3344, 0, "1:wCb3OG7yAFWelaUydu0D+125CLM="],
  [6, DIP4, SIP4, 3344, 1122, 0, "1:wCb3OG7yAFWelaUydu0D+125CLM="],
  [17, SIP4, DIP4, 1122, 3344, 0, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="],
  [17, DIP4, SIP4, 3344, 1122, 0, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="],
  [132, SIP4, DIP4, 1122, 3344, 0, "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8="],
  [132, DIP4, SIP4, 3344, 1122, 0, "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8="],
  [1, SIP4, DIP4, 8, 0, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="],
  [1, DIP4, SIP4, 0, 0, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="],
  [1, SIP4, DIP4, 11, 0, 0, "1:f/YiSyWqczrTgfUCZlBUnvHRcPk="],
  [58, SIP6, DIP6, 128, 0, 0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="],
  [58, DIP6, SIP6, 129, 0, 0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="],
  [58, SIP6, DIP6, 146, 0, 0, "1:fYC8+pz24E+EhANP1EZhpX0Dw10="],
  [46, SIP4, DIP4, 0, 0, 0, "1:ikv3kmf89luf73WPz1jOs49S768="],
  [46, DIP4, SIP4, 1234, 5678, 0, "1:ikv3kmf89luf73WPz1jOs49S768="],
  [46, SIP6, DIP6, 0, 0, 0, "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0="],
  [46, DIP6, SIP6, 0, 0, 0, "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0="],
  [6, SIP4, DIP4, 1122, 3344, 1, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="],
  [17, DIP4, SIP4, 3344, 1122, 1, "1:OShq+iKDAMVouh/4bMxB9Sz4amw="],
  [132, SIP4, DIP4, 1122, 3344, 1, "1:uitchpn5MMGAQKBJh7bIr/bAr7s="],
  [1, DIP4, SIP4, 0, 0, 1, "1:9pr4ZGTICiuZoIh90RRYE2RyXpU="],
  [1, SIP4, DIP4, 11, 0, 1, "1:1DD7cWGC/Yg91YGsQeni8du3pIA="],
  [58, DIP6, SIP6, 129, 0, 1, "1:IO27GQzPuCtNnwFvjWALMHu5tJE="],
  [58, SIP6, DIP6, 146, 0, 1, "1:Cv4IKJe56BNkF0MBW2YxQ3Nwc3s="],
  [46, DIP4, SIP4, 0, 0, 1, "1:/buhqeOmaRCopOZFy9HnoJd5XW8="],
  [46, SIP6, DIP6, 0, 0, 1, "1:j6EyyfBzL4vWKHFXgUqb5Az3OxM="],
  [58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 136, 0, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="],
  [58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 136, 135, 0, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="],
  [58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 135, 136, 0, "1:zavyT/cezQr1fmImYCwYnMXbgck="],
  [
    58,
    "3ffe:501:410:0:2c0:dfff:fe47:33e",
    "3ffe:507:0:1:200:86ff:fe05:80da",
    1,
    4,
    0,
    "1:hLZd0XGWojozrvxqE0dWB1iM6R0=",
  ],
  [58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", 129, 128, 0, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg="],
  [58, "fe80::260:97ff:fe07:69ea", "ff02::1", 134, 133, 0, "1:pkvHqCL88/tg1k4cPigmZXUtL00="],
  [1, "192.168.0.1", "192.168.0.89", 0, 8, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="],
  [1, "10.0.0.1", "10.0.0.2", 11, 0, 0, "1:YHxtAirCG//0OzkcVAukqKQN9xM="],
  [
    6,
    "2607:f8b0:400c:c03::1a",
    "2001:470:e5bf:dead:4957:2174:e82c:4887",
    25,
    63943,
    0,
    "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
  ],
  [132, "192.168.170.56", "192.168.170.8", 7, 7, 0, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="],
  [132, "192.168.170.8", "192.168.170.56", 7, 7, 0, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="],
  [17, "8.8.8.8", "192.168.1.52", 53, 54585, 0, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="],
  [46, "10.1.12.2", "10.1.12.1", 0, 0, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="],
];

test("community id: spec vectors", () => {
  for (const [proto, s, d, sp, dp, seed, want] of SPEC) {
    assert.equal(communityId(s, d, proto, sp, dp, seed), want, `${proto} ${s}:${sp} -> ${d}:${dp} seed ${seed}`);
  }
});

test("community id: mismatched or invalid address families give no id", () => {
  assert.equal(communityId("1.2.3.4", "::1", 6, 1, 2), "");
  assert.equal(communityId("not-an-ip", "1.2.3.4", 6, 1, 2), "");
});

test("community id: IPv4-mapped IPv6 text hashes as the 16-byte address", () => {
  // ::ffff:1.2.3.4 and its hex form are the same address and must hash the same.
  assert.equal(communityId("::ffff:1.2.3.4", "::1", 6, 1, 2), communityId("::ffff:102:304", "::1", 6, 1, 2));
  assert.notEqual(communityId("::ffff:1.2.3.4", "::1", 6, 1, 2), "");
});

test("community id: ICMP request/reply pairs hash equally, one-way types do not flip", () => {
  for (const [proto, s, d] of [
    [1, SIP4, DIP4],
    [58, SIP6, DIP6],
  ] as const) {
    for (let type = 0; type < 256; type++) {
      const peer = icmpCounterpart(proto, type);
      if (peer >= 0) {
        assert.equal(communityId(s, d, proto, type, 0), communityId(d, s, proto, peer, 0), `${proto}/${type}`);
      } else {
        assert.notEqual(communityId(s, d, proto, type, 0), communityId(d, s, proto, type, 0), `${proto}/${type}`);
      }
    }
  }
});

test("sha1Short: FIPS 180 examples and node:crypto on every one-block length", () => {
  assert.equal(Buffer.from(sha1Short(new Uint8Array())).toString("hex"), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  assert.equal(
    Buffer.from(sha1Short(new TextEncoder().encode("abc"))).toString("hex"),
    "a9993e364706816aba3e25717850c26c9cd0d89d",
  );
  let x = 2463534242;
  for (let len = 0; len <= 55; len++) {
    const msg = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      msg[i] = x & 0xff;
    }
    assert.equal(
      Buffer.from(sha1Short(msg)).toString("hex"),
      createHash("sha1").update(msg).digest("hex"),
      `length ${len}`,
    );
  }
});

const zeekFiles = ["tcp", "udp", "icmp", "icmp6", "ipv6", "sctp"].map((n) =>
  join(ZEEK, `communityid_${n}.pcap.community-id.out`),
);

test("community id: Zeek baselines", {
  skip: zeekFiles.every(existsSync) ? false : "Zeek community-id baselines not in ../shared/testdata",
}, () => {
  // [orig_h=A, orig_p=N/x, resp_h=B, resp_p=N/x, proto=P, ctx=[]], 1:HASH
  // For paired ICMP types Zeek writes the counterpart type as resp_p; as a code it is ignored.
  const re = /orig_h=([^,]+), orig_p=(\d+)\/\w+, resp_h=([^,]+), resp_p=(\d+)\/\w+, proto=(\d+).*\]\], (\S+)/;
  for (const file of zeekFiles) {
    let n = 0;
    for (const line of readFileSync(file, "utf8").split("\n")) {
      if (!line || line.startsWith("#")) continue;
      const m = re.exec(line);
      assert.ok(m, `unparsed line in ${file}: ${line}`);
      const [, oh, op, rh, rp, proto, want] = m;
      assert.equal(
        communityId(oh as string, rh as string, Number(proto), Number(op), Number(rp)),
        want,
        `${file}: ${line}`,
      );
      n++;
    }
    assert.ok(n > 0, `no flows in ${file}`);
  }
});

test("flowCommunityId reads ICMP type and code from dstPort, ports otherwise", () => {
  const tuple = { srcAddr: SIP4, dstAddr: DIP4, proto: 6, srcPort: 1122, dstPort: 3344 };
  assert.equal(flowCommunityId(tuple), "1:wCb3OG7yAFWelaUydu0D+125CLM=");
  // Echo request (8/0) from SIP4: type*256+code in dstPort, srcPort 0.
  assert.equal(flowCommunityId({ ...tuple, proto: 1, srcPort: 0, dstPort: 8 * 256 }), "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=");
  assert.equal(
    flowCommunityId({ srcAddr: SIP6, dstAddr: DIP6, proto: 58, srcPort: 0, dstPort: 146 * 256 }),
    "1:fYC8+pz24E+EhANP1EZhpX0Dw10=",
  );
  assert.equal(flowCommunityId({ ...tuple, dstAddr: DIP6 }), "");
});
