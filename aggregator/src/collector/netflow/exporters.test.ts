// Real exporters against the decoder: softflowd and pmacct's nfprobe read a capture and send
// NetFlow v5/v9/IPFIX to a UDP socket of this test on 127.0.0.1; what we decode must add up
// to the exporter's own accounting (softflowd's exit statistics, pmacct's print plugin fed by
// the same packets), per protocol, raw and sampling-scaled.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import dgram from "node:dgram";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { pb } from "@flowlens/contracts";
import { haveCommand, makeTempDir, removeTempDir, repoRoot } from "@flowlens/testkit";
import { NetflowDecoder } from "./decoder.js";

const PCAPS = join(repoRoot, "../shared/testdata/pcaps");
const KXUN = join(PCAPS, "ndpi/1kxun.pcap");
const NETFLIX = join(PCAPS, "ndpi/netflix.pcap");

interface Run {
  datagrams: Buffer[];
  output: string;
}

/** Starts an exporter that sends to a fresh UDP socket on 127.0.0.1, collects until it exits. */
async function export_(cmd: string, args: (port: number) => string[], timeoutMs: number): Promise<Run> {
  const sock = dgram.createSocket("udp4");
  const datagrams: Buffer[] = [];
  sock.on("message", (m) => datagrams.push(m));
  await new Promise<void>((resolve) => sock.bind(0, "127.0.0.1", resolve));
  // The kernel buffer must hold a whole burst: the exporters send faster than we read at exit.
  sock.setRecvBufferSize(8 << 20);
  const child = spawn(cmd, args(sock.address().port), { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d: Buffer) => {
    output += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    output += d.toString();
  });
  const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
  await new Promise((resolve) => child.on("exit", resolve));
  clearTimeout(timer);
  // Datagrams sent just before exit may still be in the socket queue.
  await new Promise((resolve) => setTimeout(resolve, 300));
  sock.close();
  return { datagrams, output };
}

interface Totals {
  flows: pb.Flow[];
  byProto: Map<number, { bytes: bigint; packets: bigint }>;
  errors: Record<string, number>;
}

function decodeAll(datagrams: Buffer[]): Totals {
  const dec = new NetflowDecoder({}, () => 0);
  const flows: pb.Flow[] = [];
  const errors: Record<string, number> = {};
  for (const d of datagrams) {
    const r = dec.decode(d, "127.0.0.1", 0);
    flows.push(...r.flows);
    for (const [k, n] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + (n ?? 0);
  }
  assert.equal(dec.internalErrorCount, 0, String(dec.lastInternalError));
  const byProto = new Map<number, { bytes: bigint; packets: bigint }>();
  for (const f of flows) {
    const t = byProto.get(f.proto) ?? { bytes: 0n, packets: 0n };
    t.bytes += f.rawBytes;
    t.packets += f.rawPackets;
    byProto.set(f.proto, t);
  }
  return { flows, byProto, errors };
}

/** softflowd's exit statistics: "Flows exported: F (R records) in P packets" and per protocol. */
function softflowdStats(out: string) {
  const m = /Flows exported: (\d+) \((\d+) records\) in (\d+) packets/.exec(out);
  assert.ok(m, `no export statistics in softflowd's output:\n${out}`);
  const byProto = new Map<number, { bytes: bigint; packets: bigint }>();
  for (const p of out.matchAll(/^\s*\w+ \((\d+)\):\s+(\d+)\s+(\d+)\s/gm)) {
    byProto.set(Number(p[1]), { bytes: BigInt(p[2] as string), packets: BigInt(p[3] as string) });
  }
  return { flows: Number(m[1]), records: Number(m[2]), datagrams: Number(m[3]), byProto };
}

const softflowdSkip = !haveCommand("softflowd")
  ? "softflowd is not installed"
  : existsSync(KXUN)
    ? false
    : `${KXUN} is missing`;

describe("softflowd -> decoder", { skip: softflowdSkip }, () => {
  const tmp = softflowdSkip ? "" : makeTempDir("softflowd");
  after(() => {
    if (tmp) removeTempDir(tmp);
  });
  const cases: { name: string; args: string[]; sampling?: number; biflow?: boolean }[] = [
    { name: "NetFlow v5", args: ["-v", "5"] },
    { name: "NetFlow v9 (IPv4 and IPv6)", args: ["-v", "9", "-6"] },
    { name: "IPFIX (IPv4 and IPv6)", args: ["-v", "10", "-6"] },
    { name: "IPFIX biflows (RFC 5103 reverse elements)", args: ["-v", "10", "-6", "-b"], biflow: true },
    { name: "NetFlow v9 sampled 1 in 10 (options template)", args: ["-v", "9", "-s", "10"], sampling: 10 },
    { name: "IPFIX sampled 1 in 10 (options template)", args: ["-v", "10", "-s", "10"], sampling: 10 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const run = await export_(
        "softflowd",
        (port) => [
          "-r",
          KXUN,
          "-n",
          `127.0.0.1:${port}`,
          "-d",
          "-c",
          "none",
          "-p",
          join(tmp, "softflowd.pid"),
          ...c.args,
        ],
        60_000,
      );
      const want = softflowdStats(run.output);
      assert.equal(run.datagrams.length, want.datagrams, "datagrams received");
      const got = decodeAll(run.datagrams);
      assert.deepEqual(got.errors, {});
      assert.equal(got.flows.length, want.records, "records");
      assert.deepEqual(got.byProto, want.byProto, "raw bytes and packets per protocol");
      const rate = BigInt(c.sampling ?? 1);
      for (const f of got.flows) {
        assert.equal(f.samplingRate, rate);
        assert.equal(f.srcToDstBytes + f.dstToSrcBytes, f.rawBytes * rate);
        assert.equal(f.srcToDstPackets + f.dstToSrcPackets, f.rawPackets * rate);
        assert.notEqual(f.communityId, "");
      }
      const reverse = got.flows.filter((f) => f.dstToSrcPackets > 0n).length;
      if (c.biflow) {
        assert.equal(got.flows.length, want.flows, "one record per biflow");
        assert.ok(reverse > got.flows.length / 4, `${reverse} flows with a reverse direction`);
      } else {
        assert.equal(reverse, 0, "unidirectional records fill srcToDst only");
      }
    });
  }
});

const pmacctSkip = !haveCommand("pmacctd")
  ? "pmacctd (Debian pmacct) is not installed"
  : existsSync(NETFLIX)
    ? false
    : `${NETFLIX} is missing`;

describe("pmacct nfprobe -> decoder", { skip: pmacctSkip }, () => {
  const tmp = pmacctSkip ? "" : makeTempDir("pmacct");
  after(() => {
    if (tmp) removeTempDir(tmp);
  });
  for (const version of [9, 10]) {
    it(`pmacctd nfprobe, ${version === 9 ? "NetFlow v9" : "IPFIX"}, against its print plugin`, async () => {
      const conf = join(tmp, `pmacctd-${version}.conf`);
      const csv = join(tmp, `print-${version}.csv`);
      const run = await export_(
        "pmacctd",
        (port) => {
          // One core, two plugins fed the same packets: nfprobe exports, print keeps the totals.
          writeFileSync(
            conf,
            [
              "daemonize: false",
              `pcap_savefile: ${NETFLIX}`,
              "pcap_savefile_wait: false",
              // Let the plugins come up before the core reads: packets sent earlier are lost.
              "pcap_savefile_delay: 2",
              "plugin_pipe_size: 20480000",
              "plugin_buffer_size: 20480",
              "plugins: nfprobe[np], print[pr]",
              `nfprobe_receiver[np]: 127.0.0.1:${port}`,
              `nfprobe_version[np]: ${version}`,
              "aggregate[np]: src_host, dst_host, src_port, dst_port, proto, tos",
              "aggregate[pr]: proto",
              "print_output[pr]: csv",
              `print_output_file[pr]: ${csv}`,
              "print_refresh_time[pr]: 1",
              "",
            ].join("\n"),
          );
          return ["-f", conf];
        },
        60_000,
      );
      assert.ok(existsSync(csv), `no print output; pmacctd said:\n${run.output.slice(-2000)}`);
      const names: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, igmp: 2, ipv6_icmp: 58 };
      const want = new Map<number, { bytes: bigint; packets: bigint }>();
      for (const line of readFileSync(csv, "utf8").trim().split("\n").slice(1)) {
        const [proto, packets, bytes] = line.split(",");
        const p = names[proto as string] ?? Number(proto);
        want.set(p, { bytes: BigInt(bytes as string), packets: BigInt(packets as string) });
      }
      const got = decodeAll(run.datagrams);
      assert.deepEqual(got.errors, {});
      // pmacctd reading a file drops packets between its core and its plugins when the machine
      // is busy (both plugins then miss the same ones): the totals must agree, whatever part
      // of the capture made it through.
      assert.ok(
        got.flows.length > 0,
        `no flows; pmacctd said:
${run.output.slice(-1500)}`,
      );
      assert.deepEqual(got.byProto, want, "bytes and packets per protocol");
    });
  }
});
