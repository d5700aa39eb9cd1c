// Runs ndpiReader 4.2 and our engine on one capture and compares their flow sets, after the
// adjustments for what the two deliberately do differently (see adjustForNdpiReader).

import { readPcap } from "../engine/pcap.js";
import type { EngineFlow } from "../engine/records.js";
import { compareFlows, type FlowComparison, type NdpiResult, runNdpiReader } from "./ndpi-reader.js";

/** Adds `f`'s counters into `into`, aligning directions by the source address (and port). */
function addInto(into: EngineFlow, f: EngineFlow, same: boolean): void {
  into.srcToDstPackets += same ? f.srcToDstPackets : f.dstToSrcPackets;
  into.dstToSrcPackets += same ? f.dstToSrcPackets : f.srcToDstPackets;
  into.srcToDstBytes += same ? f.srcToDstBytes : f.dstToSrcBytes;
  into.dstToSrcBytes += same ? f.dstToSrcBytes : f.srcToDstBytes;
  into.wireBytes.srcToDst += same ? f.wireBytes.srcToDst : f.wireBytes.dstToSrc;
  into.wireBytes.dstToSrc += same ? f.wireBytes.dstToSrc : f.wireBytes.srcToDst;
}

/**
 * ndpiReader keys ICMP flows by address pair alone, while we key them by type pair as Zeek and
 * the Community ID do (echo vs unreachable are different flows): sum ours per address pair
 * before comparing.
 */
export function mergeIcmpByHostPair(flows: EngineFlow[]): EngineFlow[] {
  const out: EngineFlow[] = [];
  const byPair = new Map<string, EngineFlow>();
  for (const f of flows) {
    if (f.proto !== 1 && f.proto !== 58) {
      out.push(f);
      continue;
    }
    const key = [f.proto, f.vlan, [f.srcAddr, f.dstAddr].sort().join("|")].join("/");
    const seen = byPair.get(key);
    if (!seen) {
      const copy = { ...f, wireBytes: { ...f.wireBytes } };
      byPair.set(key, copy);
      out.push(copy);
      continue;
    }
    addInto(seen, f, seen.srcAddr === f.srcAddr);
  }
  return out;
}

/**
 * ndpiReader never ends a flow within a file, so a 5-tuple reused by a new connection (a SYN
 * after FIN) is one flow there and two here: sum ours per 5-tuple and VLAN. The application is
 * the first one classified.
 */
export function mergeReusedTuples(flows: EngineFlow[]): EngineFlow[] {
  const out: EngineFlow[] = [];
  const byKey = new Map<string, EngineFlow>();
  for (const f of flows) {
    const ends = [`${f.srcAddr}|${f.srcPort}`, `${f.dstAddr}|${f.dstPort}`].sort().join("/");
    const key = `${f.proto}/${f.vlan}/${ends}`;
    const seen = byKey.get(key);
    if (!seen) {
      const copy = { ...f, wireBytes: { ...f.wireBytes } };
      byKey.set(key, copy);
      out.push(copy);
      continue;
    }
    addInto(seen, f, seen.srcAddr === f.srcAddr && seen.srcPort === f.srcPort);
    if (seen.l7 === "Unknown" && f.l7 !== "Unknown") {
      seen.l7 = f.l7;
      seen.l7Category = f.l7Category;
    }
  }
  return out;
}

export interface CaptureComparison {
  ndpi: NdpiResult;
  ours: EngineFlow[];
  comparison: FlowComparison;
  /** Flows that differ only by the VLAN id of QinQ frames (inner for ndpiReader, outer here). */
  vlanExplained: string[];
}

export async function compareWithNdpiReader(pcap: string): Promise<CaptureComparison> {
  // -t: ndpiReader then decapsulates GTP as we do (it never decapsulates GRE or VXLAN).
  const ndpi = await runNdpiReader(pcap, { decodeTunnels: true });
  const ours: EngineFlow[] = [];
  // ndpiReader never times flows out within a file and does not end them on FIN/RST: a
  // capture-long timeout and no linger split nothing it would keep whole.
  await readPcap({ files: [pcap], idleTimeoutMs: 4_000_000_000, activeTimeoutMs: 0, maxFlows: 1_000_000 }, (b) =>
    ours.push(...b),
  );
  const comparison = compareFlows(ndpi.flows, mergeReusedTuples(mergeIcmpByHostPair(ours)));
  // QinQ: ndpiReader keys on the innermost VLAN tag, we on the outer one (DESIGN.md). Pair what
  // is left over on the 5-tuple alone; they count as the same flow only if every count agrees.
  const strip = <T extends { vlan: number }>(xs: T[]) => xs.map((x) => ({ ...x, vlan: 0 }));
  const vlanOnly = compareFlows(strip(comparison.onlyNdpi), strip(comparison.onlyOurs) as EngineFlow[]);
  const vlanExplained = vlanOnly.matched.filter(
    (m) => !vlanOnly.packetMismatches.some((x) => x.match === m) && !vlanOnly.byteMismatches.some((x) => x.match === m),
  );
  return { ndpi, ours, comparison, vlanExplained: vlanExplained.map((m) => m.tuple) };
}
