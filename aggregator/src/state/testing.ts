// Helpers for tests of the live state and of what reads it (API, metrics): flow records with
// every field set, as the decoder hands them over, and a clock the test moves.
import { pb } from "@flowlens/contracts";

export const T0 = Date.UTC(2025, 0, 1);

/** Every field at its protobuf default (no nested object or array to share by mistake). */
const DEFAULTS: pb.Flow = pb.Flow.fromPartial({});

/** A final (FIN) TCP record of 1 packet and 100 bytes each way, overridden by `p`. */
export function testFlow(p: Partial<pb.Flow> = {}): pb.Flow {
  return {
    ...DEFAULTS,
    srcAddr: "10.0.0.1",
    srcPort: 40000,
    dstAddr: "10.0.0.2",
    dstPort: 443,
    proto: 6,
    ipVersion: 4,
    firstSeenMs: BigInt(T0),
    lastSeenMs: BigInt(T0 + 1000),
    srcToDstPackets: 1n,
    srcToDstBytes: 100n,
    dstToSrcPackets: 1n,
    dstToSrcBytes: 100n,
    l7: "TLS",
    l7Category: "Web",
    endReason: pb.EndReason.END_REASON_FIN,
    ...p,
  };
}

/** A clock for LiveState that only moves when told. */
export class TestClock {
  constructor(public t = T0) {}
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

/** A seeded integer PRNG (xorshift32): prng(seed)(n) is in [0, n), the same sequence every run. */
export function prng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

/** A seeded PRNG (mulberry32), so that randomized tests fail the same way every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws ranks 0..n-1 with probability proportional to 1 / (rank + 1)^s. */
export function zipf(n: number, s: number, random: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += 1 / (i + 1) ** s;
    cdf[i] = sum;
  }
  return () => {
    const x = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}
