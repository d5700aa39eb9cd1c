// The work queue between the watches and the reconcilers, with client-go's semantics: a key is
// queued at most once however often it changes; a key being reconciled is never handed to a
// second worker, and if it changes meanwhile it is queued again when the first one is done;
// failures are retried after a per-key exponential delay. Memory is bounded by the number of
// keys (one entry and at most one timer each), never by the number of events.

export interface BackoffOptions {
  /** Delay of the first retry. */
  baseMs: number;
  /** Longest delay between retries. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 250, maxMs: 60_000 };

/** The longest delay setTimeout honours (2^31 - 1 ms). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export class WorkQueue {
  private readonly queue: string[] = [];
  /** Keys waiting to be processed (in `queue`, or to be queued again once done). */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private closed = false;

  constructor(private readonly backoff: BackoffOptions = DEFAULT_BACKOFF) {}

  add(key: string): void {
    if (this.closed || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(key);
      this.processing.add(key);
      waiter(key);
    } else {
      this.queue.push(key);
    }
  }

  /**
   * Adds the key after `ms`; an earlier pending add of the same key wins. Delays beyond what a
   * timer can hold (about 24.8 days; a certificate's renewal is often further away) wake the key
   * at that bound instead: node would otherwise fire the timer at once, in a loop.
   */
  addAfter(key: string, requestedMs: number): void {
    if (this.closed) return;
    if (requestedMs <= 0) {
      this.add(key);
      return;
    }
    const ms = Math.min(requestedMs, MAX_TIMER_MS);
    const at = Date.now() + ms;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Retries the key after its next backoff delay; returns that delay. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** Math.min(n, 30));
    this.addAfter(key, delay);
    return delay;
  }

  /** The key succeeded: its next failure starts the backoff over. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key to process, or undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Must follow every key get() returned: re-queues the key if it was added meanwhile. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.closed) {
      this.dirty.delete(key);
      this.add(key);
    }
  }

  /** Keys waiting (not those being processed). */
  depth(): number {
    return this.queue.length;
  }

  shutdown(): void {
    this.closed = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.queue.length = 0;
    this.dirty.clear();
    this.failures.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}
