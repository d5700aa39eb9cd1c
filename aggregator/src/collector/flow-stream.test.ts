import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pb } from "@flowlens/contracts";
import { DelimitedFlowWriter, delimitedRanges, FlowStreamError, readDelimitedFlows } from "./flow-stream.js";

function flow(i: number): pb.Flow {
  return pb.Flow.fromPartial({
    srcAddr: `10.0.${i >> 8}.${i & 255}`,
    dstAddr: "192.0.2.1",
    srcPort: i,
    dstPort: 443,
    proto: 6,
    ipVersion: 4,
    srcToDstBytes: BigInt(i) * 1000n,
    // Some records past 127 bytes (two-byte lengths) and some past 64 (the writer's copy loop).
    l7: "x".repeat(i % 200),
  });
}

/** A stream written with `chunkBytes` chunks, and the chunk sizes the sink saw. */
function write(flows: pb.Flow[], chunkBytes: number): { bytes: Uint8Array; chunks: number[] } {
  const parts: Uint8Array[] = [];
  const w = new DelimitedFlowWriter((c) => parts.push(c.slice()), chunkBytes);
  for (const f of flows) {
    const b = pb.Flow.encode(f).finish();
    // Framed from inside a larger buffer, as records lie in the collector's arena.
    const arena = new Uint8Array(b.length + 20);
    arena.set(b, 7);
    w.add(arena, 7, 7 + b.length);
  }
  w.flush();
  assert.equal(w.records, flows.length);
  return { bytes: Buffer.concat(parts), chunks: parts.map((p) => p.length) };
}

describe("flow stream (length-delimited Flows)", () => {
  it("reads back every record written, whatever the chunk size", () => {
    const flows = Array.from({ length: 500 }, (_, i) => flow(i));
    for (const chunk of [64, 300, 1 << 20]) {
      const { bytes, chunks } = write(flows, chunk);
      assert.ok(
        chunks.every((n) => n <= Math.max(chunk, 300)),
        `chunks of ${chunk}`,
      );
      assert.deepEqual([...readDelimitedFlows(bytes)], flows);
    }
  });

  it("frames as protobuf's writeDelimited does", () => {
    const flows = [flow(1), flow(150)];
    const { bytes } = write(flows, 4096);
    let expected = new Uint8Array(0);
    for (const f of flows) {
      const m = pb.Flow.encode(f).finish();
      const head = m.length < 128 ? [m.length] : [(m.length & 0x7f) | 0x80, m.length >> 7];
      expected = Buffer.concat([expected, Uint8Array.from(head), m]);
    }
    assert.deepEqual(Buffer.from(bytes), Buffer.from(expected));
  });

  it("refuses a cut-short or malformed stream with where it went wrong", () => {
    const { bytes } = write([flow(1), flow(2), flow(3)], 4096);
    const ranges = [...delimitedRanges(bytes)];
    const last = ranges[2] as [number, number];
    assert.throws(() => [...delimitedRanges(bytes.subarray(0, last[1] - 1))], /message at byte \d+ needs \d+ bytes/);
    assert.throws(() => [...delimitedRanges(Uint8Array.of(0x80))], /length cut short at byte 0/);
    assert.throws(() => [...delimitedRanges(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x7f))], FlowStreamError);
    assert.throws(() => [...delimitedRanges(Uint8Array.of(0x80, 0x80, 0x80, 0x01))], /a message of 2097152 bytes/);
    // Bytes that frame fine but are no Flow (field 1 with wire type 7).
    assert.throws(() => [...readDelimitedFlows(Uint8Array.of(2, 0x0f, 0x00))], /not a Flow/);
    assert.deepEqual([...delimitedRanges(new Uint8Array(0))], []);
  });

  it("survives random bytes: only FlowStreamErrors, never a hang", () => {
    let seed = 99;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const good = write(
      Array.from({ length: 50 }, (_, i) => flow(i)),
      4096,
    ).bytes;
    for (let round = 0; round < 2000; round++) {
      const b = good.slice(0, 1 + rand(good.length));
      for (let k = 0; k < 1 + rand(4); k++) b[rand(b.length)] = rand(256);
      try {
        for (const _ of readDelimitedFlows(b)) {
          // decoded: fine
        }
      } catch (err) {
        assert.ok(err instanceof FlowStreamError, String(err));
      }
    }
  });
});
