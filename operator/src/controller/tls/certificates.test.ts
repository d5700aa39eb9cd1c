// The issued certificates as OpenSSL and a real TLS handshake judge them, and the renewal rules.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { connect, createServer } from "node:tls";
import { haveCommand, makeTempDir, removeTempDir, run } from "@flowlens/testkit";
import { caRenewalReason, issueCa, issueLeaf, leafRenewalReason, renewalTime } from "./certificates.js";

const timing = { caValidityMs: 3_600_000, leafValidityMs: 600_000 };
const server = {
  commonName: "fl-aggregator.ns.svc",
  usage: "serverAuth" as const,
  altNames: ["fl-aggregator", "fl-aggregator.ns.svc", "127.0.0.1"],
};
const client = { commonName: "flowprobe.ns.nodes", usage: "clientAuth" as const };

describe("tls.mode auto certificates", { skip: haveCommand("openssl") ? false : "openssl not installed" }, () => {
  it("verify with openssl, for their purposes, against the CA", () => {
    const dir = makeTempDir("certs");
    try {
      const now = new Date();
      const ca = issueCa("test CA", undefined, now, timing);
      const s = issueLeaf(server, ca, now, timing);
      const c = issueLeaf(client, ca, now, timing);
      const f = (n: string, t: string) => {
        writeFileSync(join(dir, n), t);
        return join(dir, n);
      };
      const caFile = f("ca.crt", ca.bundlePem);
      assert.match(run("openssl", ["verify", "-x509_strict", "-CAfile", caFile, f("ca-self.crt", ca.certPem)]), /OK/);
      assert.match(
        run("openssl", ["verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", caFile, f("s.crt", s.certPem)]),
        /OK/,
      );
      assert.match(
        run("openssl", ["verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", caFile, f("c.crt", c.certPem)]),
        /OK/,
      );
      // A server certificate is no client certificate, and another CA's leaf does not verify.
      assert.throws(() => run("openssl", ["verify", "-purpose", "sslclient", "-CAfile", caFile, join(dir, "s.crt")]));
      const other = issueCa("other CA", undefined, now, timing);
      assert.throws(() => run("openssl", ["verify", "-CAfile", f("other.crt", other.certPem), join(dir, "s.crt")]));
      const text = run("openssl", ["x509", "-noout", "-text", "-in", join(dir, "s.crt")]);
      assert.match(text, /DNS:fl-aggregator, DNS:fl-aggregator\.ns\.svc, IP Address:127\.0\.0\.1/);
      assert.match(text, /ecdsa-with-SHA256/);
    } finally {
      removeTempDir(dir);
    }
  });

  it("carry a mutual TLS handshake with node:tls, and a client without one is refused", async () => {
    const now = new Date();
    const ca = issueCa("test CA", undefined, now, timing);
    const s = issueLeaf(server, ca, now, timing);
    const c = issueLeaf(client, ca, now, timing);
    const srv = createServer(
      { cert: s.certPem, key: s.keyPem, ca: ca.bundlePem, requestCert: true, rejectUnauthorized: true },
      (sock) => {
        sock.end(`hello ${sock.getPeerCertificate().subject.CN}`);
      },
    );
    srv.on("tlsClientError", () => {});
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as AddressInfo).port;
    const talk = (withCert: boolean) =>
      new Promise<string>((resolve, reject) => {
        const sock = connect({
          host: "127.0.0.1",
          port,
          servername: "fl-aggregator.ns.svc",
          ca: ca.bundlePem,
          ...(withCert ? { cert: c.certPem, key: c.keyPem } : {}),
        });
        let got = "";
        sock.on("data", (d) => (got += d));
        sock.on("end", () => resolve(got));
        sock.on("error", reject);
      });
    try {
      assert.equal(await talk(true), "hello flowprobe.ns.nodes");
      await assert.rejects(talk(false));
    } finally {
      srv.close();
    }
  });

  it("are renewed after two thirds of their life, when the CA changes, or when names change", () => {
    const t0 = new Date("2030-01-01T00:00:00Z");
    const ca = issueCa("test CA", undefined, t0, timing);
    const s = issueLeaf(server, ca, t0, timing);
    assert.equal(leafRenewalReason(s, ca, server, t0), undefined);
    const due = renewalTime(new X509Certificate(s.certPem));
    assert.equal(leafRenewalReason(s, ca, server, new Date(due - 1000)), undefined);
    assert.equal(leafRenewalReason(s, ca, server, new Date(due + 1000)), "due for renewal");
    assert.equal(leafRenewalReason(s, ca, { ...server, altNames: ["x"] }, t0), "names changed");
    assert.equal(
      leafRenewalReason({ certPem: s.certPem, keyPem: issueLeaf(server, ca, t0, timing).keyPem }, ca, server, t0),
      "key does not match",
    );
    assert.equal(leafRenewalReason({}, ca, server, t0), "missing");
    // A renewed CA keeps the old one in the bundle; leaves of the old one must be reissued.
    const later = new Date(renewalTime(new X509Certificate(ca.certPem)) + 1000);
    assert.equal(caRenewalReason(ca, later), "due for renewal");
    const ca2 = issueCa("test CA", ca, later, timing);
    assert.ok(ca2.bundlePem.includes(ca.certPem.trim()) && ca2.bundlePem.startsWith(ca2.certPem));
    assert.equal(leafRenewalReason(s, ca2, server, t0), "issued by another CA");
  });
});
