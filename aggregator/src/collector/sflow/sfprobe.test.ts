// Live: pmacct's sfprobe (Debian pmacct, pmacctd with the sfprobe plugin) samples a real capture
// and sends sFlow v5 to the collector listening on loopback, while tcpdump records the same
// datagrams. The aggregator's totals for the exporter must equal what tshark reads in that
// recording: datagrams, flow samples, packets (sum of sampling rates) and IP bytes (sum of
// sampling rate x sampled IP length), with no datagram lost by sequence numbers.
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { haveCommand, makeTempDir, removeTempDir, repoRoot } from "@flowlens/testkit";
import { SequenceDeduper } from "../../ingest/dedupe.js";
import { IngestPipeline } from "../../ingest/pipeline.js";
import { LocalNetworks } from "../../networks.js";
import { defaultStateConfig, LiveState } from "../../state/live-state.js";
import { CollectorListener } from "../listener.js";
import { NetflowDecoder } from "../netflow/decoder.js";
import { SflowDecoder } from "./decoder.js";
import { headerDecoderError } from "./headers.js";

const capture = join(repoRoot, "../shared/testdata/pcaps/ndpi/1kxun.pcap");
const skip = !haveCommand("pmacctd")
  ? "pmacctd (Debian pmacct) is not installed"
  : !haveCommand("tcpdump") || !haveCommand("tshark")
    ? "tcpdump and tshark are needed"
    : process.getuid?.() !== 0
      ? "tcpdump on lo needs root"
      : !existsSync(capture)
        ? `${capture} is missing`
        : headerDecoderError() || false;

type Json = { [k: string]: Json } | Json[] | string;

function obj(j: Json | undefined): Record<string, Json> {
  return j && typeof j === "object" && !Array.isArray(j) ? (j as Record<string, Json>) : {};
}

function num(j: Json | undefined): number {
  return Number(Array.isArray(j) ? j[0] : j);
}

/** What tshark reads in the recorded datagrams. */
function reference(
  pcap: string,
  port: number,
): {
  datagrams: number;
  sequences: number[];
  samples: number;
  ipSamples: number;
  packets: number;
  bytes: number;
} {
  const out = execFileSync(
    "tshark",
    ["-r", pcap, "-d", `udp.port==${port},sflow`, "-T", "json", "--no-duplicate-keys"],
    {
      encoding: "utf8",
      maxBuffer: 256 << 20,
      stdio: ["ignore", "pipe", "ignore"],
    },
  );
  const frames = JSON.parse(out) as Array<{ _source: { layers: Record<string, Json> } }>;
  const r = { datagrams: 0, sequences: [] as number[], samples: 0, ipSamples: 0, packets: 0, bytes: 0 };
  for (const f of frames) {
    const sf = obj(f._source.layers.sflow);
    r.datagrams++;
    r.sequences.push(num(sf["sflow_245.sequence_number"]));
    for (const [key, v] of Object.entries(sf)) {
      if (!/flow sample/i.test(key)) continue;
      const s = obj(v);
      r.samples++;
      const rate = num(s["sflow.flow_sample.sampling_rate"]);
      const tree = obj(obj(s["Raw packet header"])["sflow_245.header_tree"]);
      const ip = obj(tree.ip);
      const ip6 = obj(tree.ipv6);
      const len =
        ip["ip.len"] !== undefined
          ? num(ip["ip.len"])
          : ip6["ipv6.plen"] !== undefined
            ? num(ip6["ipv6.plen"]) + 40
            : -1;
      if (len < 0) continue;
      r.ipSamples++;
      r.packets += rate;
      r.bytes += rate * len;
    }
  }
  return r;
}

function waitExit(p: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) resolve();
    else p.once("exit", () => resolve());
  });
}

describe("sFlow from pmacct's sfprobe", { skip }, () => {
  const dir = skip ? "" : makeTempDir("flowlens-sfprobe-");
  after(() => {
    if (dir) removeTempDir(dir);
  });

  it("aggregator totals for the agent equal tshark's reading of what sfprobe sent", async () => {
    const state = new LiveState(defaultStateConfig(), new LocalNetworks([]));
    const sflow = new SflowDecoder();
    const listener = new CollectorListener(
      { host: "127.0.0.1", ports: [0], recvBufferBytes: 8 << 20 },
      new NetflowDecoder(),
      new IngestPipeline(state, new SequenceDeduper()).collected,
      Date.now,
      {
        decoder: sflow,
        counters: (samples) => {
          for (const c of samples) state.applyInterfaceCounters(c.exporter, c.ifIndex, c.counters);
        },
        loss: (exporter, lost) => state.applyExporterLoss(exporter, lost),
      },
    );
    const [port] = await listener.start();
    assert.ok(port);
    const pcap = join(dir, "sflow.pcap");
    const tcpdump = spawn("tcpdump", ["-i", "lo", "-n", "-U", "-w", pcap, "udp", "and", "dst", "port", String(port)], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    try {
      let log = "";
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`tcpdump did not start: ${log}`)), 10_000);
        tcpdump.stderr?.on("data", (b: Buffer) => {
          log += b.toString();
          if (log.includes("listening on")) {
            clearTimeout(t);
            resolve();
          }
        });
        tcpdump.once("exit", () => reject(new Error(`tcpdump exited: ${log}`)));
      });
      const conf = join(dir, "sfprobe.conf");
      writeFileSync(
        conf,
        [
          "daemonize: false",
          "plugins: sfprobe",
          `sfprobe_receiver: 127.0.0.1:${port}`,
          "sfprobe_agentip: 192.0.2.77",
          "sfprobe_agentsubid: 5",
          "sampling_rate: 3",
          `pcap_savefile: ${capture}`,
          "",
        ].join("\n"),
      );
      const pm = spawnSync("pmacctd", ["-f", conf], { encoding: "utf8", timeout: 60_000 });
      assert.match(pm.stdout + pm.stderr, /Sampling at: 1\/3/, pm.stdout + pm.stderr);
      // Let the last datagrams land, then finish the recording.
      let last = -1;
      for (let i = 0; i < 50 && listener.stats().sflowDatagrams !== last; i++) {
        last = listener.stats().sflowDatagrams;
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      tcpdump.kill("SIGINT");
      await waitExit(tcpdump);
      await listener.stop();
    }
    const want = reference(pcap, port);
    const s = listener.stats();
    assert.ok(want.datagrams > 10 && want.ipSamples > 100, JSON.stringify(want));
    assert.equal(s.sflowDatagrams, want.datagrams);
    assert.equal(s.socketDrops, 0);
    assert.equal(s.records, want.ipSamples, JSON.stringify(s.sflowErrors));
    // Samples of non-IP frames (ARP, ...) are counted by the probe decoder's reason.
    assert.equal(
      Object.entries(s.sflowErrors)
        .filter(([k]) => k.startsWith("header_"))
        .reduce((a, [, n]) => a + n, 0),
      want.samples - want.ipSamples,
    );
    const exporter = state.exporters().find((e) => e.exporter === "192.0.2.77");
    assert.ok(exporter, JSON.stringify(state.exporters()));
    assert.equal(exporter.packets, want.packets);
    assert.equal(exporter.bytes, want.bytes);
    assert.deepEqual(exporter.exportVersions, ["sflow5"]);
    // sfprobe numbers its datagrams 1, 2, 3...: nothing lost on loopback, and the tracker agrees.
    const sorted = [...want.sequences].sort((a, b) => a - b);
    assert.equal((sorted.at(-1) as number) - (sorted[0] as number) + 1, want.datagrams);
    assert.equal(s.sflowDatagramsLost, 0);
    assert.equal(exporter.datagramsLost ?? 0, 0);
    console.log(`sfprobe: ${JSON.stringify(want)}; listener ${JSON.stringify({ ...s, decodeErrors: undefined })}`);
  });
});
