// copyRanges(): the aggregator's flow ring hands it a batch's record copies at once, so it must
// copy exactly the ranges listed, in order (a later copy to the same place wins), relative to the
// views it is given, and stop at the first range that does not fit rather than touch memory
// outside either array.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { nativeEngine } from "./native.js";

const { copyRanges } = nativeEngine();
const src = Uint8Array.from({ length: 64 }, (_, i) => i + 1);

describe("copyRanges", () => {
  it("copies the listed ranges in order, relative to the views", () => {
    const dst = new Uint8Array(32);
    // A view into the middle of a larger buffer: offsets count from the view's start.
    const view = new Uint8Array(src.buffer, 8, 40);
    const jobs = Int32Array.of(0, 4, 0, 10, 3, 8, 0, 2, 2, 39, 1, 31);
    assert.equal(copyRanges(view, dst, jobs, 4), 4);
    assert.deepEqual([...dst.subarray(0, 4)], [9, 10, 9, 10]);
    assert.deepEqual([...dst.subarray(8, 11)], [19, 20, 21]);
    assert.equal(dst[31], 48);
    assert.equal(dst[4], 0, "nothing else written");
  });

  it("does `count` copies, not the whole list", () => {
    const dst = new Uint8Array(8);
    assert.equal(copyRanges(src, dst, Int32Array.of(0, 1, 0, 1, 1, 1), 1), 1);
    assert.deepEqual([...dst.subarray(0, 2)], [1, 0]);
    assert.equal(copyRanges(src, dst, Int32Array.of(0, 1, 0), 0), 0);
  });

  it("stops at a range outside either array, having made the ones before", () => {
    const dst = new Uint8Array(8);
    const cases: Array<[string, number[]]> = [
      ["source end", [60, 5, 0]],
      ["destination end", [0, 4, 5]],
      ["negative source", [-1, 2, 0]],
      ["negative length", [0, -2, 0]],
      ["negative destination", [0, 1, -1]],
    ];
    for (const [what, bad] of cases) {
      dst.fill(0);
      assert.equal(copyRanges(src, dst, Int32Array.from([0, 1, 7, ...bad, 1, 1, 0]), 3), 1, what);
      assert.deepEqual([...dst], [0, 0, 0, 0, 0, 0, 0, 1], `${what}: only the first copy`);
    }
  });

  it("refuses arguments of the wrong kind and counts beyond the list", () => {
    const dst = new Uint8Array(8);
    assert.throws(() => copyRanges(src, dst, Int32Array.of(0, 1, 0), 2), /copyRanges/);
    assert.throws(() => copyRanges(src, dst, new Uint32Array(3) as unknown as Int32Array, 1), /copyRanges/);
    assert.throws(() => copyRanges([] as unknown as Uint8Array, dst, Int32Array.of(0, 1, 0), 1), /copyRanges/);
    assert.throws(() => copyRanges(src, dst, Int32Array.of(0, 1, 0), -1), /copyRanges/);
  });
});
