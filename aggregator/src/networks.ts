// localNetworks: which addresses count as local (ntopng's -m). Parsed once from config into
// integer ranges; lookups on the hot path allocate nothing for IPv4.
import { isIP } from "node:net";

export class CidrError extends Error {
  readonly code = "BAD_CIDR";
}

interface V4Range {
  cidr: string;
  base: number;
  mask: number;
}
interface V6Range {
  cidr: string;
  base: bigint;
  mask: bigint;
}

function v4ToInt(addr: string): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < addr.length; i++) {
    const c = addr.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255) return -1;
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      digits++;
    } else return -1;
  }
  if (dots !== 3 || digits === 0 || part > 255) return -1;
  return (n * 256 + part) >>> 0;
}

/** An IPv6 address as a 128-bit integer; -1n when it is not one. */
export function v6ToBig(addr: string): bigint {
  if (!addr.includes(":")) return -1n;
  let a = addr;
  const zone = a.indexOf("%");
  if (zone >= 0) a = a.slice(0, zone);
  // An IPv4 tail (::ffff:1.2.3.4) becomes two hextets.
  const lastColon = a.lastIndexOf(":");
  const tail = a.slice(lastColon + 1);
  if (tail.includes(".")) {
    const v4 = v4ToInt(tail);
    if (v4 < 0) return -1n;
    a = `${a.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = a.split("::");
  if (halves.length > 2) return -1n;
  const head = halves[0] ? halves[0].split(":") : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const fill = 8 - head.length - rest.length;
  if ((halves.length === 1 && fill !== 0) || fill < 0) return -1n;
  const groups = [...head, ...Array(halves.length === 2 ? fill : 0).fill("0"), ...rest];
  let n = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return -1n;
    n = (n << 16n) | BigInt(Number.parseInt(g, 16));
  }
  return n;
}

export class LocalNetworks {
  private readonly v4: V4Range[] = [];
  private readonly v6: V6Range[] = [];

  /** Throws CidrError naming the first bad entry. */
  constructor(readonly cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const parts = cidr.trim().split("/");
      const [addr = "", lenStr] = parts;
      const family = parts.length <= 2 && (lenStr === undefined || /^\d{1,3}$/.test(lenStr)) ? isIP(addr) : 0;
      const len = lenStr === undefined ? (family === 6 ? 128 : 32) : Number(lenStr);
      if (family === 4 && Number.isInteger(len) && len >= 0 && len <= 32 && lenStr !== "") {
        const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
        this.v4.push({ cidr, base: (v4ToInt(addr) & mask) >>> 0, mask });
      } else if (family === 6 && Number.isInteger(len) && len >= 0 && len <= 128 && lenStr !== "") {
        const mask = len === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - len)) - 1n);
        this.v6.push({ cidr, base: v6ToBig(addr) & mask, mask });
      } else {
        throw new CidrError(`local network '${cidr}' is not a valid CIDR (e.g. 10.0.0.0/8 or fd00::/8)`);
      }
    }
  }

  /** The configured network containing `addr`, or undefined (also for unparsable input). */
  match(addr: string): string | undefined {
    if (addr.includes(":")) {
      if (this.v6.length === 0) return undefined;
      const n = v6ToBig(addr);
      if (n < 0n) return undefined;
      for (const r of this.v6) if ((n & r.mask) === r.base) return r.cidr;
      return undefined;
    }
    const n = v4ToInt(addr);
    if (n < 0) return undefined;
    for (const r of this.v4) if ((n & r.mask) >>> 0 === r.base) return r.cidr;
    return undefined;
  }

  isLocal(addr: string): boolean {
    return this.match(addr) !== undefined;
  }
}
