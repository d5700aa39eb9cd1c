// Number helpers shared by the state structures.

/** Euclidean modulo: ring slots for bucket numbers, negative ones included. */
export function mod(a: number, n: number): number {
  const r = a % n;
  return r < 0 ? r + n : r;
}

/**
 * A uint64 wire counter as a number. Exact to 2^53 (9 PB); above that it rounds, which is
 * better than throwing. Anything that is not a non-negative count (garbage from a hostile peer
 * that slipped past the decoder) counts as 0.
 */
export function count(v: bigint | number | undefined): number {
  const n = Number(v);
  return n >= 0 && n <= Number.MAX_VALUE ? n : 0;
}

/** A summed count back as a wire counter. */
export function toUint64(n: number): bigint {
  return n >= 0 && Number.isFinite(n) ? BigInt(Math.trunc(n)) : 0n;
}
