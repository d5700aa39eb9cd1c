// hugeBuffer(): the aggregator's large tables live in it, so it must behave as an ArrayBuffer
// does (zeroed, writable, the asked length), refuse nonsense, and be unmapped once collected.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { setImmediate as turn } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { nativeEngine } from "./native.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const rssKiB = () => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1]);

describe("hugeBuffer", () => {
  it("is zeroed, writable memory of the asked length", () => {
    const b = nativeEngine().hugeBuffer(5_000_003);
    assert.equal(b.byteLength, 5_000_003);
    const u = new Uint8Array(b);
    assert.equal(
      u.findIndex((x) => x !== 0),
      -1,
    );
    u[0] = 1;
    u[u.length - 1] = 2;
    const f = new Float64Array(b, 0, Math.floor(b.byteLength / 8));
    f[1000] = 1.5;
    assert.equal(new Float64Array(b, 0, 2000)[1000], 1.5);
    assert.equal(u[u.length - 1], 2);
  });

  it("refuses lengths that are not a positive size", () => {
    for (const bad of [0, -1, Number.NaN, 2 ** 41]) {
      assert.throws(() => nativeEngine().hugeBuffer(bad), RangeError, String(bad));
    }
  });

  it("gives its memory back when the buffer is collected", async () => {
    const before = rssKiB();
    for (let i = 0; i < 20; i++) {
      const u = new Uint8Array(nativeEngine().hugeBuffer(64 << 20));
      for (let p = 0; p < u.length; p += 4096) u[p] = 1;
      gc();
      // Node-API finalizers run on a later turn of the event loop.
      await turn();
      await turn();
    }
    gc();
    await turn();
    await turn();
    // 20 x 64 MiB were written; without the unmap RSS would have grown by 1.25 GiB.
    assert.ok(rssKiB() - before < 256 * 1024, `RSS grew by ${rssKiB() - before} KiB`);
  });
});
