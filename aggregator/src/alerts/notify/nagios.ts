// Nagios-compatible passive check results, two ways:
//  - the external command file (Nagios/Icinga's FIFO, e.g. /var/lib/nagios4/rw/nagios.cmd):
//    "[<unix ts>] PROCESS_SERVICE_CHECK_RESULT;<host>;<service>;<code>;<output>\n", one write
//    per line (atomic on a FIFO below PIPE_BUF), opened non-blocking so a FIFO nobody reads
//    is an error (ENXIO) instead of a hang;
//  - NSCA (send_nsca's protocol, 2.9+ packet): the server sends a 132-byte init packet (128-byte
//    IV, 32-bit timestamp); the client answers with one 4304-byte data packet (version 3, CRC32,
//    that timestamp, return code, host[64], service[128], output[4096]), XOR-obfuscated with
//    the IV and the password (method 1) or plain (method 0). The mcrypt ciphers are not
//    implemented. NSCA never acknowledges: a packet written and the connection closed cleanly
//    is a delivery.
// Return codes: released 0 (OK); engaged and flow alerts: info 0, warning 1, error and critical 2.
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { crc32 } from "node:zlib";
import { abortPromise, type Delivery, DeliveryError, type NotifyEndpoint } from "./endpoint.js";
import type { KindSettings } from "./settings.js";
import type { AlertNotification } from "./types.js";

type NagiosSettings = Extract<KindSettings, { kind: "nagios" }>;

export const NSCA_IV_SIZE = 128;
export const NSCA_INIT_PACKET_SIZE = 132;
export const NSCA_HOST_MAX = 64;
export const NSCA_SERVICE_MAX = 128;
export const NSCA_OUTPUT_MAX = 4096;
// C struct layout: int16 version, 2 bytes padding, uint32 crc, uint32 timestamp, int16 code,
// the three strings, then padding to a multiple of 4.
export const NSCA_PACKET_SIZE = 4304;
const OFF_CRC = 4;
const OFF_TS = 8;
const OFF_CODE = 12;
const OFF_HOST = 14;
const OFF_SERVICE = OFF_HOST + NSCA_HOST_MAX;
const OFF_OUTPUT = OFF_SERVICE + NSCA_SERVICE_MAX;

/** Bytes per command line: below PIPE_BUF, so a line is never interleaved with another writer's. */
const MAX_COMMAND_LINE = 4000;

export function nagiosCode(n: AlertNotification): 0 | 1 | 2 {
  if (n.event === "released") return 0;
  if (n.severity === "info") return 0;
  return n.severity === "warning" ? 1 : 2;
}

/**
 * Plugin output of at most `maxBytes`: one line, no '|' (it starts performance data), then the
 * value as performance data, which a long summary is cut to make room for.
 */
export function pluginOutput(n: AlertNotification, maxBytes: number): string {
  const what = n.event === "released" ? "RELEASED" : n.severity.toUpperCase();
  const text = `${what}: ${n.summary} (${n.entity.kind} ${n.entity.value})`.replace(/\s*[\r\n|]+\s*/g, " ");
  const perf = Number.isFinite(n.value)
    ? `|value=${n.value};;${n.threshold !== undefined && Number.isFinite(n.threshold) ? n.threshold : ""}`
    : "";
  return `${clipBytes(text, maxBytes - Buffer.byteLength(perf)).toString("utf8")}${perf}`;
}

function serviceName(s: NagiosSettings, n: AlertNotification): string {
  return (s.service ?? n.rule).replace(/[;\r\n\t]/g, "_");
}

/** Cuts to at most `max` UTF-8 bytes without splitting a character. */
function clipBytes(s: string, max: number): Buffer {
  const b = Buffer.from(s, "utf8");
  if (b.length <= max) return b;
  let end = max;
  while (end > 0 && ((b[end] ?? 0) & 0xc0) === 0x80) end--;
  return b.subarray(0, end);
}

export function commandLine(s: NagiosSettings, n: AlertNotification, nowMs: number): string {
  const head = `[${Math.floor(nowMs / 1000)}] PROCESS_SERVICE_CHECK_RESULT;${s.mode === "nsca" ? s.nagiosHost : s.host};${serviceName(s, n)};${nagiosCode(n)};`;
  return `${head}${pluginOutput(n, MAX_COMMAND_LINE - Buffer.byteLength(head) - 1)}\n`;
}

/** A string field as send_nsca fills it: the text and a NUL over the random fill. */
function putField(buf: Buffer, offset: number, size: number, text: string): void {
  const b = clipBytes(text, size - 1);
  b.copy(buf, offset);
  buf[offset + b.length] = 0;
}

/** The NSCA data packet, encrypted, for an init packet received from the server. */
export function nscaPacket(
  init: Buffer,
  hostName: string,
  service: string,
  code: number,
  output: string,
  password: string,
  encryption: 0 | 1,
): Buffer {
  if (init.length !== NSCA_INIT_PACKET_SIZE) throw new Error(`NSCA init packet of ${init.length} bytes`);
  // Random alphanumeric fill, as send_nsca does, so the padding after each string does not
  // expose the XOR key stream.
  const p = randomBytes(NSCA_PACKET_SIZE);
  for (let i = 0; i < p.length; i++) p[i] = 48 + ((p[i] ?? 0) % 72);
  p.writeInt16BE(3, 0);
  p.writeUInt16BE(0, 2);
  p.writeUInt32BE(0, OFF_CRC);
  p.writeUInt32BE(init.readUInt32BE(NSCA_IV_SIZE), OFF_TS);
  p.writeInt16BE(code, OFF_CODE);
  putField(p, OFF_HOST, NSCA_HOST_MAX, hostName);
  putField(p, OFF_SERVICE, NSCA_SERVICE_MAX, service);
  putField(p, OFF_OUTPUT, NSCA_OUTPUT_MAX, output);
  // The CRC covers the whole packet, trailing padding included, with the CRC field zero.
  p.writeUInt32BE(crc32(p), OFF_CRC);
  if (encryption === 1) {
    for (let i = 0; i < p.length; i++) p[i] = (p[i] ?? 0) ^ (init[i % NSCA_IV_SIZE] ?? 0);
    const pw = Buffer.from(password, "utf8");
    if (pw.length > 0) for (let i = 0; i < p.length; i++) p[i] = (p[i] ?? 0) ^ (pw[i % pw.length] ?? 0);
  }
  return p;
}

async function sendNsca(s: Extract<NagiosSettings, { mode: "nsca" }>, n: AlertNotification, signal: AbortSignal) {
  const sock: Socket = connect({ host: s.host, port: s.port });
  const onAbort = () => sock.destroy();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const init = await Promise.race([
      new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        sock.on("data", (c: Buffer) => {
          chunks.push(c);
          size += c.length;
          if (size >= NSCA_INIT_PACKET_SIZE) resolve(Buffer.concat(chunks).subarray(0, NSCA_INIT_PACKET_SIZE));
        });
        sock.once("error", reject);
        sock.once("end", () => reject(new Error("connection closed before the NSCA init packet")));
      }),
      abortPromise(signal),
    ]);
    const packet = nscaPacket(
      init,
      s.nagiosHost,
      serviceName(s, n),
      nagiosCode(n),
      pluginOutput(n, NSCA_OUTPUT_MAX - 1),
      s.password,
      s.encryption,
    );
    await Promise.race([
      new Promise<void>((resolve, reject) => {
        sock.once("error", reject);
        sock.end(packet, () => resolve());
      }),
      abortPromise(signal),
    ]);
  } finally {
    signal.removeEventListener("abort", onAbort);
    sock.destroy();
  }
}

async function writeCommandFile(path: string, line: string): Promise<void> {
  // No O_CREAT: the command file is the monitoring server's (a FIFO); a missing one is an error.
  const fh = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_NONBLOCK);
  try {
    const b = Buffer.from(line, "utf8");
    const { bytesWritten } = await fh.write(b, 0, b.length);
    if (bytesWritten !== b.length) throw new Error(`short write (${bytesWritten} of ${b.length} bytes)`);
  } finally {
    await fh.close();
  }
}

export class NagiosEndpoint implements NotifyEndpoint {
  readonly summarises = false;

  constructor(
    private readonly s: NagiosSettings,
    private readonly now: () => number = Date.now,
  ) {}

  async deliver(d: Delivery, signal: AbortSignal): Promise<void> {
    if (d.type !== "alert") throw new DeliveryError(`nagios: no ${d.type} deliveries`, false);
    const where = this.s.mode === "nsca" ? `nsca ${this.s.host}:${this.s.port}` : `nagios command file ${this.s.path}`;
    try {
      if (this.s.mode === "nsca") await sendNsca(this.s, d.n, signal);
      else
        await Promise.race([writeCommandFile(this.s.path, commandLine(this.s, d.n, this.now())), abortPromise(signal)]);
    } catch (err) {
      if (err instanceof DeliveryError) throw err;
      const e = err as NodeJS.ErrnoException;
      // ENXIO: a FIFO without a reader (Nagios not running); ENOENT: not created yet. Both may heal.
      const retryable = this.s.mode === "nsca" || ["ENXIO", "ENOENT", "EAGAIN", "EINTR"].includes(e.code ?? "");
      throw new DeliveryError(`${where}: ${e.message}`, retryable, undefined, { cause: err });
    }
  }

  async close(): Promise<void> {}
}
