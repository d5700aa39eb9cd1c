// A real SMTP receiver for tests: aiosmtpd (Debian package python3-aiosmtpd) on a free port,
// with STARTTLS (required when a certificate is given) and AUTH PLAIN/LOGIN (required when
// credentials are given). Every message it accepts is parsed by Python's email package and
// appended as one JSON line to a file the test reads with messages().
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "./ports.js";
import { type ManagedProcess, makeTempDir, removeTempDir, startProcess, waitFor } from "./process.js";

/** Debian's python3 (its dist-packages hold aiosmtpd), not whatever python3 is first on PATH. */
export const smtpPython = (): string => process.env.SMTP_PYTHON ?? "/usr/bin/python3";

/** A skip reason when aiosmtpd cannot run here, false when it can. */
export function smtpReceiverUnavailable(): string | false {
  const r = spawnSync(smtpPython(), ["-c", "import aiosmtpd"], { stdio: "ignore" });
  return r.status === 0 ? false : `aiosmtpd not importable by ${smtpPython()} (Debian package python3-aiosmtpd)`;
}

export interface ReceivedMail {
  mailFrom: string;
  rcptTos: string[];
  subject: string;
  from: string;
  to: string;
  text: string | null;
  html: string | null;
  /** Whether the session had switched to TLS (STARTTLS) when the message came. */
  tls: boolean;
  /** The login the session authenticated with, null without AUTH. */
  authLogin: string | null;
}

export interface SmtpReceiverOptions {
  /** PEM paths; enables STARTTLS and requires it before MAIL. */
  tls?: { cert: string; key: string };
  /** Requires AUTH with these credentials (only after STARTTLS when tls is set). */
  auth?: { user: string; password: string };
}

export interface SmtpReceiver {
  host: string;
  port: number;
  dir: string;
  proc: ManagedProcess;
  messages(): ReceivedMail[];
  /** Waits until at least `n` messages have arrived and returns them all. */
  waitForMessages(n: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  stop(): Promise<void>;
}

const SERVER_PY = `
import json, signal, ssl, sys
from email import message_from_bytes, policy
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

cfg = json.load(open(sys.argv[1]))
out = cfg["out"]

class Handler:
    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.content, policy=policy.default)
        def part(kind):
            p = msg.get_body((kind,))
            return p.get_content() if p is not None else None
        login = getattr(session, "login_data", None)
        rec = {
            "mailFrom": envelope.mail_from,
            "rcptTos": list(envelope.rcpt_tos),
            "subject": str(msg["subject"] or ""),
            "from": str(msg["from"] or ""),
            "to": str(msg["to"] or ""),
            "text": part("plain"),
            "html": part("html"),
            "tls": session.ssl is not None,
            "authLogin": login.decode() if isinstance(login, bytes) else login,
        }
        with open(out, "a") as f:
            f.write(json.dumps(rec) + "\\n")
        return "250 Message accepted for delivery"

def authenticator(server, session, envelope, mechanism, auth_data):
    a = cfg.get("auth")
    ok = (a is not None and isinstance(auth_data, LoginPassword)
          and auth_data.login.decode() == a["user"] and auth_data.password.decode() == a["password"])
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

kwargs = {}
if cfg.get("tls"):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cfg["tls"]["cert"], cfg["tls"]["key"])
    kwargs.update(tls_context=ctx, require_starttls=True)
if cfg.get("auth"):
    kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=bool(cfg.get("tls")))
# Blocked before the server thread starts (threads inherit the mask), so sigwait gets them.
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
controller = Controller(Handler(), hostname="127.0.0.1", port=cfg["port"], **kwargs)
controller.start()
print("SMTP-READY", flush=True)
signal.sigwait({signal.SIGTERM, signal.SIGINT})
controller.stop()
`;

export async function startSmtpReceiver(opts: SmtpReceiverOptions = {}): Promise<SmtpReceiver> {
  const dir = makeTempDir("smtp");
  const port = await freePort();
  const out = join(dir, "messages.jsonl");
  writeFileSync(out, "");
  writeFileSync(join(dir, "server.py"), SERVER_PY);
  writeFileSync(join(dir, "config.json"), JSON.stringify({ port, out, tls: opts.tls, auth: opts.auth }));
  const proc = startProcess("aiosmtpd", smtpPython(), [join(dir, "server.py"), join(dir, "config.json")], {
    env: { ...process.env, PYTHONUNBUFFERED: "1" },
  });
  const stop = async () => {
    await proc.stop();
    removeTempDir(dir);
  };
  try {
    await waitFor("aiosmtpd ready", () => proc.output().includes("SMTP-READY"), { proc, timeoutMs: 20_000 });
  } catch (err) {
    await stop();
    throw err;
  }
  const messages = (): ReceivedMail[] =>
    readFileSync(out, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as ReceivedMail);
  return {
    host: "127.0.0.1",
    port,
    dir,
    proc,
    messages,
    waitForMessages: (n, timeoutMs = 15_000) =>
      waitFor(`${n} message(s) at the SMTP receiver`, () => (messages().length >= n ? messages() : undefined), {
        proc,
        timeoutMs,
        intervalMs: 50,
      }),
    stop,
  };
}
