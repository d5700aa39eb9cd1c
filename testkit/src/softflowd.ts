// softflowd (Debian) as a real NetFlow/IPFIX exporter: it reads a capture and sends what it made
// of it to a collector, then prints its own account, which tests compare collectors against.
import { run } from "./process.js";

export interface SoftflowdTotals {
  records: number;
  octets: number;
  packets: number;
}

/** softflowd's own account of what it exported (its -d summary). */
export function softflowdTotals(out: string): SoftflowdTotals {
  const records = Number(/Flows exported: \d+ \((\d+) records\)/.exec(out)?.[1]);
  let octets = 0;
  let packets = 0;
  for (const m of out.matchAll(/^\s+\w+ \(\d+\):\s+(\d+)\s+(\d+)/gm)) {
    octets += Number(m[1]);
    packets += Number(m[2]);
  }
  return { records, octets, packets };
}

/** Exports `capture`'s flows as NetFlow `version` (5, 9, or 10 for IPFIX) to `target` (host:port). */
export function exportWithSoftflowd(capture: string, version: 5 | 9 | 10, target: string): SoftflowdTotals {
  const out = run("softflowd", ["-r", capture, "-v", String(version), "-n", target, "-c", "none", "-d"], {
    timeoutMs: 30_000,
  });
  const totals = softflowdTotals(out);
  if (!(totals.records > 0)) throw new Error(`softflowd exported nothing: ${out.slice(-2000)}`);
  return totals;
}
