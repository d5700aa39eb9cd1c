// Address text written as bytes must be the text everyone else writes: dotted quads, and for
// IPv6 the WHATWG URL serializer's compression (RFC 5952's: first longest run of two or more
// zero groups, lowercase, no leading zeros), with IPv4-mapped addresses as ::ffff:a.b.c.d.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { prng } from "../state/testing.js";
import { ipv4Text, ipv6Text, MAX_ADDRESS_TEXT, writeIpv4Text, writeIpv6Text } from "./address-text.js";

/** The text the bytes written at an offset spell. */
function written(write: typeof writeIpv4Text, src: Uint8Array, o: number): string {
  const out = new Uint8Array(8 + MAX_ADDRESS_TEXT + 8).fill(0xee);
  const end = write(out, 8, src, o);
  assert.ok(end - 8 <= MAX_ADDRESS_TEXT);
  assert.equal(out[7], 0xee, "nothing written before");
  assert.equal(out[end], 0xee, "nothing written after");
  return Buffer.from(out.subarray(8, end)).toString("latin1");
}

/** IPv6 groups biased towards zero runs and small values, as real addresses have them. */
function randomIpv6(r: (n: number) => number): Uint8Array {
  const b = new Uint8Array(16);
  for (let g = 0; g < 8; g++) {
    const kind = r(4);
    const v = kind === 0 || kind === 1 ? 0 : kind === 2 ? r(0x100) : r(0x10000);
    b[2 * g] = v >> 8;
    b[2 * g + 1] = v & 0xff;
  }
  return b;
}

describe("address text", () => {
  it("writes IPv4 dotted quads, every octet width", () => {
    const r = prng(4);
    const src = new Uint8Array(7);
    for (let i = 0; i < 5000; i++) {
      for (let k = 0; k < src.length; k++) src[k] = r(4) === 0 ? ([0, 9, 10, 99, 100, 255][r(6)] as number) : r(256);
      const o = r(4);
      const want = `${src[o]}.${src[o + 1]}.${src[o + 2]}.${src[o + 3]}`;
      assert.equal(written(writeIpv4Text, src, o), want);
      assert.equal(ipv4Text(src, o), want);
    }
  });

  it("writes IPv6 as the URL serializer compresses it", () => {
    const r = prng(6);
    for (let i = 0; i < 20000; i++) {
      const b = randomIpv6(r);
      const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
      const want = mapped
        ? `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`
        : new URL(
            `http://[${[...Array(8)].map((_, g) => ((b[2 * g] as number) * 256 + (b[2 * g + 1] as number)).toString(16)).join(":")}]/`,
          ).hostname.slice(1, -1);
      assert.equal(written(writeIpv6Text, b, 0), want, Buffer.from(b).toString("hex"));
      assert.equal(ipv6Text(b, 0), want);
    }
  });

  it("writes the edge cases of RFC 5952", () => {
    const v6 = (hex: string) => ipv6Text(Buffer.from(hex, "hex"), 0);
    assert.equal(v6("00000000000000000000000000000000"), "::");
    assert.equal(v6("00000000000000000000000000000001"), "::1");
    assert.equal(v6("20010db8000000000000000000000000"), "2001:db8::");
    // One zero group is not compressed; of two equal runs the first is.
    assert.equal(v6("20010db8000000010001000100010001"), "2001:db8:0:1:1:1:1:1");
    assert.equal(v6("20010db8000000000001000000000001"), "2001:db8::1:0:0:1");
    assert.equal(v6("ffffffffffffffffffffffffffffffff"), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    assert.equal(v6("00000000000000000000ffffc0000280"), "::ffff:192.0.2.128");
    assert.equal(ipv4Text(new Uint8Array([255, 0, 10, 1]), 0), "255.0.10.1");
  });
});
