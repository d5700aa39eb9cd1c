// Address formatting for the flow record: dotted IPv4, RFC 5952 IPv6 (lowercase, the longest
// run of zero groups compressed, IPv4-mapped addresses in mixed notation).

export function formatIPv4(b: Uint8Array, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

export function formatIPv6(b: Uint8Array, off: number): string {
  const g = new Array<number>(8);
  for (let i = 0; i < 8; i++) g[i] = ((b[off + 2 * i] ?? 0) << 8) | (b[off + 2 * i + 1] ?? 0);
  // ::ffff:a.b.c.d
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${formatIPv4(b, off + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (i: number) => (g[i] ?? 0).toString(16);
  if (bestStart < 0) return g.map((_, i) => hex(i)).join(":");
  const head = g.slice(0, bestStart).map((_, i) => hex(i));
  const tail = g.slice(bestStart + bestLen).map((_, i) => hex(bestStart + bestLen + i));
  return `${head.join(":")}::${tail.join(":")}`;
}
