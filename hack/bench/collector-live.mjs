#!/usr/bin/env node
// The collector end to end: export datagrams replayed with tcpreplay as fast as it sends, to one
// receiver at a time on the same port and socket buffer: Flowlens's aggregator (UDP socket ->
// decoder -> live state) or the peer (nfcapd, nfdump's collector: decoder -> flow files; for
// sFlow, which Debian's nfdump does not collect, sfacctd, pmacct's: decoder -> its print
// plugin's cache). Both see the same offered load; what counts is the records each one took in
// per second of replay, and the datagrams the kernel dropped on its socket. The receiver's CPU
// time over the replay is printed too: on a shared 2-core machine tcpreplay and the kernel's
// delivery take much of it, and records per CPU-second says what the receiver would take in
// with a core of its own. The replay goes over a veth between two network namespaces of our
// own rather than lo: frames injected on lo with 127.0.0.1 addresses are dropped by the
// kernel's input routing before any socket sees them.
//
// The datagrams, per format:
// - ipfix: ipfixcol2's example capture from ../shared/testdata/flowexports (a real exporter);
// - v9: softflowd's NetFlow v9 export of ../shared/testdata/pcaps/ndpi/synscan.pcap (a real
//   exporter on a real capture; received on loopback once and cached as a pcap);
// - sflow: sFlow v5 flow samples of the frames of ../shared/testdata/pcaps/ndpi/1kxun.pcap, as
//   hack/bench/sflow-decode.mjs makes them (raw headers, 8 samples a datagram).
//
//   collector-live.mjs [ipfix|v9|sflow] flowlens|collect|peer [loops=400] [warm-up loops=loops/2, ours only]
//
// flowlens is the aggregator (collector and live state); collect is `flowlens collect --listen`,
// the collector on its own writing each record to a file, the same job as nfcapd's.
//
// (`nfcapd` is accepted for `peer`, and the format may be left out for ipfix, as before.) Needs
// root (tcpreplay) and `npx tsc -b`; v9 needs softflowd, sflow sfacctd. FLOWLENS_BENCH_PROF=DIR:
// the aggregator's CPU profile. The last stdout line is {"items": records received, "seconds":
// replay wall time} for hack/bench/run.mjs.
import { spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sumCsvColumn, writePrintConfig } from "./pmacct.mjs";
import { writeUdpPcap } from "./udp-pcap.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const { NetLab, removeStaleNamespaces } = await import(join(root, "testkit/dist/index.js"));
const testdata = join(root, "../shared/testdata");
const BUFFER = 4 * 1024 * 1024;
const HTTP_PORT = 3000;
const CACHE = join(tmpdir(), "flowlens-bench");

const FORMATS = {
  ipfix: { port: 4739, peer: "nfcapd", source: () => join(testdata, "flowexports/ipfixcol2/example_flows.ipfix.pcap") },
  v9: { port: 2055, peer: "nfcapd", source: () => softflowdV9() },
  sflow: { port: 6343, peer: "sfacctd", source: () => sflowSamples() },
};

const args = process.argv.slice(2);
const formatName = args[0] in FORMATS ? args.shift() : "ipfix";
const format = FORMATS[formatName];
const [sideArg = "flowlens", loopsArg = "400", warmArg] = args;
const side = sideArg === "flowlens" || sideArg === "collect" ? sideArg : format.peer;
if (sideArg !== "flowlens" && sideArg !== "collect" && sideArg !== "peer" && sideArg !== format.peer) {
  console.error(
    `collector-live: ${formatName}'s receivers are flowlens, collect and peer (${format.peer}), not ${sideArg}`,
  );
  process.exit(2);
}
const PORT = format.port;
const loops = Number(loopsArg);
/** Replay passes the aggregator gets before the measured ones (JIT warm-up); C peers need none. */
const warmLoops = Number(warmArg ?? Math.ceil(loops / 2));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function must(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: exit ${r.status}: ${r.stderr || r.error}`);
  return r.stdout;
}

/** softflowd's NetFlow v9 export of a real capture, received on loopback; cached as a pcap. */
async function softflowdV9() {
  const out = join(CACHE, "softflowd-v9-synscan.pcap");
  if (existsSync(out) && statSync(out).size > 0) return out;
  const socket = createSocket("udp4");
  const got = [];
  socket.on("message", (m) => got.push(new Uint8Array(m)));
  await new Promise((r) => socket.bind(0, "127.0.0.1", r));
  const exporter = spawn(
    "softflowd",
    [
      "-r",
      join(testdata, "pcaps/ndpi/synscan.pcap"),
      "-v",
      "9",
      "-n",
      `127.0.0.1:${socket.address().port}`,
      "-c",
      "none",
      "-d",
    ],
    { stdio: "ignore" },
  );
  const code = await new Promise((r) => exporter.on("exit", r));
  await sleep(300); // the last datagrams in flight
  socket.close();
  if (code !== 0 || got.length === 0) throw new Error(`softflowd: exit ${code}, ${got.length} datagrams`);
  writeUdpPcap(out, got, { dstPort: FORMATS.v9.port });
  return out;
}

/** The sFlow datagrams of hack/bench/sflow-decode.mjs as a pcap. */
function sflowSamples() {
  const out = join(CACHE, "sflow-1kxun.pcap");
  if (!existsSync(out) || statSync(out).size === 0)
    must(process.execPath, [join(root, "hack/bench/sflow-decode.mjs"), "write", out, "1"]);
  return out;
}

/** Records and datagrams in one pass of a capture, as `flowlens collect` decodes it. */
function perPass(file) {
  const r = spawnSync(process.execPath, [join(root, "cli/dist/main.js"), "collect", "--pcap", file], {
    encoding: "utf8",
    maxBuffer: 1 << 28,
  });
  const frames = /frames (\d+)/.exec(r.stderr);
  const records = /^records (\d+)/m.exec(r.stderr);
  if (r.status !== 0 || !frames || !records) throw new Error(`flowlens collect --pcap ${file}: ${r.stderr}`);
  return { datagrams: Number(frames[1]), records: Number(records[1]) };
}

/** The source rewritten for the veth: from tx to rx's address and MAC, checksums fixed. */
function replayFile(source, rxMac) {
  mkdirSync(CACHE, { recursive: true });
  const out = join(CACHE, `${formatName}-veth-${rxMac.replaceAll(":", "")}.pcap`);
  if (!existsSync(out) || statSync(out).size === 0) {
    must("tcprewrite", [
      `--infile=${source}`,
      `--outfile=${out}`,
      "--srcipmap=0.0.0.0/0:10.231.7.1/32",
      "--dstipmap=0.0.0.0/0:10.231.7.2/32",
      `--enet-dmac=${rxMac}`,
      "--fixcsum",
    ]);
  }
  return out;
}

/** The /proc/net/udp columns of rx's socket bound to PORT, if any. */
function udpSocket(rx) {
  const hex = `:${PORT.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const line of rx.exec("cat", ["/proc/net/udp"]).split("\n").slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols[1]?.endsWith(hex)) return cols;
  }
  return undefined;
}
/** Kernel drops of the socket (last column). */
const udpDrops = (rx) => Number(udpSocket(rx)?.at(-1) ?? 0);
/** Bytes waiting in the socket's receive queue (tx_queue:rx_queue, hex). */
const rxQueue = (rx) => Number.parseInt(udpSocket(rx)?.[4]?.split(":")[1] ?? "0", 16);

/** Waits until f() stops changing for quietMs. */
async function settle(f, quietMs = 700) {
  let last = await f();
  for (;;) {
    await sleep(quietMs);
    const now = await f();
    if (now === last) return now;
    last = now;
  }
}

async function waitFor(what, f, timeoutMs = 20_000) {
  const end = Date.now() + timeoutMs;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** tcpreplay at top speed from tx; its own elapsed time excludes preloading the file. */
function replay(tx, iface, file, loops) {
  // Not tx.exec: tcpreplay's output with many loops outgrows spawnSync's default buffer.
  const r = spawnSync(
    "ip",
    ["netns", "exec", tx.ns, "tcpreplay", `--intf1=${iface}`, "--topspeed", `--loop=${loops}`, "--preload-pcap", file],
    { encoding: "utf8", maxBuffer: 1 << 28, timeout: 600_000 },
  );
  if (r.status !== 0) throw new Error(`tcpreplay: exit ${r.status}: ${r.stderr || r.error}`);
  const out = r.stdout;
  const actual = /Actual: (\d+) packets \(\d+ bytes\) sent in ([\d.]+) seconds/.exec(out);
  if (!actual) throw new Error(`tcpreplay output not understood: ${out}`);
  return { sent: Number(actual[1]), seconds: Number(actual[2]) };
}

/** CPU seconds (user + system, all threads) a process has used, from /proc/PID/stat. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime, fields 14 and 15 of stat(5), in clock ticks (USER_HZ: 100 on Linux).
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** cpuSeconds of a process and its children (pmacct's core and its plugins). */
function treeCpuSeconds(pid) {
  let sum = cpuSeconds(pid);
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const children = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
    for (const c of children ? children.split(" ") : []) sum += treeCpuSeconds(Number(c));
  }
  return sum;
}

function metric(rx, name) {
  const text = rx.exec("curl", ["-sf", `http://127.0.0.1:${HTTP_PORT}/metrics`]);
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  if (!m) throw new Error(`metric ${name} missing`);
  return Number(m[1]);
}

async function flowlens(tx, rx, iface, file) {
  const prof = process.env.FLOWLENS_BENCH_PROF ? ["--cpu-prof", "--cpu-prof-dir", process.env.FLOWLENS_BENCH_PROF] : [];
  const p = rx.spawn("aggregator", process.execPath, [
    ...prof,
    join(root, "cli/dist/main.js"),
    "aggregator",
    "--grpc-address=",
    `--http-address=127.0.0.1:${HTTP_PORT}`,
    `--netflow-port=${formatName === "sflow" ? 0 : PORT}`,
    "--ipfix-port=0",
    `--sflow-port=${formatName === "sflow" ? PORT : 0}`,
    "--collector-address=0.0.0.0",
    `--collector-buffer=${BUFFER}`,
  ]);
  try {
    await waitFor("aggregator ready", () => {
      try {
        rx.exec("curl", ["-sf", `http://127.0.0.1:${HTTP_PORT}/readyz`]);
        return true;
      } catch {
        return false;
      }
    });
    const records = () => metric(rx, "flowlens_aggregator_collector_records_total");
    const drops = () => metric(rx, "flowlens_aggregator_collector_socket_drops_total");
    // Warm-up: V8 compiles the hot path only once it has run for a while, and a running
    // collector is past that; a C collector's code is compiled ahead of time. The warm-up
    // replay is not counted, and the socket is drained before the measured one starts.
    if (warmLoops > 0) {
      replay(tx, iface, file, warmLoops);
      await settle(records);
    }
    const records0 = records();
    const drops0 = drops();
    const cpu0 = cpuSeconds(p.pid);
    const r = replay(tx, iface, file, loops);
    const taken = (await settle(records)) - records0;
    // The settling polls cost a little CPU of their own (an HTTP scrape each 700 ms).
    return { ...r, records: taken, drops: drops() - drops0, cpu: cpuSeconds(p.pid) - cpu0 };
  } finally {
    await p.stop();
  }
}

/**
 * `flowlens collect --listen`: the collector on its own writing each record to a file, as
 * nfcapd does (length-delimited protobuf Flows, nfcapd's own binary records). Records taken in
 * are those the file holds, counted after it stops.
 */
async function collect(tx, rx, iface, file) {
  const dir = rx.exec("mktemp", ["-d", "/tmp/flowlens-collect-XXXXXX"]).trim();
  const out = join(dir, "flows.pb");
  const prof = process.env.FLOWLENS_BENCH_PROF ? ["--cpu-prof", "--cpu-prof-dir", process.env.FLOWLENS_BENCH_PROF] : [];
  const p = rx.spawn("collect", process.execPath, [
    ...prof,
    join(root, "cli/dist/main.js"),
    "collect",
    `--listen=0.0.0.0:${PORT}`,
    "--format=protobuf",
    `--output=${out}`,
    `--buffer=${BUFFER}`,
  ]);
  const written = () => (existsSync(out) ? countDelimited(readFileSync(out)) : 0);
  try {
    await waitFor("collect bound", () => udpSocket(rx) !== undefined);
    if (warmLoops > 0) {
      replay(tx, iface, file, warmLoops);
      await settle(() => rxQueue(rx));
    }
    // The output is written at least once a second: what the warm-up left is all in the file.
    await sleep(1500);
    const records0 = written();
    const drops0 = udpDrops(rx);
    const cpu0 = cpuSeconds(p.pid);
    const r = replay(tx, iface, file, loops);
    await settle(() => rxQueue(rx));
    const drops = udpDrops(rx) - drops0;
    const cpu = cpuSeconds(p.pid) - cpu0;
    await p.stop();
    return { ...r, records: written() - records0, drops, cpu };
  } finally {
    await p.stop();
    rx.exec("rm", ["-rf", dir]);
  }
}

/** Messages in a length-delimited stream (varint length, then the message). */
function countDelimited(b) {
  let n = 0;
  let p = 0;
  while (p < b.length) {
    let len = 0;
    let shift = 0;
    let byte;
    do {
      byte = b[p++];
      len += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80 && p < b.length);
    p += len;
    if (p <= b.length) n++;
  }
  return n;
}

async function nfcapd(tx, rx, iface, file) {
  const dir = rx.exec("mktemp", ["-d", "/tmp/flowlens-nfcapd-XXXXXX"]).trim();
  const p = rx.spawn("nfcapd", "nfcapd", ["-p", String(PORT), "-w", dir, "-B", String(BUFFER), "-t", "3600"]);
  try {
    await waitFor("nfcapd bound", () => udpSocket(rx) !== undefined);
    const cpu0 = cpuSeconds(p.pid);
    const r = replay(tx, iface, file, loops);
    // nfcapd counts in memory and writes its file when it stops: first let its socket queue
    // drain, then stop it and read the file's statistics.
    await settle(() => rxQueue(rx));
    const drops = udpDrops(rx);
    const cpu = cpuSeconds(p.pid) - cpu0;
    await p.stop();
    let records = 0;
    for (const f of rx
      .exec("ls", [dir])
      .split("\n")
      .filter((x) => x.startsWith("nfcapd."))) {
      const m = /^Flows: (\d+)/m.exec(rx.exec("nfdump", ["-r", join(dir, f), "-I"]));
      if (m) records += Number(m[1]);
    }
    return { ...r, records, drops, cpu };
  } finally {
    await p.stop();
    rx.exec("rm", ["-rf", dir]);
  }
}

/**
 * sfacctd (pmacct) receiving the replay into its print plugin, aggregated per 5-tuple. Its
 * records taken in are the packets the plugin counted: one per flow sample (no renormalising).
 */
async function sfacctd(tx, rx, iface, file) {
  const dir = rx.exec("mktemp", ["-d", "/tmp/flowlens-sfacctd-XXXXXX"]).trim();
  const out = join(dir, "out.csv");
  const conf = join(dir, "sfacctd.conf");
  writePrintConfig(conf, ["sfacctd_ip: 0.0.0.0", `sfacctd_port: ${PORT}`, `sfacctd_pipe_size: ${BUFFER}`], out);
  const p = rx.spawn("sfacctd", "sfacctd", ["-f", conf]);
  try {
    await waitFor("sfacctd bound", () => udpSocket(rx) !== undefined);
    const cpu0 = treeCpuSeconds(p.pid);
    const r = replay(tx, iface, file, loops);
    await settle(() => rxQueue(rx));
    const drops = udpDrops(rx);
    const cpu = treeCpuSeconds(p.pid) - cpu0;
    // SIGINT has the print plugin write its cache out as it exits (SIGTERM does not).
    process.kill(p.pid, "SIGINT");
    await waitFor("sfacctd's output", () => existsSync(out) && !udpSocket(rx), 60_000);
    await settle(() => statSync(out).size);
    const records = sumCsvColumn(out, "PACKETS");
    return { ...r, records, drops, cpu };
  } finally {
    await p.stop();
    rx.exec("rm", ["-rf", dir]);
  }
}

if (process.getuid?.() !== 0) {
  console.error("collector-live: needs root (network namespaces, tcpreplay)");
  process.exit(2);
}
removeStaleNamespaces();
const lab = new NetLab();
try {
  const tx = lab.addHost("tx");
  const rx = lab.addHost("rx");
  // The IPFIX capture was taken on lo: some datagrams are larger than an Ethernet MTU.
  const link = lab.link(tx, rx, { aAddr: "10.231.7.1/24", bAddr: "10.231.7.2/24", mtu: 65000 });
  const rxMac = rx.exec("cat", [`/sys/class/net/${link.bIf}/address`]).trim();
  const source = await format.source();
  const pass = perPass(source);
  const file = replayFile(source, rxMac);
  const receive = { flowlens, collect, nfcapd, sfacctd }[side];
  const r = await receive(tx, rx, link.aIf, file);
  const sentRecords = (r.sent / pass.datagrams) * pass.records;
  console.log(
    `${side}: ${r.records.toLocaleString("en-US")} of ${Math.round(sentRecords).toLocaleString("en-US")} ${formatName} records ` +
      `sent in ${r.seconds.toFixed(2)} s (${Math.round(r.sent / r.seconds).toLocaleString("en-US")} datagrams/s) -> ` +
      `${Math.round(r.records / r.seconds).toLocaleString("en-US")} records/s taken in, socket drops ${r.drops}; ` +
      `receiver CPU ${r.cpu.toFixed(2)} s (${Math.round(r.records / r.cpu).toLocaleString("en-US")} records per CPU-second)`,
  );
  console.log(JSON.stringify({ items: r.records, seconds: r.seconds }));
} finally {
  lab.destroy();
}
