// The receive window of an HTTP/2 session raised through a grpc-js-like call chain, checked on
// a real session (node:http2 over loopback): the window the server advertises is what the
// client may send before it must wait.
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type Http2Session, type ServerHttp2Stream } from "node:http2";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { raiseReceiveWindow, sessionOf } from "./http2-window.js";

describe("HTTP/2 receive window", () => {
  it("finds the session under nested call objects, and nothing elsewhere", () => {
    const session = { settings() {}, setLocalWindowSize() {} };
    assert.equal(sessionOf({ call: { stream: { session } } }), session);
    assert.equal(sessionOf({ call: { stream: {} } }), undefined);
    assert.equal(sessionOf(null), undefined);
    assert.equal(sessionOf({ call: { stream: { session: { settings: 1 } } } }), undefined);
    assert.equal(raiseReceiveWindow({}), false);
  });

  it("raises a live session's stream and connection windows, once", async () => {
    const server = createServer();
    const streams: ServerHttp2Stream[] = [];
    server.on("stream", (s) => streams.push(s));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const client = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const req = client.request({ ":method": "POST", ":path": "/" });
      while (streams.length === 0) await new Promise((r) => setTimeout(r, 5));
      const stream = streams[0] as ServerHttp2Stream;
      const session = stream.session as Http2Session;
      assert.equal(raiseReceiveWindow({ call: { stream } }, 1 << 20), true);
      assert.equal(raiseReceiveWindow({ call: { stream } }, 1 << 20), true, "a second time: nothing more to do");
      // The client hears of it in a SETTINGS frame (the first one it got said 64 KiB).
      const deadline = Date.now() + 5000;
      while (client.remoteSettings.initialWindowSize !== 1 << 20 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(client.remoteSettings.initialWindowSize, 1 << 20);
      assert.equal(session.state.localWindowSize, 1 << 20);
      req.close();
    } finally {
      client.close();
      server.close();
    }
  });
});
