// How Flowlens connects to NATS, the same for the agent's exporter and the aggregator's ingest:
// where the servers are, one way to log in, TLS, and the client's reconnect and liveness
// settings.
import { readFileSync } from "node:fs";
import { credsAuthenticator, type NodeConnectionOptions } from "@nats-io/transport-node";

/** TLS towards NATS: a CA to verify the server, and a client certificate if the server asks for one. */
export interface NatsTls {
  /** CA bundle that signed the server's certificate; the system roots when omitted. */
  caFile?: string;
  /** Client certificate and key, for a server that verifies clients. Both or neither. */
  certFile?: string;
  keyFile?: string;
  /** Name to verify the server's certificate against, when it differs from the URL's host. */
  serverName?: string;
}

/** Where NATS is and how to log in: at most one of user/pass, token, creds file (JWT + nkey). */
export interface NatsClientOptions {
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
  /** A creds file of NATS decentralized auth; read again at every connect, so it can rotate. */
  credsFile?: string;
  /** TLS to NATS; plaintext unless given (or a `tls://` server URL). */
  tls?: NatsTls;
}

/**
 * NATS client options from ours; a configuration that cannot work throws fail(reason), where
 * reason names the problem ("no servers given", ...).
 */
export function natsConnectionOptions(
  o: NatsClientOptions & { name: string; reconnectWaitMs: number; connectTimeoutMs: number },
  /** Makes the error thrown for a configuration that cannot work, e.g. "NATS ingest: ...". */
  fail: (message: string) => Error,
): NodeConnectionOptions {
  if (o.servers.length === 0) throw fail("no servers given");
  const methods = [o.user !== undefined, o.token !== undefined, o.credsFile !== undefined].filter(Boolean).length;
  if (methods > 1) throw fail("give one of user/pass, token or credsFile, not several");
  if (o.user !== undefined && o.pass === undefined) throw fail(`user ${o.user} needs a pass`);
  if (Boolean(o.tls?.certFile) !== Boolean(o.tls?.keyFile)) {
    throw fail("tls.certFile and tls.keyFile go together");
  }
  const opts: NodeConnectionOptions = {
    servers: o.servers,
    name: o.name,
    // The client reconnects forever once connected; the first connection is retried by us,
    // so that a stop() can end the attempts.
    maxReconnectAttempts: -1,
    reconnectTimeWait: o.reconnectWaitMs,
    // One connection attempt, TLS handshake and server greeting included. A server that drops a
    // TLS client it does not accept is noticed only by this timeout.
    timeout: o.connectTimeoutMs,
    // A half-open TCP connection (peer gone without a RST) is noticed after two missed pings.
    pingInterval: 10_000,
    // Async stack traces cost a capture per request, i.e. per publish.
    noAsyncTraces: true,
  };
  if (o.credsFile !== undefined) {
    const path = o.credsFile;
    const read = () => {
      try {
        return readFileSync(path);
      } catch (err) {
        throw fail(`NATS creds file ${path}: ${(err as Error).message}`);
      }
    };
    read(); // a missing or unreadable file fails at construction, not at the first connect
    opts.authenticator = credsAuthenticator(() => new Uint8Array(read()));
  } else if (o.token !== undefined) {
    opts.token = o.token;
  } else if (o.user !== undefined) {
    opts.user = o.user;
    opts.pass = o.pass;
  }
  if (o.tls) {
    const { caFile, certFile, keyFile, serverName } = o.tls;
    // Handed to tls.connect as they are: servername sets SNI and the name the certificate is
    // checked against.
    opts.tls = {
      ...(caFile ? { caFile } : {}),
      ...(certFile ? { certFile } : {}),
      ...(keyFile ? { keyFile } : {}),
      ...(serverName ? { servername: serverName } : {}),
    };
  }
  return opts;
}
