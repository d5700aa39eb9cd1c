// The mutation fuzzing shared by the NetFlow/IPFIX and sFlow decoder tests: real datagrams
// changed a few ways at a time (bit flips, truncation, length and count fields set to
// interesting values, bytes spliced from another datagram, insertions and deletions), each run
// reproducible from its seed.

export interface Rng {
  next(): number;
  int(n: number): number;
}

/** xorshift32: fast, and a seed reproduces a run. */
export function rng(seed: number): Rng {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n) };
}

/** The run's seed: FLOWLENS_FUZZ_SEED to replay a run, else the clock. */
export function fuzzSeed(): number {
  return Number(process.env.FLOWLENS_FUZZ_SEED ?? Date.now() % 2 ** 31);
}

/** A checksum of the corpus, to check that mutations worked on copies. */
export function corpusSum(pool: readonly Uint8Array[]): number {
  return pool.reduce((a, d) => d.reduce((x, y) => (x * 31 + y) >>> 0, a), 0);
}

export interface MutationFormat {
  /** Offsets of the format's length and count fields in a datagram. */
  lengthFields(d: Uint8Array): number[];
  /** Their width in bytes. */
  width: 2 | 4;
  /** Values worth trying in them. */
  interesting: readonly number[];
  /** The format's own last mutation (the others are common). */
  own(d: Uint8Array, v: DataView, r: Rng): void;
}

/** `src` changed 1 to 4 times; `other` (another datagram) gives bytes to splice in. */
export function mutateDatagram(src: Uint8Array, other: Uint8Array, r: Rng, format: MutationFormat): Uint8Array {
  // new Uint8Array(x) copies; Buffer's slice() would not.
  let d = new Uint8Array(src);
  const rounds = 1 + r.int(4);
  const w = format.width;
  const max = w === 2 ? 0xffff : 0xffffffff;
  for (let k = 0; k < rounds; k++) {
    if (d.length === 0) d = new Uint8Array(other.subarray(0, 1 + r.int(other.length)));
    const v = new DataView(d.buffer);
    switch (r.int(8)) {
      case 0: {
        const flips = 1 + r.int(8);
        for (let i = 0; i < flips; i++) {
          const p = r.int(d.length);
          d[p] = (d[p] as number) ^ (1 << r.int(8));
        }
        break;
      }
      case 1:
        d = d.slice(0, r.int(d.length + 1));
        break;
      case 2:
      case 3: {
        const fields = format.lengthFields(d).filter((p) => p + w <= d.length);
        const p = fields[r.int(fields.length)];
        if (p === undefined) break;
        const old = w === 2 ? v.getUint16(p) : v.getUint32(p);
        const choice = r.int(4);
        const near = w === 2 ? 4 : 8;
        const val =
          choice === 0
            ? (format.interesting[r.int(format.interesting.length)] as number)
            : choice === 1
              ? old + r.int(2 * near + 1) - near
              : choice === 2
                ? old * 2
                : r.int(max + 1);
        if (w === 2) v.setUint16(p, val & 0xffff);
        else v.setUint32(p, val >>> 0);
        break;
      }
      case 4: {
        // Splice bytes from another datagram.
        const len = 1 + r.int(Math.min(64, other.length));
        const from = r.int(Math.max(1, other.length - len));
        const to = r.int(Math.max(1, d.length - len));
        d.set(other.subarray(from, from + len).subarray(0, Math.max(0, d.length - to)), to);
        break;
      }
      case 5: {
        // Insert or delete a few bytes: shifts everything after.
        const p = r.int(d.length + 1);
        const n = 1 + r.int(8);
        d =
          r.int(2) === 0
            ? Uint8Array.from([...d.subarray(0, p), ...new Uint8Array(n).map(() => r.int(256)), ...d.subarray(p)])
            : Uint8Array.from([...d.subarray(0, p), ...d.subarray(p + n)]);
        break;
      }
      case 6: {
        if (d.length < 4) break;
        v.setUint32(r.int(d.length - 3), r.int(2) ? 0xffffffff : r.int(2 ** 32));
        break;
      }
      default:
        format.own(d, v, r);
    }
  }
  return d;
}
