// A real nats-server (Debian package) with JetStream, on free ports and a temp store.

import { freePorts } from "./ports.js";
import { type ManagedProcess, makeTempDir, removeTempDir, startProcess, waitFor } from "./process.js";

export interface NatsServer {
  url: string;
  port: number;
  monitorUrl: string;
  storeDir: string;
  proc: ManagedProcess;
  stop(): Promise<void>;
}

export interface NatsOptions {
  binary?: string;
  jetstream?: boolean;
  /** Extra nats-server arguments (e.g. --user/--pass). */
  args?: string[];
}

export async function startNats(opts: NatsOptions = {}): Promise<NatsServer> {
  const [port, monitor] = (await freePorts(2)) as [number, number];
  const storeDir = makeTempDir("nats");
  const args = ["-a", "127.0.0.1", "-p", String(port), "-m", String(monitor)];
  if (opts.jetstream ?? true) args.push("-js", "-sd", storeDir);
  args.push(...(opts.args ?? []));
  const proc = startProcess("nats-server", opts.binary ?? process.env.NATS_SERVER ?? "nats-server", args);
  const monitorUrl = `http://127.0.0.1:${monitor}`;
  try {
    // /healthz answers ok only once JetStream is up, not just the listener.
    await waitFor("nats-server /healthz", async () => (await fetch(`${monitorUrl}/healthz`)).ok, {
      proc,
      timeoutMs: 20_000,
    });
  } catch (err) {
    await proc.stop();
    removeTempDir(storeDir);
    throw err;
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    monitorUrl,
    storeDir,
    proc,
    async stop() {
      await proc.stop();
      removeTempDir(storeDir);
    },
  };
}
