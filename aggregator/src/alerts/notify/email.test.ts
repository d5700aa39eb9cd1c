import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  makeTempDir,
  makeTestPki,
  removeTempDir,
  type SmtpReceiver,
  smtpReceiverUnavailable,
  startSmtpReceiver,
  type TestPki,
  waitFor,
} from "@flowlens/testkit";
import { pino } from "pino";
import { NotificationDispatcher } from "./dispatcher.js";
import { sampleNotification } from "./testing.js";
import type { EndpointConfig } from "./types.js";

const skip = smtpReceiverUnavailable();
const logger = pino({ level: "silent" });

describe("email endpoint against a real SMTP server (aiosmtpd)", { skip }, () => {
  let dir: string;
  let pki: TestPki;
  let smtp: SmtpReceiver;
  const dispatchers: NotificationDispatcher[] = [];
  const dispatcher = () => {
    const d = new NotificationDispatcher({ logger });
    dispatchers.push(d);
    return d;
  };
  before(async () => {
    dir = makeTempDir("notify-email");
    pki = makeTestPki(dir);
    smtp = await startSmtpReceiver({
      tls: { cert: pki.serverCert, key: pki.serverKey },
      auth: { user: "flowlens", password: "s3cret-pass" },
    });
  });
  after(async () => {
    await Promise.all(dispatchers.map((d) => d.stop(Date.now() + 500)));
    await smtp?.stop();
    removeTempDir(dir);
  });

  const endpoint = (over: Record<string, string> = {}): EndpointConfig => ({
    kind: "email",
    target: "ops@example.test, oncall@example.test",
    options: {
      smtpHost: "127.0.0.1",
      smtpPort: String(smtp.port),
      from: "flowlens@example.test",
      user: "flowlens",
      password: "s3cret-pass",
      caFile: pki.caCert,
      backoffMs: "20",
      ...over,
    },
  });

  it("sends over STARTTLS with AUTH, a text and an HTML part", async () => {
    const d = dispatcher();
    const ep = endpoint();
    const n = sampleNotification({ severity: "error", summary: "10.231.0.5 <scan> & more" });
    const before = smtp.messages().length;
    d.send([ep], n);
    const msgs = await smtp.waitForMessages(before + 1);
    const m = msgs[before];
    assert.ok(m);
    assert.equal(m.tls, true, "the session was upgraded with STARTTLS");
    assert.equal(m.authLogin, "flowlens");
    assert.equal(m.mailFrom, "flowlens@example.test");
    assert.deepEqual(m.rcptTos, ["ops@example.test", "oncall@example.test"]);
    assert.equal(m.subject, "[Flowlens] ERROR engaged: default/port-scan on host 10.231.0.5");
    assert.match(m.text ?? "", /^10\.231\.0\.5 <scan> & more\r?\n/);
    assert.match(m.text ?? "", /Threshold\s+100/);
    assert.match(m.html ?? "", /10\.231\.0\.5 &#60;scan&#62; &#38; more/);
    await waitFor("sent", () => d.rowFor(ep)?.sent === 1);
  });

  it("does not retry a rejected login (535)", async () => {
    const d = dispatcher();
    const ep = endpoint({ password: "wrong" });
    const before = smtp.messages().length;
    d.send([ep], sampleNotification());
    await waitFor("failed", () => d.rowFor(ep)?.failed === 1, { timeoutMs: 10_000 });
    assert.equal(d.rowFor(ep)?.retried, 0);
    assert.equal(smtp.messages().length, before);
  });

  it("refuses to send without TLS when the server does not offer STARTTLS", async () => {
    const plain = await startSmtpReceiver();
    try {
      const d = dispatcher();
      const ep: EndpointConfig = {
        kind: "email",
        target: "ops@example.test",
        options: { smtpHost: "127.0.0.1", smtpPort: String(plain.port), from: "flowlens@example.test" },
      };
      d.send([ep], sampleNotification());
      await waitFor("failed", () => d.rowFor(ep)?.failed === 1, { timeoutMs: 10_000 });
      assert.equal(d.rowFor(ep)?.retried, 0);
      assert.equal(plain.messages().length, 0);
      // Told explicitly that the server has no TLS, it sends in the clear.
      const clear = { ...ep, options: { ...ep.options, tls: "none" } };
      d.send([clear], sampleNotification());
      const [m] = await plain.waitForMessages(1);
      assert.equal(m?.tls, false);
    } finally {
      await plain.stop();
    }
  });
});
