// Syslog, RFC 5424 messages over UDP (RFC 5426: one message per datagram), TCP with
// octet-counting framing (RFC 6587 3.4.1: "LEN SP MSG") and TLS (RFC 5425, same framing). The
// alert travels as structured data (one SD-ELEMENT, SD-ID flowlens@32473 by default: 32473 is
// the documentation enterprise number of RFC 5612; set options.sdId to your own) and as a
// human-readable MSG. Stream connections are kept open and reopened after an error.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { readFile } from "node:fs/promises";
import { isIP, connect as netConnect, type Socket } from "node:net";
import { hostname as osHostname } from "node:os";
import { connect as tlsConnect } from "node:tls";
import { abortPromise, type Delivery, DeliveryError, headline, type NotifyEndpoint, summaryText } from "./endpoint.js";
import type { KindSettings } from "./settings.js";
import type { AlertNotification, AlertSeverity } from "./types.js";

type SyslogSettings = Extract<KindSettings, { kind: "syslog" }>;

/** RFC 5424 severities. */
export const SYSLOG_SEVERITY: Readonly<Record<AlertSeverity, number>> = {
  critical: 2,
  error: 3,
  warning: 4,
  info: 6,
};
const NOTICE = 5;
const BOM = "\uFEFF";

/** PARAM-VALUE escaping (RFC 5424 6.3.3): '"', '\' and ']' take a backslash. */
export function sdEscape(v: string): string {
  return v.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** A PARAM-NAME: printable US-ASCII without '=', SP, ']', '"', at most 32 characters. */
export function sdParamName(k: string): string | undefined {
  const s = k.replace(/[^!#-<>-\\^-~]/g, "_").slice(0, 32);
  return s === "" ? undefined : s;
}

function header(s: SyslogSettings, severity: number, msgId: string, nowMs: number, host: string): string {
  const pri = s.facility * 8 + severity;
  return `<${pri}>1 ${new Date(nowMs).toISOString()} ${host} ${s.appName} ${process.pid} ${msgId}`;
}

function alertParams(n: AlertNotification, withLabels: boolean): [string, string][] {
  const p: [string, string][] = [
    ["id", n.id],
    ["event", n.event],
    ["rule", n.rule],
    ["severity", n.severity],
    ["entityKind", n.entity.kind],
    ["entity", n.entity.value],
    ["value", String(n.value)],
  ];
  if (n.check) p.push(["check", n.check]);
  if (n.metric) p.push(["metric", n.metric]);
  if (n.threshold !== undefined) p.push(["threshold", String(n.threshold)]);
  if (n.peak !== undefined) p.push(["peak", String(n.peak)]);
  p.push(["startedAt", new Date(n.startedAtMs).toISOString()]);
  if (n.endedAtMs !== undefined) p.push(["endedAt", new Date(n.endedAtMs).toISOString()]);
  if (withLabels) {
    for (const [k, v] of Object.entries(n.labels)) {
      const name = sdParamName(`label.${k}`);
      if (name) p.push([name, v]);
    }
  }
  return p;
}

function sdElement(id: string, params: [string, string][]): string {
  return `[${id}${params.map(([k, v]) => ` ${k}="${sdEscape(v)}"`).join("")}]`;
}

/** Cuts a string to at most `max` UTF-8 bytes without splitting a character. */
function clipBytes(s: string, max: number): string {
  const b = Buffer.from(s, "utf8");
  if (b.length <= max) return s;
  let end = Math.max(0, max);
  while (end > 0 && ((b[end] ?? 0) & 0xc0) === 0x80) end--;
  return b.subarray(0, end).toString("utf8");
}

/** The RFC 5424 message of a delivery, at most `s.maxMessageBytes` bytes. */
export function syslogMessage(s: SyslogSettings, d: Delivery, nowMs: number, host: string): string {
  let severity: number;
  let msgId: string;
  let sdFull: string;
  let sdShort: string;
  let text: string;
  if (d.type === "alert") {
    const n = d.n;
    severity = n.event === "released" ? NOTICE : SYSLOG_SEVERITY[n.severity];
    msgId = n.event.toUpperCase();
    sdFull = sdElement(s.sdId, alertParams(n, true));
    sdShort = sdElement(s.sdId, alertParams(n, false));
    text = `${headline(n)}: ${n.summary}`;
  } else if (d.type === "summary") {
    const sum = d.summary;
    severity = NOTICE;
    msgId = "SUPPRESSED";
    const p: [string, string][] = [
      ["count", String(sum.count)],
      ...Object.entries(sum.bySeverity).map(([k, v]): [string, string] => [k, String(v)]),
      ["from", new Date(sum.fromMs).toISOString()],
      ["to", new Date(sum.toMs).toISOString()],
    ];
    sdFull = sdShort = sdElement(s.sdId, p);
    text = summaryText(sum);
  } else {
    throw new DeliveryError("syslog: no resend", false);
  }
  const head = header(s, severity, msgId, nowMs, host);
  let sd = sdFull;
  if (Buffer.byteLength(`${head} ${sd} ${BOM}`) > s.maxMessageBytes) sd = sdShort;
  const prefix = `${head} ${sd} ${BOM}`;
  const room = s.maxMessageBytes - Buffer.byteLength(prefix);
  return room > 0 ? prefix + clipBytes(text, room) : clipBytes(`${head} ${sd}`, s.maxMessageBytes);
}

export class SyslogEndpoint implements NotifyEndpoint {
  readonly summarises = true;
  private udp: UdpSocket | undefined;
  private stream: Socket | undefined;
  private readonly host: string;

  constructor(
    private readonly s: SyslogSettings,
    private readonly now: () => number = Date.now,
  ) {
    const h = osHostname();
    this.host = s.hostname || (/^[!-~]{1,255}$/.test(h) ? h : "-");
  }

  async deliver(d: Delivery, signal: AbortSignal): Promise<void> {
    const msg = Buffer.from(syslogMessage(this.s, d, this.now(), this.host), "utf8");
    const where = `syslog ${this.s.transport}://${this.s.host}:${this.s.port}`;
    try {
      if (this.s.transport === "udp") await this.sendUdp(msg, signal);
      else await this.sendStream(Buffer.concat([Buffer.from(`${msg.length} `), msg]), signal);
    } catch (err) {
      if (err instanceof DeliveryError) throw err;
      throw new DeliveryError(`${where}: ${(err as Error).message}`, true, undefined, { cause: err });
    }
  }

  private async sendUdp(msg: Buffer, signal: AbortSignal): Promise<void> {
    if (!this.udp) {
      const sock = createSocket(isIP(this.s.host) === 6 ? "udp6" : "udp4");
      // A connected socket: ICMP port unreachable comes back as an error on a later send.
      sock.on("error", () => {
        if (this.udp === sock) this.udp = undefined;
        sock.close();
      });
      sock.unref();
      await Promise.race([
        new Promise<void>((resolve, reject) =>
          sock.connect(this.s.port, this.s.host, (err?: Error) => (err ? reject(err) : resolve())),
        ),
        abortPromise(signal),
      ]).catch((err) => {
        sock.close();
        throw err;
      });
      this.udp = sock;
    }
    const sock = this.udp;
    await Promise.race([
      new Promise<void>((resolve, reject) =>
        sock.send(msg, (err) => {
          if (!err) return resolve();
          if (this.udp === sock) this.udp = undefined;
          sock.close();
          reject(err);
        }),
      ),
      abortPromise(signal),
    ]);
  }

  private async openStream(signal: AbortSignal): Promise<Socket> {
    const ca = this.s.caFile ? await readFile(this.s.caFile) : undefined;
    const sock =
      this.s.transport === "tls"
        ? tlsConnect({
            host: this.s.host,
            port: this.s.port,
            ...(ca ? { ca } : {}),
            ...(isIP(this.s.host) ? {} : { servername: this.s.host }),
          })
        : netConnect({ host: this.s.host, port: this.s.port });
    const ready = this.s.transport === "tls" ? "secureConnect" : "connect";
    const onAbort = () => sock.destroy();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await Promise.race([
        new Promise<void>((resolve, reject) => {
          sock.once(ready, () => resolve());
          sock.once("error", reject);
        }),
        abortPromise(signal),
      ]);
    } catch (err) {
      sock.destroy();
      throw err;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
    sock.setKeepAlive(true, 30_000);
    // The receiver never talks back; whatever it sends is read and dropped.
    sock.on("data", () => {});
    const forget = () => {
      if (this.stream === sock) this.stream = undefined;
    };
    sock.on("error", forget);
    sock.on("close", forget);
    sock.unref();
    return sock;
  }

  private async sendStream(frame: Buffer, signal: AbortSignal): Promise<void> {
    this.stream ??= await this.openStream(signal);
    const sock = this.stream;
    await Promise.race([
      new Promise<void>((resolve, reject) => {
        sock.write(frame, (err) => {
          if (!err) return resolve();
          sock.destroy();
          reject(err);
        });
      }),
      abortPromise(signal),
    ]).catch((err) => {
      // A frame half written would corrupt the framing of the next one: start over.
      sock.destroy();
      throw err;
    });
  }

  async close(): Promise<void> {
    this.udp?.close();
    this.udp = undefined;
    const s = this.stream;
    this.stream = undefined;
    if (s && !s.destroyed) {
      await new Promise<void>((resolve) => {
        s.end(() => resolve());
        setTimeout(() => {
          s.destroy();
          resolve();
        }, 1000).unref();
      });
    }
  }
}
