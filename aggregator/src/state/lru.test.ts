import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type LruLinks, LruList } from "./lru.js";

class E implements LruLinks<E> {
  lruPrev: E | null = null;
  lruNext: E | null = null;
  constructor(readonly name: string) {}
}

const names = (l: LruList<E>) => [...l].map((e) => e.name);

describe("LruList", () => {
  it("orders by last touch and shifts the least recently used", () => {
    const l = new LruList<E>();
    const [a, b, c] = [new E("a"), new E("b"), new E("c")];
    l.push(a);
    l.push(b);
    l.push(c);
    l.touch(a);
    assert.deepEqual(names(l), ["b", "c", "a"]);
    l.touch(a);
    assert.deepEqual(names(l), ["b", "c", "a"]);
    l.remove(c);
    assert.deepEqual(names(l), ["b", "a"]);
    assert.equal(l.shift(), b);
    assert.equal(l.shift(), a);
    assert.equal(l.shift(), null);
    assert.equal(l.size, 0);
    assert.equal(l.tail, null);
  });
});
