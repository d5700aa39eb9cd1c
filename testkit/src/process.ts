// Child processes for tests: started with their output kept (last lines shown when they fail),
// stopped with SIGTERM then SIGKILL, and always killed when the test process exits.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous last resort: a test that crashed or forgot stop() must not leave daemons behind.
  process.on("exit", () => {
    for (const c of live) if (c.pid !== undefined && c.exitCode === null) tryKill(c.pid, "SIGKILL");
    for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  });
}

function tryKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** A temp directory removed by the returned cleanup (and at process exit at the latest). */
export function makeTempDir(prefix: string): string {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), `flowlens-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** The last lines of stdout and stderr, for error messages. */
  output(): string;
  exited(): boolean;
  /** SIGTERM, then SIGKILL after graceMs; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Lines of output to keep. */
  keepLines?: number;
}

export function startProcess(name: string, cmd: string, args: string[], opts: StartOptions = {}): ManagedProcess {
  installExitHook();
  const child = spawn(cmd, args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  live.add(child);
  // A process a test forgot to stop must not keep the test file's event loop alive: the exit
  // hook kills it instead.
  child.unref();
  (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  const keep = opts.keepLines ?? 60;
  const lines: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const l of chunk.toString("utf8").split("\n")) if (l) lines.push(l);
    if (lines.length > keep) lines.splice(0, lines.length - keep);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.once("exit", () => live.delete(child));
  child.once("error", (err) => lines.push(`spawn error: ${err.message}`));
  const pid = child.pid;
  return {
    name,
    child,
    pid,
    output: () => lines.join("\n"),
    exited: () => child.exitCode !== null || child.signalCode !== null,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.ref(); // the exit event must keep the loop alive while someone waits for it
      tryKill(pid, "SIGTERM");
      const timer = setTimeout(() => tryKill(pid, "SIGKILL"), graceMs);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** Polls `probe` until it returns a truthy value; fails with `what` and the process output. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  {
    timeoutMs = 30_000,
    intervalMs = 100,
    proc,
  }: { timeoutMs?: number; intervalMs?: number; proc?: ManagedProcess } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    if (proc?.exited()) {
      throw new Error(`${proc.name} exited while waiting for ${what}:\n${proc.output()}`);
    }
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      const tail = proc ? `\n--- ${proc.name} output ---\n${proc.output()}` : "";
      const why = lastErr ? ` (last error: ${(lastErr as Error).message})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}${tail}`);
    }
    await sleep(intervalMs);
  }
}

/** Waits until `probe` holds for a freshly started process; stops the process if it never does. */
export async function readyOrStop(
  proc: ManagedProcess,
  what: string,
  probe: () => Promise<unknown> | unknown,
  timeoutMs = 10_000,
): Promise<ManagedProcess> {
  try {
    await waitFor(what, async () => Boolean(await probe()), { proc, timeoutMs });
    return proc;
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

/** Whether a process with this pid is still running. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs a command to completion; throws with its output if it fails. */
export function run(
  cmd: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): string {
  const r = spawnSync(cmd, args, {
    input: opts.input,
    env: opts.env ?? process.env,
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 60_000,
  });
  if (r.error) throw new Error(`${cmd} ${args.join(" ")}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}

/** Whether a command is on PATH. */
export function haveCommand(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}
