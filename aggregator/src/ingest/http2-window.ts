// HTTP/2 receive windows for the gRPC ingest. grpc-js leaves its server sessions at HTTP/2's
// default 64 KiB stream and connection windows and has no server option for them (its client
// has `grpc-node.flow_control_window`). A 1,000-flow batch is ~200 KiB, so each crossed in four
// window round trips, the agent stalling between them and the aggregator handling a WINDOW_UPDATE
// and a read per 16 KiB: measured (ingest.mjs grpc, decode-only sink) 1.19M flows per aggregator
// CPU-second and 0.77M/s wall with the defaults, 1.85M and 1.3-1.7M/s with windows of 256 KiB
// to 4 MiB. The window also bounds what one agent can have buffered here unread, so it stays
// small: a few batches.
//
// The call's HTTP/2 session is reached through grpc-js's call objects (not public API); when a
// grpc-js upgrade moves it, nothing breaks but the speed, and GrpcIngest counts the streams it
// could not raise (its test asserts they are none).
import type { Http2Session } from "node:http2";

/** Stream and connection receive window of an ingest session, in bytes. */
export const INGEST_RECEIVE_WINDOW = 1 << 20;

/** The HTTP/2 session under a grpc-js server call, if it can be found. */
export function sessionOf(call: unknown): Http2Session | undefined {
  let o: unknown = call;
  // ServerDuplexStream -> .call (the intercepting call) -> .stream (the Http2Stream) -> .session
  for (let depth = 0; depth < 4 && typeof o === "object" && o !== null; depth++) {
    const session = (o as { session?: unknown }).session;
    if (isSession(session)) return session;
    const r = o as { call?: unknown; stream?: unknown };
    o = r.call ?? r.stream;
  }
  return undefined;
}

function isSession(s: unknown): s is Http2Session {
  return (
    typeof s === "object" &&
    s !== null &&
    typeof (s as Http2Session).settings === "function" &&
    typeof (s as Http2Session).setLocalWindowSize === "function"
  );
}

const raised = new WeakSet<Http2Session>();

/**
 * Raises the receive windows of the session under `call` to `bytes` (once per session).
 * Returns false when there is no session to raise, or it is closing.
 */
export function raiseReceiveWindow(call: unknown, bytes = INGEST_RECEIVE_WINDOW): boolean {
  const session = sessionOf(call);
  if (session === undefined || session.closed || session.destroyed) return false;
  if (raised.has(session)) return true;
  try {
    // Applies to the streams already open too (RFC 9113, 6.9.2).
    session.settings({ initialWindowSize: bytes });
    session.setLocalWindowSize(bytes);
  } catch {
    return false;
  }
  raised.add(session);
  return true;
}
