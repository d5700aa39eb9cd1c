#!/usr/bin/env node
// Live capture under load: tcpreplay sends the benchmark capture (first N packets) at rising
// rates onto a veth between two network namespaces of our own; on the other end our engine
// (AF_PACKET ring, DPI on) and then softflowd -i capture the same replay. For each rate it
// prints what each saw out of what was sent and the kernel's drop count, and the first rate at
// which each one loses packets. Needs root. Usage: live-drops.mjs [packets]
import { execFileSync, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../..");
const { NetLab, removeStaleNamespaces } = await import(join(root, "testkit/dist/index.js"));
const limit = Number(process.argv[2] ?? 300000);
const capture = execFileSync(process.execPath, [join(here, "gen-bench-pcap.mjs"), "110"], { encoding: "utf8" }).trim();
const rates = [50_000, 100_000, 200_000, 400_000, 0]; // packets/s; 0 = --topspeed

removeStaleNamespaces();
const lab = new NetLab();
const { a, b, link } = lab.pair("tx", "rx", 9);
// The replayed frames carry other hosts' addresses: make sure rx never forwards anything.
b.exec("sysctl", ["-qw", "net.ipv4.ip_forward=0"]);

function replay(pps) {
  const args = [`--intf1=${link.aIf}`, `--limit=${limit}`, pps ? `--pps=${pps}` : "--topspeed", capture];
  const out = a.exec("tcpreplay", args, { timeoutMs: 600_000 });
  const sent = Number(/Actual: (\d+) packets/.exec(out)?.[1] ?? 0);
  const rate = Number(/Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps/.exec(out)?.[1] ?? 0);
  return { sent, rate };
}

async function ours(pps) {
  const p = spawn(
    "ip",
    ["netns", "exec", b.ns, process.execPath, join(root, "agent/dist/testing/capture-live.js"), link.bIf, "600000"],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let err = "";
  p.stderr.on("data", (c) => (err += c));
  while (!err.includes("capturing")) await sleep(50);
  await sleep(300);
  const r = replay(pps);
  await sleep(500);
  p.kill("SIGTERM");
  await new Promise((res) => p.on("exit", res));
  const stats = JSON.parse(err.split("\n").find((l) => l.startsWith('{"stats"')) ?? '{"stats":[]}').stats[0] ?? {};
  return { ...r, seen: stats.packets ?? 0, drops: stats.kernelDrops ?? 0 };
}

async function softflowd(pps) {
  const ctl = "/tmp/flowlens-live-softflowd.ctl";
  const p = spawn(
    "ip",
    [
      "netns",
      "exec",
      b.ns,
      "softflowd",
      "-i",
      link.bIf,
      "-d",
      "-6",
      "-m",
      "1000000",
      "-c",
      ctl,
      "-p",
      "/tmp/flowlens-live-softflowd.pid",
      "-n",
      "127.0.0.1:9",
    ],
    { stdio: "ignore" },
  );
  await sleep(1000);
  const r = replay(pps);
  await sleep(500);
  // softflowd prints nothing when stopped in the foreground: ask its control socket.
  const stats = execFileSync("softflowctl", ["-c", ctl, "statistics"], { encoding: "utf8" });
  execFileSync("softflowctl", ["-c", ctl, "shutdown"], { stdio: "ignore" });
  const timer = setTimeout(() => p.kill("SIGKILL"), 5000);
  await new Promise((res) => p.on("exit", res));
  clearTimeout(timer);
  const seen = Number(/Packets received by libpcap: (\d+)/.exec(stats)?.[1] ?? 0);
  const drops = Number(/Packets dropped by libpcap: (\d+)/.exec(stats)?.[1] ?? 0);
  return { ...r, seen, drops };
}

try {
  const rows = [];
  for (const pps of rates) {
    const o = await ours(pps);
    const s = await softflowd(pps);
    rows.push({ pps, o, s });
    console.error(
      `rate ${pps || "top"}: ours ${o.seen}/${o.sent} (drops ${o.drops}) at ${o.rate} pps; softflowd ${s.seen}/${s.sent} (drops ${s.drops}) at ${s.rate} pps`,
    );
  }
  const firstLoss = (side) => rows.find((r) => r[side].seen < r[side].sent || r[side].drops > 0);
  console.log("requested pps | achieved pps | ours seen/sent (kernel drops) | softflowd seen/sent (drops)");
  for (const r of rows) {
    console.log(
      `${r.pps || "topspeed"} | ${r.o.rate} | ${r.o.seen}/${r.o.sent} (${r.o.drops}) | ${r.s.seen}/${r.s.sent} (${r.s.drops})`,
    );
  }
  const lo = firstLoss("o");
  const ls = firstLoss("s");
  console.log(
    `first loss: ours ${lo ? `at ${lo.o.rate} pps` : "none up to topspeed"}, softflowd ${ls ? `at ${ls.s.rate} pps` : "none up to topspeed"}`,
  );
} finally {
  lab.destroy();
}
