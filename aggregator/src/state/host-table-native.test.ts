// The native lookups (agent/native/src/host_resolve.c) against the JS ones they stand in for:
// two tables fed the same groups of records, one resolving in C, one in JS, must end up the same
// in everything: slots, hosts created and evicted, least-recently-seen order, last seen. The
// records mix what the resolver must hand back to JS: new hosts (inserts, evictions from a full
// table), keys that collide in the index, non-ASCII and long keys, addresses given as strings,
// and groups whose records come from different buffers.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { describe, it } from "node:test";
import { HOST_LAYOUT, HostTable, PREFETCH_GROUP } from "./host-table.js";
import { IngestFlow } from "./ingest-flow.js";
import { hostResolverFactory } from "./table-memory.js";
import { prng } from "./testing.js";

interface Traced {
  t: HostTable;
  log: string[];
}

function traced(capacity: number, useNative: boolean): Traced {
  const log: string[] = [];
  const t: HostTable = new HostTable(
    capacity,
    4,
    {
      created: (slot, ip) => log.push(`+${slot}:${ip}`),
      evicted: (slot) => log.push(`-${slot}:${t.ip(slot)}`),
    },
    useNative,
  );
  return { t, log };
}

/** Addresses of every kind the lookups treat apart. */
function addressPool(): string[] {
  const pool: string[] = [];
  for (let i = 0; i < 120; i++) pool.push(`10.${i >> 4}.${i & 15}.${(i * 7) % 256}`);
  for (let i = 0; i < 30; i++) pool.push(`fd00:1:2::${i.toString(16)}`);
  // FNV-1a collides on these two (same index home).
  pool.push("10.2.219.40", "10.0.107.237");
  pool.push(`fe80::1%${"e".repeat(50)}`.slice(0, 64), "höst-ä", "x".repeat(65), "");
  return pool;
}

/** A batch of records whose addresses are bytes of one buffer (or, for some, strings). */
function batch(r: (n: number) => number, pool: string[], n: number): IngestFlow[] {
  const parts: Buffer[] = [Buffer.from("head")];
  let at = 4;
  const spans: Array<[string, number, number]> = [];
  const pick = () => pool[r(pool.length) < pool.length / 2 ? r(20) : r(pool.length)] as string;
  for (let i = 0; i < 2 * n; i++) {
    const ip = pick();
    const b = Buffer.from(ip, "utf8");
    parts.push(b);
    spans.push([ip, at, at + b.length]);
    at += b.length;
  }
  const buf = Buffer.concat(parts);
  const other = Buffer.concat([Buffer.from("zz"), buf]);
  const flows: IngestFlow[] = [];
  for (let i = 0; i < n; i++) {
    const f = new IngestFlow();
    const [sip, s0, s1] = spans[2 * i] as [string, number, number];
    const [dip, d0, d1] = spans[2 * i + 1] as [string, number, number];
    const kind = r(20);
    if (kind === 0) {
      f.srcAddr = sip;
      f.dstAddr = dip;
    } else if (kind === 1) {
      // Another buffer in the same group (a record the resolver must leave to JS).
      f.buf = other;
      f.setSrcAddrBytes(s0 + 2, s1 + 2);
      f.setDstAddrBytes(d0 + 2, d1 + 2);
    } else {
      f.buf = buf;
      f.setSrcAddrBytes(s0, s1);
      f.setDstAddrBytes(d0, d1);
    }
    flows.push(f);
  }
  return flows;
}

function state(t: HostTable): string[] {
  return [...t.slots()].map((s) => `${s}:${t.ip(s)}@${t.lastSeenMs(s)}/${t.firstSeenMs(s)}`);
}

const factory = hostResolverFactory();
const skip = factory === null ? "the native addon is not built (make native)" : false;

describe("HostTable native lookups", { skip }, () => {
  it("layout and resolver are in use when the addon is built", () => {
    assert.equal(traced(8, true).t.native, true);
    assert.equal(traced(8, false).t.native, false);
  });

  for (const capacity of [3, 40, 1000, 5000]) {
    it(`change the table exactly as the JS lookups do (capacity ${capacity})`, () => {
      const r = prng(capacity);
      const pool = addressPool();
      for (let i = 0; i < capacity; i++) pool.push(`172.${(i >> 8) & 255}.${i & 255}.9`);
      const native = traced(capacity, true);
      const js = traced(capacity, false);
      let native0 = 0;
      for (let b = 0; b < 60; b++) {
        const flows = batch(r, pool, 1 + r(300));
        const now = 1000 + b * 10 + r(5);
        for (const side of [native, js]) {
          const t = side.t;
          for (let i = 0; i < flows.length; i += PREFETCH_GROUP) {
            const end = Math.min(flows.length, i + PREFETCH_GROUP);
            for (let j = i; j < end; j++) t.groupApps[j - i] = r(3);
            t.prefetch(flows, i, end, now);
            for (let j = i; j < end; j++) {
              t.touchGroupRecord(j - i, flows[j] as IngestFlow, now);
              side.log.push(`${j}>${t.pairSrc},${t.pairDst}`);
              // Counting between lookups, as ingest does: the peers' cells are what the
              // resolver prefetches, and a new host may take a peer's old slot.
              if (t.pairSrc >= 0 && t.pairDst >= 0) {
                t.addPeer(t.pairSrc, t.pairDst, 10, 1, 1);
                t.addApp(t.pairDst, 1, 10, 1, 1);
              }
            }
          }
          if (t === native.t) native0 += flows.length;
        }
        assert.deepEqual(native.log, js.log, `batch ${b}: slots, creations and evictions`);
        assert.deepEqual(state(native.t), state(js.t), `batch ${b}: hosts in LRU order`);
      }
      for (const s of native.t.slots()) {
        assert.deepEqual(native.t.peers(s), js.t.peers(s));
        assert.deepEqual(native.t.apps(s), js.t.apps(s));
      }
      assert.ok(native0 > 0);
      if (capacity < 200) assert.ok(native.t.evictions > 100, "hosts came and went");
    });
  }

  it("refuses bad arguments with an error, and stops rather than read outside its arrays", () => {
    const f = factory as NonNullable<typeof factory>;
    const table = new ArrayBuffer(HOST_LAYOUT.recordBytes * 4);
    const lru = () => new Int32Array(4);
    const ctl = new Int32Array([-1, -1, 4]);
    const addrs = new Int32Array(8);
    const apps = new Int32Array(2);
    const slots = new Int32Array(4);
    const nums = new Float64Array(18);
    const flags = new Int32Array(2);
    const make = (layout: Record<string, number>, lruPrev = lru(), lruNext = lru(), cellCap = 16) =>
      f({
        layout,
        table,
        lruPrev,
        lruNext,
        ctl,
        addrs,
        apps,
        slots,
        nums,
        flags,
        cellCap,
        networks: new Float64Array(5),
        talkBytes: new Float64Array(4),
        talkIdx: new Int32Array(4).fill(-1),
        touched: new Int32Array(4),
        talkCtl: new Int32Array(1),
        keyRanges: new Int32Array(4),
        keyTuples: new Float64Array(8),
        keyHashes: new Float64Array(2),
      });
    assert.throws(() => make({ ...HOST_LAYOUT, keyOffset: -1 }), TypeError);
    assert.throws(() => make({ ...HOST_LAYOUT, recordBytes: 64 }), /does not fit/);
    assert.throws(() => make({ ...HOST_LAYOUT, cellGenInt: 9 }), /outside the cell/);
    assert.throws(() => make({ ...HOST_LAYOUT, otherPeersF64: HOST_LAYOUT.recordBytes / 8 - 2 }), /does not fit/);
    assert.throws(() => make(HOST_LAYOUT, lru(), new Int32Array(3)), /one length/);
    assert.throws(() => make(HOST_LAYOUT, lru(), lru(), 0), /cellCap/);
    assert.throws(
      () => f({ layout: HOST_LAYOUT, table } as unknown as Parameters<typeof f>[0]),
      /must be Float64Arrays/,
      "arrays missing",
    );
    const native = make(HOST_LAYOUT);
    const resolve = (index: Int32Array, batch: Uint8Array, from: number, to: number, now: number) =>
      native.resolve(index, batch, from, to, now);
    const detached = native.resolve;
    assert.throws(
      () => detached(new Int32Array(16), new Uint8Array(1), 0, 0, 0),
      TypeError,
      "called without its object",
    );
    assert.throws(() => native.account(0, 3, 1), RangeError, "beyond the group arrays");
    const index = new Int32Array(16);
    const buf = new Uint8Array(Buffer.from("10.0.0.1"));
    assert.throws(() => resolve(index, buf, 0, 3, 0), RangeError, "beyond the group arrays");
    assert.throws(() => resolve(new Float64Array(4) as unknown as Int32Array, buf, 0, 1, 0), TypeError);
    // Address spans past the buffer's end, and an index naming slots past the table: stops at 0.
    addrs.set([0, 100, 0, 8, 0, 8, 0, 8]);
    assert.equal(resolve(index, buf, 0, 2, 0), 0);
    addrs.set([0, 8, 0, 8]);
    let h = 0x811c9dc5;
    for (const b of buf) h = Math.imul(h ^ b, 0x01000193);
    const home = 2 * (h & 7);
    index[home] = h | 0;
    index[home + 1] = 1000;
    assert.equal(resolve(index, buf, 0, 1, 0), 0, "a slot past the slots in use");
    index[home + 1] = 1;
    assert.equal(resolve(index, buf, 0, 1, 0), 0, "slot 0 holds another key");
    const i32 = new Int32Array(table);
    i32[HOST_LAYOUT.keyLengthInt] = 8;
    new Uint8Array(table).set(buf, HOST_LAYOUT.keyOffset);
    ctl.set([0, 0, 4]);
    assert.equal(resolve(index, buf, 0, 1, 42), 1, "slot 0 holds the key: found");
    assert.deepEqual([...slots.subarray(0, 2)], [0, 0]);
    assert.equal(new Float64Array(table)[HOST_LAYOUT.lastSeenF64], 42);
    assert.equal(resolve(new Int32Array(6), buf, 0, 1, 0), 0, "an index whose size is not a power of two");
  });
});
