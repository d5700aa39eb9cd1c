// TCP measurements against tshark's analysis on every capture in ../shared/testdata/pcaps
// (ndpi and zeek): handshake latencies must equal tcp.analysis.ack_rtt of the SYN-ACK and of
// the handshake ACK, and retransmitted / out-of-order segments per direction must equal
// tcp.analysis.retransmission / out_of_order on at least 95% of the flows that have any.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { haveCommand, repoRoot } from "@flowlens/testkit";
import { readPcap } from "../engine/pcap.js";
import type { EngineFlow } from "../engine/records.js";
import { tsharkTcpStreams } from "./tshark.js";

const dirs = ["ndpi", "zeek"].map((d) => join(repoRoot, "../shared/testdata/pcaps", d));
const skip = haveCommand("tshark") ? false : "tshark not installed (Debian tshark)";

describe("TCP latency and retransmissions vs tshark", { skip }, () => {
  it("agrees on every capture", async () => {
    let latency = 0;
    let segmentFlows = 0;
    let segmentAgree = 0;
    const latencyDiffs: string[] = [];
    const segmentDiffs: string[] = [];
    for (const dir of dirs) {
      for (const file of readdirSync(dir).filter((f) => /\.pcap(ng)?$/.test(f))) {
        const pcap = join(dir, file);
        const streams = await tsharkTcpStreams(pcap);
        if (streams.length === 0) continue;
        const flows: EngineFlow[] = [];
        try {
          await readPcap({ files: [pcap], idleTimeoutMs: 4_000_000_000, activeTimeoutMs: 0 }, (b) => flows.push(...b));
        } catch {
          continue; // a link type we do not read: the ndpiReader comparison covers those
        }
        const byTuple = new Map<string, EngineFlow[]>();
        for (const f of flows) {
          if (f.proto !== 6) continue;
          const k = `${f.srcAddr}:${f.srcPort}>${f.dstAddr}:${f.dstPort}`;
          byTuple.set(k, [...(byTuple.get(k) ?? []), f]);
        }
        for (const s of streams) {
          const candidates = byTuple.get(`${s.client}>${s.server}`);
          // tshark has one stream per 5-tuple reuse too, but numbers them; we match the
          // first flow only when the tuple was used once.
          const f = candidates?.length === 1 ? candidates[0] : undefined;
          if (!f) continue;
          const where = `${file} ${s.client} > ${s.server}`;
          if (s.synAckRttUs !== undefined) {
            latency++;
            const ok =
              Math.abs((f.serverNwLatencyUs ?? -1e9) - s.synAckRttUs) <= 1 &&
              (s.ackRttUs === undefined || Math.abs((f.clientNwLatencyUs ?? -1e9) - s.ackRttUs) <= 1);
            if (!ok) {
              latencyDiffs.push(
                `${where}: server ${f.serverNwLatencyUs} vs ${s.synAckRttUs} us, client ${f.clientNwLatencyUs} vs ${s.ackRttUs} us`,
              );
            }
          }
          const any =
            s.retransmissions.client + s.retransmissions.server + s.outOfOrder.client + s.outOfOrder.server > 0 ||
            f.srcRetransmits + f.dstRetransmits + f.srcOutOfOrder + f.dstOutOfOrder > 0;
          if (!any) continue;
          segmentFlows++;
          const same =
            f.srcRetransmits === s.retransmissions.client &&
            f.dstRetransmits === s.retransmissions.server &&
            f.srcOutOfOrder === s.outOfOrder.client &&
            f.dstOutOfOrder === s.outOfOrder.server;
          if (same) segmentAgree++;
          else {
            segmentDiffs.push(
              `${where}: retransmissions ours ${f.srcRetransmits}/${f.dstRetransmits} tshark ${s.retransmissions.client}/${s.retransmissions.server}, out of order ours ${f.srcOutOfOrder}/${f.dstOutOfOrder} tshark ${s.outOfOrder.client}/${s.outOfOrder.server}`,
            );
          }
        }
      }
    }
    console.log(
      `handshakes compared: ${latency}; flows with retransmissions or reordering: ${segmentFlows}, identical: ${segmentAgree}`,
    );
    for (const d of segmentDiffs) console.log(`differs: ${d}`);
    assert.ok(latency > 300, `only ${latency} handshakes compared`);
    assert.deepEqual(latencyDiffs, []);
    assert.ok(segmentFlows > 100, `only ${segmentFlows} flows with retransmissions`);
    assert.ok(
      segmentAgree / segmentFlows >= 0.95,
      `retransmission/out-of-order counts agree on ${segmentAgree}/${segmentFlows}`,
    );
  });
});
