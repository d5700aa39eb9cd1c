import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { rng } from "../state/testing.js";
import { KeyTable } from "./key-table.js";

describe("KeyTable", () => {
  it("finds, adds, removes and grows as a Map of the same keys does, through collisions and wrap-around", () => {
    const random = rng(7);
    for (let round = 0; round < 40; round++) {
      let capacity = 8 + Math.floor(random() * 64);
      const max = capacity * 4;
      const t = new KeyTable(capacity);
      // Few distinct low bits in h1 (long probe runs, runs across the table's end), and keys
      // that share h1 and differ by h2 only.
      const spread = [4, 64, 1 << 20][round % 3] as number;
      const key = () => [Math.floor(random() * spread) | 0, Math.floor(random() * 3) - 1] as const;
      const ref = new Map<string, number>();
      for (let op = 0; op < 3000; op++) {
        const [h1, h2] = key();
        const id = `${h1},${h2}`;
        const r = random();
        if (r < 0.45) {
          assert.equal(t.find(h1, h2), ref.get(id) ?? -1, `round ${round} op ${op}: find ${id}`);
        } else if (r < 0.8) {
          if (ref.has(id)) continue;
          const slot = t.add(h1, h2, id);
          if (ref.size >= capacity) {
            assert.equal(slot, -1, "full: refused");
            continue;
          }
          assert.ok(slot >= 0 && slot < capacity, `slot ${slot} within ${capacity}`);
          assert.ok(![...ref.values()].includes(slot), `slot ${slot} not in use`);
          assert.equal(t.labels[slot], id);
          ref.set(id, slot);
        } else if (r < 0.97) {
          const victim = [...ref.keys()][Math.floor(random() * ref.size)];
          if (victim === undefined) continue;
          t.remove(ref.get(victim) as number);
          ref.delete(victim);
        } else if (capacity < max) {
          capacity = Math.min(max, capacity * 2);
          t.grow(capacity);
        }
        assert.equal(t.size, ref.size);
      }
      for (const [id, slot] of ref) {
        const [h1, h2] = id.split(",").map(Number) as [number, number];
        assert.equal(t.find(h1, h2), slot, `round ${round}: ${id} kept its slot`);
      }
      assert.deepEqual(
        t.slots().sort((a, b) => a - b),
        [...ref.values()].sort((a, b) => a - b),
      );
    }
  });
});
