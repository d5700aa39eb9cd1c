// A real NSCA daemon (Debian package nsca) for tests: in the foreground on a free loopback
// port, writing the passive check results it accepts to a command file in a temp directory
// (a plain file appended to, instead of Nagios's FIFO), which lines() reads back.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { freePort } from "./ports.js";
import { haveCommand, type ManagedProcess, makeTempDir, removeTempDir, startProcess, waitFor } from "./process.js";

const nscaBin = (): string => process.env.NSCA ?? (existsSync("/usr/sbin/nsca") ? "/usr/sbin/nsca" : "nsca");

/** A skip reason when the nsca daemon is not installed, false when it is. */
export function nscaUnavailable(): string | false {
  return haveCommand(nscaBin()) ? false : "nsca not installed (Debian package nsca)";
}

export interface NscaServer {
  host: string;
  port: number;
  dir: string;
  commandFile: string;
  proc: ManagedProcess;
  /** The external command lines NSCA has written so far. */
  lines(): string[];
  stop(): Promise<void>;
}

/** `decryption` 0 (none) or 1 (XOR), the methods that need no libmcrypt on the client. */
export async function startNsca(opts: { password?: string; decryption?: 0 | 1 } = {}): Promise<NscaServer> {
  const dir = makeTempDir("nsca");
  const port = await freePort();
  const commandFile = join(dir, "nagios.cmd");
  writeFileSync(commandFile, "");
  const cfg = join(dir, "nsca.cfg");
  writeFileSync(
    cfg,
    [
      `pid_file=${join(dir, "nsca.pid")}`,
      `server_port=${port}`,
      "server_address=127.0.0.1",
      `command_file=${commandFile}`,
      `alternate_dump_file=${join(dir, "dump")}`,
      "append_to_file=1",
      "aggregate_writes=0",
      "max_packet_age=30",
      "debug=0",
      `decryption_method=${opts.decryption ?? 1}`,
      ...(opts.password ? [`password=${opts.password}`] : []),
      "",
    ].join("\n"),
  );
  const proc = startProcess("nsca", nscaBin(), ["-f", "-c", cfg, "--single"]);
  const stop = async () => {
    await proc.stop();
    removeTempDir(dir);
  };
  try {
    // Ready when it accepts a connection (it sends its 132-byte init packet at once).
    await waitFor(
      "nsca listening",
      () =>
        new Promise<boolean>((resolve) => {
          const s = connect({ host: "127.0.0.1", port }, () => {
            s.destroy();
            resolve(true);
          });
          s.on("error", () => resolve(false));
        }),
      { proc, timeoutMs: 10_000, intervalMs: 50 },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    host: "127.0.0.1",
    port,
    dir,
    commandFile,
    proc,
    lines: () => readFileSync(commandFile, "utf8").split("\n").filter(Boolean),
    stop,
  };
}
