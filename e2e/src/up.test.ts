// `flowlens up`, the embedded default, run as users run it: one process, a capture replayed,
// API and metrics on a port. Its per-host totals must equal what `flowlens pcap` computes
// from the same file, it must answer within ten seconds, and without capture privileges it
// must say so and keep serving.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readPcap } from "@flowlens/agent";
import {
  exportWithSoftflowd,
  freePort,
  freeUdpPort,
  haveCommand,
  repoRoot,
  startProcess,
  waitFor,
} from "@flowlens/testkit";

const bin = join(repoRoot, "cli/dist/main.js");
const capture = join(repoRoot, "../shared/testdata/pcaps/large/ndpi_concat_mix.pcap");
/** What a router sends to up's collector port, as softflowd exports it. */
const exported = join(repoRoot, "../shared/testdata/pcaps/ndpi/1kxun.pcap");
const small = join(repoRoot, "../shared/testdata/pcaps/ndpi/dns.pcap");

interface HostRow {
  ip: string;
  bytesSent: number;
  bytesRcvd: number;
  packetsSent: number;
  packetsRcvd: number;
}

async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

describe("flowlens up", () => {
  it("replays a capture: per-host totals equal flowlens pcap's, within ten seconds, and stops cleanly", {
    skip: existsSync(capture) ? false : `${capture} is absent`,
  }, async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const started = Date.now();
    const up = startProcess(
      "up",
      process.execPath,
      // --data-dir "": alerts in memory, nothing left in ~/.local/state by the test.
      [bin, "up", "--pcap", capture, "--http-address", `127.0.0.1:${port}`, "--data-dir", ""],
      {
        keepLines: 200,
      },
    );
    try {
      const expected = new Map<string, HostRow>();
      const row = (ip: string) => {
        let r = expected.get(ip);
        if (!r) {
          r = { ip, bytesSent: 0, bytesRcvd: 0, packetsSent: 0, packetsRcvd: 0 };
          expected.set(ip, r);
        }
        return r;
      };
      // Records, not flows: a flow longer than the active timeout arrives as several.
      let records = 0;
      await readPcap({ files: [capture], dpi: true }, (batch) => {
        for (const f of batch) {
          records++;
          const s = row(f.srcAddr);
          const d = row(f.dstAddr);
          s.bytesSent += f.srcToDstBytes;
          s.packetsSent += f.srcToDstPackets;
          s.bytesRcvd += f.dstToSrcBytes;
          s.packetsRcvd += f.dstToSrcPackets;
          d.bytesSent += f.dstToSrcBytes;
          d.packetsSent += f.dstToSrcPackets;
          d.bytesRcvd += f.srcToDstBytes;
          d.packetsRcvd += f.srcToDstPackets;
        }
      });
      await waitFor(
        "every flow of the capture in the API",
        async () => {
          try {
            const nodes = await getJson<{ items: Array<{ records: number }> }>(`${url}/api/v1/nodes`);
            return nodes.items[0]?.records === records;
          } catch {
            return false;
          }
        },
        { proc: up, timeoutMs: 10_000, intervalMs: 100 },
      );
      const readyInMs = Date.now() - started;
      assert.ok(readyInMs < 10_000, `useful after ${readyInMs} ms`);
      const page = await getJson<{ total: number; items: HostRow[] }>(
        `${url}/api/v1/hosts?limit=1000&sort=ip&order=asc`,
      );
      assert.equal(page.total, expected.size);
      for (const h of page.items) {
        const e = expected.get(h.ip);
        assert.ok(e, `${h.ip} not in the capture`);
        assert.deepEqual(
          {
            ip: h.ip,
            bytesSent: h.bytesSent,
            bytesRcvd: h.bytesRcvd,
            packetsSent: h.packetsSent,
            packetsRcvd: h.packetsRcvd,
          },
          e,
        );
      }
      const metrics = await (await fetch(`${url}/metrics`)).text();
      assert.match(metrics, /^flowlens_flows_total \d+/m);
      assert.match(metrics, /^flowlens_agent_packets_total\{interface="pcap:/m);
    } finally {
      const t0 = Date.now();
      await up.stop(10_000);
      assert.ok(Date.now() - t0 < 5000, "graceful stop within a few seconds");
      assert.equal(up.child.exitCode, 0, up.output());
    }
  });

  it("without capture privileges, says what it needs and keeps serving the API", {
    skip: process.getuid?.() !== 0 || !haveCommand("setpriv") ? "needs root to drop privileges with setpriv" : false,
  }, async () => {
    const port = await freePort();
    const up = startProcess(
      "up-unprivileged",
      "setpriv",
      [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        process.execPath,
        bin,
        "up",
        "--interface",
        "lo",
        "--http-address",
        `127.0.0.1:${port}`,
        "--data-dir",
        "",
      ],
      { keepLines: 200 },
    );
    try {
      await waitFor("the privilege message", () => up.output().includes("needs CAP_NET_RAW"), {
        proc: up,
        timeoutMs: 10_000,
      });
      assert.match(up.output(), /Falling back: serving the API and metrics without capture/);
      const hosts = await getJson<{ total: number }>(`http://127.0.0.1:${port}/api/v1/hosts`);
      assert.equal(hosts.total, 0);
    } finally {
      await up.stop();
    }
  });
  it("collects a router's exports on a port it is asked to open, next to the probe's flows", {
    skip: !haveCommand("softflowd")
      ? "softflowd not installed"
      : !existsSync(exported) || !existsSync(small)
        ? "shared captures absent"
        : false,
  }, async () => {
    const [port, netflow] = [await freePort(), await freeUdpPort()];
    const url = `http://127.0.0.1:${port}`;
    const up = startProcess(
      "up-collector",
      process.execPath,
      [
        bin,
        "up",
        "--pcap",
        small,
        "--http-address",
        `127.0.0.1:${port}`,
        "--data-dir",
        "",
        "--collector-address",
        "127.0.0.1",
        "--netflow-port",
        String(netflow),
      ],
      { keepLines: 200 },
    );
    try {
      await waitFor("the banner naming the collector port", () => up.output().includes(`udp/${netflow}`), {
        proc: up,
        timeoutMs: 15_000,
      });
      // Both exports come from 127.0.0.1: one exporter whose totals add up.
      const want = { bytes: 0, packets: 0 };
      for (const version of [9, 10] as const) {
        const sent = exportWithSoftflowd(exported, version, `127.0.0.1:${netflow}`);
        want.bytes += sent.octets;
        want.packets += sent.packets;
        await waitFor(
          `softflowd's NetFlow ${version} totals in /api/v1/exporters`,
          async () => {
            const { items } = await getJson<{ items: Array<{ exporter: string; bytes: number; packets: number }> }>(
              `${url}/api/v1/exporters`,
            );
            const e = items.find((x) => x.exporter === "127.0.0.1");
            return e?.bytes === want.bytes && e.packets === want.packets;
          },
          { proc: up, timeoutMs: 10_000 },
        );
      }
      // The probe's own flows are there too: one state for both.
      await waitFor(
        "the replayed capture's flows beside the collector's",
        async () => {
          const { items } = await getJson<{ items: Array<{ node: string; records: number }> }>(`${url}/api/v1/nodes`);
          return (
            items.some((n) => n.node === "collector") && items.some((n) => n.node !== "collector" && n.records > 0)
          );
        },
        { proc: up, timeoutMs: 10_000 },
      );
    } finally {
      await up.stop();
    }
  });
});
