// The host table against plain models: a Map in least-recently-seen order for membership and
// eviction, CappedCounters for the per-host peers and applications. Addresses go in as strings
// and as bytes (the decoder's way), with collisions in the index, slots reused, non-ASCII and
// long keys, so that every path of the lookup and of the cells is compared.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { describe, it } from "node:test";
import { AddResult, CappedCounters } from "./capped-counters.js";
import { HostTable } from "./host-table.js";
import { prng } from "./testing.js";

interface Events {
  created: Array<[number, string]>;
  evicted: number[];
}

function table(capacity: number, cellCap = 4): { t: HostTable; ev: Events } {
  const ev: Events = { created: [], evicted: [] };
  const t = new HostTable(capacity, cellCap, {
    created: (slot, ip) => ev.created.push([slot, ip]),
    evicted: (slot) => ev.evicted.push(slot),
  });
  return { t, ev };
}

/** The address as the decoder hands it over: bytes inside a larger buffer. */
function asBytes(ip: string): [Buffer, number, number] {
  const b = Buffer.concat([Buffer.from("xx"), Buffer.from(ip, "utf8"), Buffer.from("yy")]);
  return [b, 2, b.length - 2];
}

describe("HostTable", () => {
  it("finds a host by string and by bytes alike, and tells what is not an address", () => {
    const { t, ev } = table(10);
    const a = t.touch("10.0.0.1", 1);
    assert.equal(t.touchBytes(...asBytes("10.0.0.1"), 2), a);
    const b = t.touchBytes(...asBytes("fd00::1"), 3);
    assert.equal(t.touch("fd00::1", 4), b);
    assert.notEqual(a, b);
    assert.deepEqual(
      ev.created.map(([, ip]) => ip),
      ["10.0.0.1", "fd00::1"],
    );
    assert.equal(t.ip(b), "fd00::1");
    assert.equal(t.lastSeenMs(a), 2);
    assert.equal(t.firstSeenMs(a), 1);
    assert.equal(t.touchBytes(...asBytes(""), 5), -1);
    assert.equal(t.touchBytes(...asBytes("x".repeat(65)), 5), -1);
    // 49 to 64 bytes: a key longer than a record holds, compared as a string.
    const long = `fe80::1%${"e".repeat(50)}`.slice(0, 64);
    const l = t.touchBytes(...asBytes(long), 6);
    assert.ok(l >= 0);
    assert.equal(t.touch(long, 7), l);
    assert.equal(t.find(long), l);
    assert.equal(t.size, 3);
  });

  it("makes one host of byte strings that decode to one string, as string keys would", () => {
    const { t } = table(10);
    // Two different invalid sequences: both decode to U+FFFD then "a".
    const x = t.touchBytes(Buffer.from([0xff, 0x61]), 0, 2, 1);
    const y = t.touchBytes(Buffer.from([0xfe, 0x61]), 0, 2, 2);
    assert.equal(x, y);
    assert.equal(t.ip(x), "\ufffda");
    assert.equal(t.touch("\ufffda", 3), x);
    const u = t.touch("hôte", 4);
    assert.equal(t.touchBytes(...asBytes("hôte"), 5), u);
    assert.equal(t.find("hôte"), u);
    assert.equal(t.find("\ufffda"), x);
    // 64 characters of 2 bytes each: an address, though 128 bytes long.
    const wide = "é".repeat(64);
    assert.ok(t.touchBytes(...asBytes(wide), 6) >= 0);
    assert.equal(t.touchBytes(...asBytes("é".repeat(65)), 7), -1);
  });

  it("touches a record's two hosts as two touches would, in order", () => {
    for (const [src, dst] of [
      ["10.0.0.3", "10.0.0.2"],
      ["10.0.0.2", "10.0.0.4"],
      ["10.0.0.1", "10.0.0.2"],
      ["10.0.0.1", "10.0.0.1"],
      ["hôte", "10.0.0.9"],
      ["", "10.0.0.2"],
    ] as const) {
      const one = table(3);
      const two = table(3);
      for (const ip of ["10.0.0.2", "10.0.0.3", "10.0.0.4"]) {
        one.t.touch(ip, 1);
        two.t.touch(ip, 1);
      }
      const b = Buffer.from(`${src}|${dst}`, "utf8");
      const cut = Buffer.byteLength(src);
      one.t.touchPair(b, 0, cut, cut + 1, b.length, 2);
      const s = two.t.touchBytes(b, 0, cut, 2);
      const d = two.t.touchBytes(b, cut + 1, b.length, 2);
      assert.deepEqual([one.t.pairSrc, one.t.pairDst], [s, d], `${src} -> ${dst}`);
      assert.deepEqual(one.ev, two.ev, `${src} -> ${dst}: same creations and evictions`);
      assert.deepEqual([...one.t.slots()], [...two.t.slots()], `${src} -> ${dst}: same LRU order`);
    }
  });

  it("evicts exactly the least recently seen host, through any churn", () => {
    const r = prng(7);
    // Near the index's load limit, so that probe chains are long and removals shift entries.
    const capacity = 1000;
    const { t, ev } = table(capacity);
    const model = new Map<string, number>();
    let evictions = 0;
    const pool = Array.from({ length: 3000 }, (_, i) =>
      i % 3 === 0 ? `fd00::${i.toString(16)}` : `10.1.${i >> 8}.${i & 255}`,
    );
    for (let step = 0; step < 20_000; step++) {
      const ip = pool[r(pool.length)] as string;
      const viaBytes = r(2) === 0;
      ev.evicted.length = 0;
      const oldest = model.keys().next().value as string;
      const before = model.has(ip);
      const evicts = !before && model.size >= capacity;
      const oldestSlot = model.get(oldest);
      const slot = viaBytes ? t.touchBytes(...asBytes(ip), step) : t.touch(ip, step);
      assert.deepEqual(ev.evicted, evicts ? [oldestSlot] : [], `step ${step}: evicted`);
      if (before) model.delete(ip);
      else if (evicts) {
        model.delete(oldest);
        evictions++;
      }
      model.set(ip, slot);
      assert.equal(t.ip(slot), ip);
      if (step % 2000 === 0 || step > 19_990) {
        assert.equal(t.size, model.size);
        for (const p of pool) assert.equal(t.find(p), model.get(p) ?? -1, `step ${step}: ${p}`);
        assert.deepEqual(
          [...t.slots()].map((s) => t.ip(s)),
          [...model.keys()],
          "least to most recently seen",
        );
      }
    }
    assert.equal(t.evictions, evictions);
    assert.ok(evictions > 1000);
  });

  // 20 keys: more than the record's cells, the rest in blocks.
  for (const cap of [5, 20]) {
    it(`counts peers and applications as CappedCounters would (cap ${cap}), evictions and comebacks included`, () => {
      const r = prng(cap);
      const pool = Array.from({ length: 60 }, (_, i) => `192.0.2.${i}`);
      /** Per host address: the model of its peers and applications, reset when it is evicted. */
      const peers = new Map<string, CappedCounters>();
      const apps = new Map<string, CappedCounters>();
      const evicted: string[] = [];
      // Most of the pool fits: hosts live long enough to fill their cells, and still come and go.
      const ht: HostTable = new HostTable(50, cap, {
        created: () => {},
        evicted: (slot) => evicted.push(ht.ip(slot)),
      });
      for (let step = 0; step < 30_000; step++) {
        const a = pool[r(pool.length)] as string;
        const b = pool[r(pool.length)] as string;
        evicted.length = 0;
        ht.touchPair(...pairBytes(a, b), step);
        for (const ip of evicted) {
          // The model forgets an evicted host's lists.
          peers.delete(ip);
          apps.delete(ip);
        }
        const sa = ht.pairSrc;
        const sb = ht.pairDst;
        const app = r(cap + 4);
        const bytes = 1 + r(1000);
        for (const [h, peer, ip, peerIp] of [
          [sa, sb, a, b],
          [sb, sa, b, a],
        ] as const) {
          const mp = peers.get(ip) ?? new CappedCounters(cap);
          peers.set(ip, mp);
          const ma = apps.get(ip) ?? new CappedCounters(cap);
          apps.set(ip, ma);
          assert.equal(ht.addPeer(h, peer, bytes, 1, 1), mp.add(peerIp, "", bytes, 1, 1), `step ${step}: peer`);
          assert.equal(ht.addApp(h, app, bytes, 1, 1), ma.add(String(app), "", bytes, 1, 1), `step ${step}: app`);
        }
      }
      for (const s of ht.slots()) {
        const ip = ht.ip(s);
        const mp = peers.get(ip) as CappedCounters;
        const ma = apps.get(ip) as CappedCounters;
        const cells = (xs: Array<{ key: unknown; bytes: number; packets: number; flows: number }>) =>
          xs.map((c) => `${String(c.key)}=${c.bytes}/${c.packets}/${c.flows}`).sort();
        assert.deepEqual(cells(ht.peers(s)), cells(mp.sorted()), `${ip}: peers`);
        assert.deepEqual(cells(ht.apps(s)), cells(ma.sorted()), `${ip}: applications`);
        assert.deepEqual(ht.otherPeers(s), mp.other);
        assert.deepEqual(ht.otherApps(s), ma.other);
      }
      assert.ok(ht.evictions > 1000, "hosts came and went");
    });
  }

  it("tells apart hosts whose keys hash alike, in the index and as peers", () => {
    // FNV-1a collides on these two: 0x4638a2c0.
    const x = "10.2.219.40";
    const y = "10.0.107.237";
    const { t } = table(3, 4);
    const h = t.touch("10.9.9.9", 0);
    const a = t.touch(x, 1);
    const b = t.touch(y, 2);
    assert.notEqual(a, b);
    assert.equal(t.touchBytes(...asBytes(y), 3), b);
    assert.equal(t.touchBytes(...asBytes(x), 4), a);
    assert.equal(t.addPeer(h, a, 10, 1, 1), AddResult.NewKey);
    assert.equal(t.addPeer(h, b, 20, 1, 1), AddResult.NewKey, "a different peer, same hash");
    assert.equal(t.addPeer(h, a, 5, 1, 1), AddResult.Counted);
    // x leaves (the least recently seen) for another host, then y for x, which comes back in
    // another slot: still the same peer of h, found by its address.
    t.touch("10.9.9.9", 5);
    t.touch(y, 6);
    t.touch("10.7.7.7", 7);
    assert.equal(t.find(x), -1);
    t.touch("10.9.9.9", 8);
    const x2 = t.touch(x, 9);
    assert.notEqual(x2, a);
    assert.equal(t.find(y), -1);
    assert.equal(t.addPeer(h, x2, 1, 1, 1), AddResult.Counted);
    assert.deepEqual(
      t.peers(h).map((c) => `${String(c.key)}=${c.bytes}`),
      [`${x}=16`, `${y}=20`],
    );
  });

  it("does not take a new host in a reused slot for the peer that was there", () => {
    const x = "10.2.219.40";
    const y = "10.0.107.237";
    // x as the first peer (in the record's first cell), then as a later one (an inline cell),
    // then beyond the inline cells (a block).
    for (const fillers of [0, 1, 16]) {
      const { t } = table(fillers + 2, 20);
      const h = t.touch("10.9.9.9", 0);
      const others = Array.from({ length: fillers }, (_, i) => `10.8.8.${i}`);
      for (const o of others) assert.equal(t.addPeer(h, t.touch(o, 0), 1, 1, 1), AddResult.NewKey);
      const a = t.touch(x, 1);
      assert.equal(t.addPeer(h, a, 10, 1, 1), AddResult.NewKey);
      t.touch("10.9.9.9", 2);
      for (const o of others) t.touch(o, 2);
      // x is evicted and y, whose key hashes as x's, takes its slot.
      const b = t.touch(y, 3);
      assert.equal(b, a, "the slot is reused");
      assert.equal(t.addPeer(h, b, 7, 1, 1), AddResult.NewKey, `${fillers} peers before: y is not x`);
      assert.deepEqual(
        t
          .peers(h)
          .filter((c) => !others.includes(c.key as string))
          .map((c) => `${String(c.key)}=${c.bytes}`),
        [`${x}=10`, `${y}=7`],
      );
    }
  });

  it("answers AddResult as the counters did", () => {
    const { t } = table(4, 2);
    const a = t.touch("a", 0);
    const b = t.touch("b", 0);
    const c = t.touch("c", 0);
    assert.equal(t.addPeer(a, b, 1, 1, 1), AddResult.NewKey);
    assert.equal(t.addPeer(a, b, 1, 1, 1), AddResult.Counted);
    assert.equal(t.addPeer(a, c, 1, 1, 1), AddResult.NewKey);
    assert.equal(t.addPeer(a, a, 1, 1, 1), AddResult.Other);
    assert.deepEqual(t.otherPeers(a), { bytes: 1, packets: 1, flows: 1 });
    assert.equal(t.peerCount(a), 2);
  });
});

function pairBytes(a: string, b: string): [Buffer, number, number, number, number] {
  const buf = Buffer.from(`${a} ${b}`, "utf8");
  const cut = Buffer.byteLength(a);
  return [buf, 0, cut, cut + 1, buf.length];
}
