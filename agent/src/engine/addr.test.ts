import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatIPv4, formatIPv6 } from "./addr.js";

function v6(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g)?.map((h) => Number.parseInt(h, 16)) ?? []);
}

describe("address formatting", () => {
  it("prints dotted IPv4 at an offset", () => {
    assert.equal(formatIPv4(Uint8Array.from([9, 10, 0, 0, 1]), 1), "10.0.0.1");
  });

  it("prints IPv6 as RFC 5952 says", () => {
    const cases: [string, string][] = [
      ["20010db8000000000000000000000001", "2001:db8::1"],
      ["00000000000000000000000000000000", "::"],
      ["00000000000000000000000000000001", "::1"],
      ["20010db8000000010000000000000000", "2001:db8:0:1::"],
      ["20010db8000000010001000100010001", "2001:db8:0:1:1:1:1:1"], // a single zero group is not compressed
      ["20010db8000000000001000000000001", "2001:db8::1:0:0:1"], // the first of two equal runs
      ["fe800000000000000260097ffeb67ff0", "fe80::260:97f:feb6:7ff0"],
      ["00000000000000000000ffff0a000001", "::ffff:10.0.0.1"],
    ];
    for (const [hex, want] of cases) assert.equal(formatIPv6(v6(hex), 0), want, hex);
  });
});
