import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { createServer as createTcpServer, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { createServer as createTlsServer } from "node:tls";
import { freePort, makeTempDir, makeTestPki, removeTempDir, type TestPki, waitFor } from "@flowlens/testkit";
import { pino } from "pino";
import { NotificationDispatcher } from "./dispatcher.js";
import { sampleNotification } from "./testing.js";
import type { EndpointConfig } from "./types.js";

const logger = pino({ level: "silent" });

interface Parsed {
  pri: number;
  version: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  sd: { id: string; params: [string, string][] }[];
  msg: string | undefined;
}

// RFC 5424 section 6, checked strictly: a message that does not follow the grammar throws.
const PRINTUSASCII = /^[!-~]+$/;
const SD_NAME_CHAR = /[!#-<>-\\^-~]/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;

function parse5424(raw: Buffer): Parsed {
  const s = raw.toString("utf8");
  const head = /^<(\d{1,3})>([1-9]\d{0,2}) (\S+) (\S+) (\S+) (\S+) (\S+) /.exec(s);
  if (!head) throw new Error(`bad HEADER: ${s.slice(0, 80)}`);
  const [, pri, version, timestamp, hostname, appName, procId, msgId] = head as unknown as string[];
  assert.ok(Number(pri) <= 191, "PRIVAL 0..191");
  assert.ok(timestamp === "-" || TIMESTAMP.test(timestamp ?? ""), `TIMESTAMP ${timestamp}`);
  for (const [f, max] of [
    [hostname, 255],
    [appName, 48],
    [procId, 128],
    [msgId, 32],
  ] as [string, number][]) {
    assert.ok(PRINTUSASCII.test(f) && f.length <= max, `header field ${f}`);
  }
  let i = head[0].length;
  const sd: Parsed["sd"] = [];
  if (s[i] === "-") i++;
  else {
    while (s[i] === "[") {
      i++;
      let id = "";
      while (i < s.length && SD_NAME_CHAR.test(s[i] ?? "")) id += s[i++];
      assert.ok(id.length >= 1 && id.length <= 32, `SD-ID ${id}`);
      const params: [string, string][] = [];
      while (s[i] === " ") {
        i++;
        let name = "";
        while (i < s.length && SD_NAME_CHAR.test(s[i] ?? "")) name += s[i++];
        assert.ok(name.length >= 1 && name.length <= 32, `PARAM-NAME ${name}`);
        assert.equal(s.slice(i, i + 2), '="', `after ${name}`);
        i += 2;
        let value = "";
        for (;;) {
          const c = s[i++];
          if (c === undefined) throw new Error("unterminated PARAM-VALUE");
          if (c === '"') break;
          if (c === "]") throw new Error(`unescaped ] in ${name}`);
          if (c === "\\" && ['"', "\\", "]"].includes(s[i] ?? "")) value += s[i++];
          else value += c;
        }
        params.push([name, value]);
      }
      assert.equal(s[i], "]", `end of SD-ELEMENT ${id}`);
      i++;
      sd.push({ id, params });
    }
    assert.ok(sd.length > 0, "STRUCTURED-DATA");
  }
  let msg: string | undefined;
  if (i < s.length) {
    assert.equal(s[i], " ", "SP before MSG");
    msg = s.slice(i + 1);
  }
  return {
    pri: Number(pri),
    version: Number(version),
    timestamp: timestamp ?? "",
    hostname: hostname ?? "",
    appName: appName ?? "",
    procId: procId ?? "",
    msgId: msgId ?? "",
    sd,
    msg,
  };
}

/** Splits an RFC 6587 octet-counted stream into messages; throws on a framing error. */
function octetFrames(buf: Buffer): { frames: Buffer[]; rest: Buffer } {
  const frames: Buffer[] = [];
  let off = 0;
  for (;;) {
    const sp = buf.indexOf(0x20, off);
    if (sp < 0) break;
    const lenText = buf.subarray(off, sp).toString("ascii");
    if (!/^[1-9]\d{0,8}$/.test(lenText)) throw new Error(`bad MSG-LEN "${lenText}"`);
    const len = Number(lenText);
    if (buf.length < sp + 1 + len) break;
    frames.push(buf.subarray(sp + 1, sp + 1 + len));
    off = sp + 1 + len;
  }
  return { frames, rest: buf.subarray(off) };
}

interface StreamReceiver {
  port: number;
  messages: Buffer[];
  errors: Error[];
  close(): Promise<void>;
}

async function streamReceiver(tls?: { cert: string; key: string }): Promise<StreamReceiver> {
  const messages: Buffer[] = [];
  const errors: Error[] = [];
  const sockets = new Set<Socket>();
  const onConn = (sock: Socket) => {
    sockets.add(sock);
    let pending: Buffer = Buffer.alloc(0);
    sock.on("data", (c: Buffer) => {
      try {
        const { frames, rest } = octetFrames(Buffer.concat([pending, c]));
        messages.push(...frames);
        pending = rest;
      } catch (err) {
        errors.push(err as Error);
        sock.destroy();
      }
    });
    sock.on("error", () => {});
  };
  const server: Server = tls
    ? createTlsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, onConn)
    : createTcpServer(onConn);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as { port: number }).port,
    messages,
    errors,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

function params(p: Parsed): Record<string, string> {
  return Object.fromEntries(p.sd[0]?.params ?? []);
}

describe("syslog endpoint (RFC 5424 over UDP, TCP, TLS)", () => {
  let dir: string;
  let pki: TestPki;
  const dispatchers: NotificationDispatcher[] = [];
  const dispatcher = () => {
    const d = new NotificationDispatcher({ logger });
    dispatchers.push(d);
    return d;
  };
  before(() => {
    dir = makeTempDir("notify-syslog");
    pki = makeTestPki(dir);
  });
  after(async () => {
    await Promise.all(dispatchers.map((d) => d.stop(Date.now() + 500)));
    removeTempDir(dir);
  });

  it("sends one RFC 5424 datagram per notification over UDP, fields as structured data", async () => {
    const sock = createSocket("udp4");
    const got: Buffer[] = [];
    sock.on("message", (m) => got.push(m));
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
    try {
      const d = dispatcher();
      const ep: EndpointConfig = {
        kind: "syslog",
        target: `udp://127.0.0.1:${sock.address().port}`,
        options: { facility: "local3", appName: "flowlens-test", hostname: "agg-1" },
      };
      const n = sampleNotification({
        severity: "critical",
        summary: 'scan "quoted" ] and \\ backslash, ünïcode',
        labels: { window: "1m", "odd key=x": 'v"]' },
      });
      d.send([ep], n);
      d.send([ep], { ...n, event: "released", value: 2, endedAtMs: n.startedAtMs + 90_000 });
      await waitFor("2 datagrams", () => got.length >= 2, { timeoutMs: 5000 });
      const [a, b] = got.map(parse5424) as [Parsed, Parsed];
      assert.equal(a.pri, 19 * 8 + 2, "local3.crit");
      assert.equal(a.version, 1);
      assert.equal(a.hostname, "agg-1");
      assert.equal(a.appName, "flowlens-test");
      assert.equal(a.procId, String(process.pid));
      assert.equal(a.msgId, "ENGAGED");
      assert.ok(Math.abs(Date.parse(a.timestamp) - Date.now()) < 10_000);
      assert.equal(a.sd[0]?.id, "flowlens@32473");
      const p = params(a);
      assert.equal(p.id, n.id);
      assert.equal(p.rule, "default/port-scan");
      assert.equal(p.severity, "critical");
      assert.equal(p.entityKind, "host");
      assert.equal(p.entity, "10.231.0.5");
      assert.equal(p.value, "512");
      assert.equal(p.threshold, "100");
      assert.equal(p.check, "port-scan");
      assert.equal(p["label.window"], "1m");
      assert.equal(p["label.odd_key_x"], 'v"]', "escaped value round-trips");
      assert.ok(a.msg?.startsWith("\uFEFF"), "MSG-UTF8 starts with a BOM");
      assert.equal(a.msg?.slice(1), `CRITICAL engaged: default/port-scan on host 10.231.0.5: ${n.summary}`);
      assert.equal(b.pri, 19 * 8 + 5, "release is a notice");
      assert.equal(b.msgId, "RELEASED");
      assert.equal(params(b).endedAt, new Date(n.startedAtMs + 90_000).toISOString());
    } finally {
      sock.close();
    }
  });

  it("keeps a UDP message within maxMessageBytes and still well-formed", async () => {
    const sock = createSocket("udp4");
    const got: Buffer[] = [];
    sock.on("message", (m) => got.push(m));
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
    try {
      const d = dispatcher();
      const ep: EndpointConfig = {
        kind: "syslog",
        target: `127.0.0.1:${sock.address().port}`,
        options: { maxMessageBytes: "600" },
      };
      d.send([ep], sampleNotification({ summary: "é".repeat(2000), labels: { big: "x".repeat(3000) } }));
      await waitFor("datagram", () => got.length >= 1, { timeoutMs: 5000 });
      assert.ok((got[0]?.length ?? 0) <= 600, `datagram of ${got[0]?.length} bytes`);
      const p = parse5424(got[0] as Buffer);
      assert.equal(params(p)["label.big"], undefined, "labels left out to fit");
      assert.equal(params(p).rule, "default/port-scan");
      assert.ok(!(p.msg ?? "").includes("\uFFFD"), "no character cut in half");
    } finally {
      sock.close();
    }
  });

  it("frames messages with octet counting over one TCP connection", async () => {
    const rx = await streamReceiver();
    try {
      const d = dispatcher();
      const ep: EndpointConfig = { kind: "syslog", target: `tcp://127.0.0.1:${rx.port}`, options: { facility: "4" } };
      const ns = Array.from({ length: 5 }, (_, k) => sampleNotification({ summary: `line ${k}\nwith newline` }));
      for (const n of ns) d.send([ep], n);
      await waitFor("5 frames", () => rx.messages.length >= 5, { timeoutMs: 5000 });
      assert.deepEqual(rx.errors, []);
      const parsed = rx.messages.map(parse5424);
      assert.deepEqual(
        parsed.map((p) => params(p).id),
        ns.map((n) => n.id),
      );
      assert.equal(parsed[0]?.pri, 4 * 8 + 4, "auth.warning");
      assert.ok(parsed[2]?.msg?.endsWith("line 2\nwith newline"), "newlines survive octet counting");
      await waitFor("sent", () => d.rowFor(ep)?.sent === 5);
    } finally {
      await rx.close();
    }
  });

  it("sends over TLS (RFC 5425) to a receiver with a certificate from the test CA", async () => {
    const rx = await streamReceiver({ cert: pki.serverCert, key: pki.serverKey });
    try {
      const d = dispatcher();
      const ep: EndpointConfig = {
        kind: "syslog",
        target: `tls://127.0.0.1:${rx.port}`,
        options: { caFile: pki.caCert },
      };
      const n = sampleNotification({ event: "flow", severity: "error" });
      d.send([ep], n);
      await waitFor("1 frame", () => rx.messages.length >= 1, { timeoutMs: 5000 });
      const p = parse5424(rx.messages[0] as Buffer);
      assert.equal(p.msgId, "FLOW");
      assert.equal(p.pri, 16 * 8 + 3, "local0.err by default");
      assert.equal(params(p).id, n.id);
    } finally {
      await rx.close();
    }
  });

  it("does not send over TLS to a receiver whose certificate it cannot verify", async () => {
    const rx = await streamReceiver({ cert: pki.serverCert, key: pki.serverKey });
    try {
      const d = dispatcher();
      const ep: EndpointConfig = {
        kind: "syslog",
        target: `tls://127.0.0.1:${rx.port}`,
        options: { maxAttempts: "2", backoffMs: "10" },
      };
      d.send([ep], sampleNotification());
      await waitFor("failed", () => d.rowFor(ep)?.failed === 1, { timeoutMs: 5000 });
      assert.equal(rx.messages.length, 0);
    } finally {
      await rx.close();
    }
  });

  it("counts a refused TCP connection as failed after its retries", async () => {
    const port = await freePort();
    const d = dispatcher();
    const ep: EndpointConfig = {
      kind: "syslog",
      target: `tcp://127.0.0.1:${port}`,
      options: { maxAttempts: "3", backoffMs: "10" },
    };
    d.send([ep], sampleNotification());
    await waitFor("failed", () => d.rowFor(ep)?.failed === 1, { timeoutMs: 5000 });
    assert.equal(d.rowFor(ep)?.retried, 2);
  });
});
