// A real nats-server (Debian package) with JetStream, on free ports and a temp store, on
// loopback or inside a network namespace. It can be halted and restarted on the same ports and
// store, so that tests can stage a server outage.

import type { Host } from "./netns.js";
import { freePorts } from "./ports.js";
import { type ManagedProcess, makeTempDir, removeTempDir, startProcess, waitFor } from "./process.js";

export interface NatsServer {
  url: string;
  port: number;
  monitorUrl: string;
  storeDir: string;
  /** Set when the server runs inside a network namespace: `url` is valid from there. */
  host?: Host;
  /** The running process (a new one after each restart()). */
  readonly proc: ManagedProcess;
  /** Whether the server process is running (false between halt() and restart()). */
  readonly running: boolean;
  /**
   * Stops the process but keeps the ports and the JetStream store for restart(). SIGTERM is a
   * clean shutdown; SIGKILL stages a crash.
   */
  halt(opts?: { signal?: "SIGTERM" | "SIGKILL" }): Promise<void>;
  /** Starts the server again on the same ports and store; resolves once JetStream is up. */
  restart(): Promise<void>;
  /** Stops the server for good and removes its store. */
  stop(): Promise<void>;
}

export interface NatsOptions {
  binary?: string;
  jetstream?: boolean;
  /** Extra nats-server arguments (e.g. --user/--pass, --auth TOKEN). */
  args?: string[];
  /**
   * Run inside this network namespace, listening on all its addresses so that other hosts of
   * the lab can reach it; without it, the server listens on 127.0.0.1 only.
   */
  host?: Host;
}

export async function startNats(opts: NatsOptions = {}): Promise<NatsServer> {
  const [port, monitor] = (await freePorts(2)) as [number, number];
  const storeDir = makeTempDir("nats");
  const host = opts.host;
  const args = ["-a", host ? "0.0.0.0" : "127.0.0.1", "-p", String(port), "-m", String(monitor)];
  if (opts.jetstream ?? true) args.push("-js", "-sd", storeDir);
  args.push(...(opts.args ?? []));
  const binary = opts.binary ?? process.env.NATS_SERVER ?? "nats-server";
  const monitorUrl = `http://127.0.0.1:${monitor}`;

  const healthy = async (): Promise<boolean> => {
    if (!host) return (await fetch(`${monitorUrl}/healthz`)).ok;
    host.exec("curl", ["-sS", "--fail", "--max-time", "2", `${monitorUrl}/healthz`], { timeoutMs: 5000 });
    return true;
  };
  const launch = async (): Promise<ManagedProcess> => {
    const proc = host ? host.spawn("nats-server", binary, args) : startProcess("nats-server", binary, args);
    try {
      // /healthz answers ok only once JetStream is up, not just the listener.
      await waitFor("nats-server /healthz", healthy, {
        proc,
        timeoutMs: 20_000,
      });
    } catch (err) {
      await proc.stop();
      throw err;
    }
    return proc;
  };

  let proc: ManagedProcess;
  try {
    proc = await launch();
  } catch (err) {
    removeTempDir(storeDir);
    throw err;
  }
  let halted = false;
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    monitorUrl,
    storeDir,
    ...(host ? { host } : {}),
    get proc() {
      return proc;
    },
    get running() {
      return !halted && !proc.exited();
    },
    async halt({ signal = "SIGTERM" } = {}) {
      halted = true;
      if (signal === "SIGKILL") {
        // stop() with no grace period sends SIGTERM and SIGKILL back to back; a crash must not
        // get the chance to flush anything, so kill outright.
        if (!proc.exited()) {
          proc.child.ref();
          const gone = new Promise<void>((resolve) => proc.child.once("exit", () => resolve()));
          proc.child.kill("SIGKILL");
          await gone;
        }
      } else {
        await proc.stop();
      }
    },
    async restart() {
      if (!proc.exited()) throw new Error(`nats-server on port ${port} is still running; halt() it first`);
      proc = await launch();
      halted = false;
    },
    async stop() {
      halted = true;
      await proc.stop();
      removeTempDir(storeDir);
    },
  };
}
