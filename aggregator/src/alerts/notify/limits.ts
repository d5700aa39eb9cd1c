// The two bounds every endpoint has: a queue that drops its oldest item when full (a fresh
// alert is worth more than a stale one) and a token bucket for its rate limit.

/** A FIFO ring of fixed capacity; push() returns the item it pushed out, if any. */
export class BoundedQueue<T> {
  private readonly items: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError(`queue capacity ${capacity} must be at least 1`);
    this.items = new Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  push(item: T): T | undefined {
    let evicted: T | undefined;
    if (this.count === this.capacity) evicted = this.shift();
    this.items[(this.head + this.count) % this.capacity] = item;
    this.count++;
    return evicted;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return item;
  }

  clear(): number {
    const n = this.count;
    while (this.count > 0) this.shift();
    return n;
  }
}

/** Sustained `perMinute` with bursts of `burst`; starts full. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly perMs: number;

  constructor(
    perMinute: number,
    private readonly burst: number,
    nowMs: number,
  ) {
    this.perMs = perMinute / 60_000;
    this.tokens = burst;
    this.last = nowMs;
  }

  private refill(nowMs: number): void {
    if (nowMs > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + (nowMs - this.last) * this.perMs);
      this.last = nowMs;
    }
  }

  take(nowMs: number): boolean {
    this.refill(nowMs);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Whether a token is there, without taking it. */
  available(nowMs: number): boolean {
    this.refill(nowMs);
    return this.tokens >= 1;
  }
}
