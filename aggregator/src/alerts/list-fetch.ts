// Fetches a text list (a blacklist) from an http(s) URL inside the cluster, bounded in time and
// size, with a conditional GET so an unchanged list costs a 304 and no parsing.

export interface ListFetchOptions {
  timeoutMs: number;
  maxBytes: number;
  /** Validators of the last good copy, sent back as If-None-Match / If-Modified-Since. */
  etag?: string;
  lastModified?: string;
}

export type ListFetchResult =
  | { changed: true; text: string; etag?: string; lastModified?: string }
  | { changed: false };

/** One GET of the list; throws an Error saying what went wrong (status, timeout, size, network). */
export async function fetchList(url: string, opts: ListFetchOptions): Promise<ListFetchResult> {
  const headers: Record<string, string> = { accept: "text/plain, */*" };
  if (opts.etag !== undefined) headers["if-none-match"] = opts.etag;
  if (opts.lastModified !== undefined) headers["if-modified-since"] = opts.lastModified;
  // One signal for the whole exchange: a server that answers headers and then trickles the
  // body is cut at the same deadline.
  const signal = AbortSignal.timeout(opts.timeoutMs);
  try {
    const res = await fetch(url, { headers, signal, redirect: "follow" });
    if (res.status === 304) {
      await res.body?.cancel();
      return { changed: false };
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
    }
    const declared = Number(res.headers.get("content-length"));
    if (Number.isFinite(declared) && declared > opts.maxBytes) {
      await res.body?.cancel();
      throw new Error(`${declared} bytes, more than the ${opts.maxBytes} allowed`);
    }
    const text = await readBounded(res, opts.maxBytes);
    const etag = res.headers.get("etag") ?? undefined;
    const lastModified = res.headers.get("last-modified") ?? undefined;
    return {
      changed: true,
      text,
      ...(etag !== undefined ? { etag } : {}),
      ...(lastModified !== undefined ? { lastModified } : {}),
    };
  } catch (err) {
    throw new Error(`fetching ${url}: ${describe(err, signal, opts.timeoutMs)}`);
  }
}

async function readBounded(res: Response, maxBytes: number): Promise<string> {
  if (res.body === null) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new Error(`body over the ${maxBytes} bytes allowed`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total).toString("utf8");
}

function describe(err: unknown, signal: AbortSignal, timeoutMs: number): string {
  if (signal.aborted) return `no complete answer within ${timeoutMs} ms`;
  const e = err as Error & { cause?: Error };
  // undici says "fetch failed" and keeps the reason (ECONNREFUSED, ...) in the cause.
  return e.cause?.message ? `${e.message}: ${e.cause.message}` : e.message;
}
