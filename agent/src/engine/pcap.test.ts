// The flow engine on real captures: counts, directions, DPI, Community ID against Zeek's
// baselines, and bad input.
import assert from "node:assert/strict";
import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { makeTempDir, repoRoot } from "@flowlens/testkit";
import { nativeEngine } from "./native.js";
import { CaptureError, readPcap } from "./pcap.js";
import type { EngineFlow } from "./records.js";

const testdata = join(repoRoot, "../shared/testdata/pcaps");

async function flowsOf(file: string, opts: Partial<Parameters<typeof readPcap>[0]> = {}) {
  const flows: EngineFlow[] = [];
  const res = await readPcap({ files: [file], ...opts }, (b) => flows.push(...b));
  return { flows, ...res };
}

describe("readPcap", () => {
  it("turns a TLS session into one bidirectional flow with handshake latency and metadata", async () => {
    const { flows, stats } = await flowsOf(join(testdata, "ndpi/443-curl.pcap"));
    assert.equal(stats.packets, 109);
    assert.equal(flows.length, 1);
    const f = flows[0] as EngineFlow;
    assert.equal(`${f.srcAddr}:${f.srcPort}`, "192.168.1.13:55523", "the SYN sender is src");
    assert.equal(f.srcToDstPackets + f.dstToSrcPackets, 109);
    assert.equal(f.l7, "TLS.ntop");
    assert.equal(f.info?.sni, "www.ntop.org");
    assert.equal(f.endReason, "fin");
    assert.ok((f.serverNwLatencyUs ?? 0) > 0 && (f.clientNwLatencyUs ?? 0) > 0 && (f.applLatencyUs ?? 0) > 0);
    // IP bytes: every frame here is untagged Ethernet, 14 bytes of link header per packet
    // unless padded to the 60-byte minimum.
    assert.ok(f.wireBytes.srcToDst - f.srcToDstBytes >= 14 * f.srcToDstPackets);
  });

  it("keeps the outer VLAN of a tagged DNS exchange and names the DNS query", async () => {
    const { flows } = await flowsOf(join(testdata, "ndpi/dns.pcap"));
    const wa = flows.find((f) => f.info?.dnsQuery === "e7.whatsapp.net");
    assert.ok(wa, "the WhatsApp DNS flow");
    assert.notEqual(wa.vlan, 0);
    assert.equal(wa.info?.dnsRcode, 0);
  });

  it("classifies nothing and says Unknown with DPI off", async () => {
    const { flows } = await flowsOf(join(testdata, "ndpi/443-curl.pcap"), { dpi: false });
    assert.equal(flows[0]?.l7, "Unknown");
  });

  it("applies a BPF filter before decoding", async () => {
    const all = await flowsOf(join(testdata, "ndpi/dns.pcap"));
    const some = await flowsOf(join(testdata, "ndpi/dns.pcap"), { bpf: "vlan" });
    assert.ok(some.flows.length > 0 && some.flows.length < all.flows.length);
    await assert.rejects(
      readPcap({ files: [join(testdata, "ndpi/dns.pcap")], bpf: "not a filter (" }, () => {}),
      /bad BPF filter/,
    );
  });

  it("samples 1 in N packets and scales the counts back up", async () => {
    const { flows, stats } = await flowsOf(join(testdata, "ndpi/443-curl.pcap"), { sampling: 10 });
    assert.equal(stats.sampledOut, 109 - 11);
    const f = flows[0] as EngineFlow;
    assert.equal(f.samplingRate, 10);
    assert.equal((f.srcToDstPackets + f.dstToSrcPackets) % 10, 0);
  });

  it("bounds the table with maxFlows and counts evictions", async () => {
    const { flows, stats } = await flowsOf(join(testdata, "ndpi/1kxun.pcap"), { maxFlows: 4 });
    assert.ok(stats.flowsEvicted > 0);
    assert.ok(flows.some((f) => f.endReason === "evicted"));
    assert.equal(flows.length, stats.flowsCreated);
  });

  it("refuses a missing file, a non-capture and reports a truncated one after its flows", async () => {
    await assert.rejects(
      readPcap({ files: ["/nonexistent.pcap"] }, () => {}),
      CaptureError,
    );
    const dir = makeTempDir("pcap");
    const junk = join(dir, "junk.pcap");
    writeFileSync(junk, "this is not a capture\n");
    await assert.rejects(
      readPcap({ files: [junk] }, () => {}),
      /not a readable pcap/,
    );
    const trunc = join(dir, "trunc.pcap");
    writeFileSync(trunc, readFileSync(join(testdata, "ndpi/443-curl.pcap")).subarray(0, 3000));
    const { flows, error } = await flowsOf(trunc);
    assert.match(error ?? "", /truncated/);
    assert.equal(flows.length, 1, "flows read before the damage are still reported");
  });
});

describe("readPcap output", () => {
  it("hands each batch over for the call only, then takes the buffer back for the next", async () => {
    const kept: ArrayBuffer[] = [];
    let bytes = 0;
    await new Promise<void>((resolve) =>
      nativeEngine().readPcap(
        { files: [join(testdata, "ndpi/1kxun.pcap")], batchSize: 16 },
        (buffer) => {
          bytes += buffer.byteLength;
          kept.push(buffer);
        },
        () => resolve(),
      ),
    );
    assert.ok(kept.length > 2 && bytes > 0);
    assert.ok(
      kept.every((b) => b.byteLength === 0),
      "a batch buffer outlived its call",
    );
  });

  it("prints NDJSON into a Buffer per batch, one line per flow", async () => {
    const file = join(testdata, "ndpi/443-curl.pcap");
    let text = "";
    let count = 0;
    const { stats } = await readPcap({ files: [file], output: "ndjson" }, (buf, n) => {
      text += buf.toString("utf8");
      count += n;
    });
    assert.equal(count, stats.flowsExported);
    const lines = text.trimEnd().split("\n");
    assert.equal(lines.length, count);
    const [flow] = (await flowsOf(file)).flows;
    assert.equal(JSON.parse(lines[0] ?? "").communityId, flow?.communityId);
  });

  it("writes NDJSON to a file descriptor and stops reading when that fails", async () => {
    const file = join(testdata, "large/ndpi_concat_mix.pcap");
    const full = openSync("/dev/full", "w");
    try {
      let called = 0;
      const { stats } = await readPcap({ files: [file], output: "ndjson", fd: full, batchSize: 8 }, () => called++);
      assert.equal(stats.outputError?.code, "ENOSPC");
      assert.equal(called, 0, "nothing was written, so nothing was counted");
      const all = await readPcap({ files: [file], output: "ndjson", dpi: false }, () => {});
      assert.ok(stats.packets < all.stats.packets, `read ${stats.packets} of ${all.stats.packets} packets`);
    } finally {
      closeSync(full);
    }
    assert.throws(
      () =>
        nativeEngine().readPcap(
          { files: [file], fd: 1 } as never,
          () => {},
          () => {},
        ),
      /options.fd must be a file descriptor, with output "ndjson"/,
    );
  });
});

describe("Community ID", () => {
  // Zeek's baselines: `[orig_h=A, orig_p=P/tcp, resp_h=B, resp_p=Q/tcp, proto=6, ctx=[]], 1:...`
  for (const name of ["tcp", "udp", "icmp", "icmp6", "ipv6", "sctp"]) {
    it(`matches Zeek on communityid_${name}.pcap`, async () => {
      const base = join(testdata, `zeek/communityid_${name}.pcap`);
      const want = readFileSync(`${base}.community-id.out`, "utf8")
        .split("\n")
        .filter((l) => l.startsWith("["))
        .map((l) => {
          const m =
            /orig_h=([^,]+), orig_p=(\d+)\/\w+, resp_h=([^,]+), resp_p=(\d+)\/\w+, proto=(\d+).*\], (1:\S+)/.exec(l);
          assert.ok(m, `unparsable baseline line: ${l}`);
          return { a: m[1] as string, b: m[3] as string, proto: Number(m[5]), id: m[6] as string };
        });
      const { flows } = await flowsOf(base);
      for (const w of want) {
        const between = flows.filter(
          (f) =>
            f.proto === w.proto &&
            ((f.srcAddr === w.a && f.dstAddr === w.b) || (f.srcAddr === w.b && f.dstAddr === w.a)),
        );
        assert.ok(between.length > 0, `no flow ${w.a} <-> ${w.b} proto ${w.proto}`);
        const ids = between.map((f) => f.communityId);
        if (w.proto === 132) {
          // Zeek does not parse SCTP ports and hashes them as 0; the spec (and Suricata) hash the
          // real ports, as we do. Our flow must carry the ports Zeek left out.
          assert.ok(between.every((f) => f.srcPort !== 0 || f.dstPort !== 0));
          continue;
        }
        assert.ok(ids.includes(w.id), `${w.a} <-> ${w.b} proto ${w.proto}: want ${w.id}, have ${ids.join(", ")}`);
      }
    });
  }
});
