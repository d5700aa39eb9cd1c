// A throwaway PKI for TLS and mTLS tests, made with the openssl CLI: a CA, a server certificate
// for loopback, a client certificate from the same CA, and a second CA (trusted by nobody) with
// its own client certificate, for the "wrong issuer" case. EC P-256 keys: generated in
// milliseconds, so every test file can afford its own.
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./process.js";

export interface TestPki {
  dir: string;
  caCert: string;
  caKey: string;
  /** serverAuth, SAN IP:127.0.0.1, IP:::1, DNS:localhost. */
  serverCert: string;
  serverKey: string;
  /** clientAuth, CN=flowlens-test-client, issued by caCert. */
  clientCert: string;
  clientKey: string;
  /** A CA nobody is told to trust. */
  untrustedCaCert: string;
  /** clientAuth, issued by untrustedCaCert. */
  untrustedClientCert: string;
  untrustedClientKey: string;
}

// A config of our own, so the result does not depend on the distribution's openssl.cnf.
const REQ_CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
`;

function leafExtensions(usage: "serverAuth" | "clientAuth", san?: string): string {
  return [
    "basicConstraints = critical,CA:FALSE",
    "keyUsage = critical,digitalSignature",
    `extendedKeyUsage = ${usage}`,
    "subjectKeyIdentifier = hash",
    "authorityKeyIdentifier = keyid,issuer",
    ...(san ? [`subjectAltName = ${san}`] : []),
    "",
  ].join("\n");
}

function openssl(args: string[]): void {
  try {
    run("openssl", args);
  } catch (err) {
    throw new Error(`makeTestPki: ${(err as Error).message}`);
  }
}

function newKey(path: string): void {
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path]);
}

const serial = () => `0x${randomBytes(8).toString("hex")}`;

/**
 * Writes the PKI into `dir` (created if missing) and returns the file paths. Certificates are
 * valid for two days from now.
 */
export function makeTestPki(dir: string): TestPki {
  mkdirSync(dir, { recursive: true });
  const p = (name: string) => join(dir, name);
  const config = p("openssl.cnf");
  writeFileSync(config, REQ_CONFIG);

  const makeCa = (name: string, cn: string) => {
    newKey(p(`${name}.key`));
    openssl([
      "req",
      "-x509",
      "-new",
      "-key",
      p(`${name}.key`),
      "-subj",
      `/CN=${cn}`,
      "-days",
      "2",
      "-set_serial",
      serial(),
      "-config",
      config,
      "-extensions",
      "v3_ca",
      "-out",
      p(`${name}.crt`),
    ]);
  };
  const makeLeaf = (name: string, cn: string, ca: string, usage: "serverAuth" | "clientAuth", san?: string) => {
    newKey(p(`${name}.key`));
    openssl([
      "req",
      "-new",
      "-key",
      p(`${name}.key`),
      "-subj",
      `/CN=${cn}`,
      "-config",
      config,
      "-out",
      p(`${name}.csr`),
    ]);
    writeFileSync(p(`${name}.ext`), leafExtensions(usage, san));
    openssl([
      "x509",
      "-req",
      "-in",
      p(`${name}.csr`),
      "-CA",
      p(`${ca}.crt`),
      "-CAkey",
      p(`${ca}.key`),
      "-set_serial",
      serial(),
      "-days",
      "2",
      "-extfile",
      p(`${name}.ext`),
      "-out",
      p(`${name}.crt`),
    ]);
  };

  makeCa("ca", "flowlens-test-ca");
  makeLeaf("server", "flowlens-test-server", "ca", "serverAuth", "IP:127.0.0.1,IP:::1,DNS:localhost");
  makeLeaf("client", "flowlens-test-client", "ca", "clientAuth");
  makeCa("untrusted-ca", "flowlens-untrusted-ca");
  makeLeaf("untrusted-client", "flowlens-test-client", "untrusted-ca", "clientAuth");

  return {
    dir,
    caCert: p("ca.crt"),
    caKey: p("ca.key"),
    serverCert: p("server.crt"),
    serverKey: p("server.key"),
    clientCert: p("client.crt"),
    clientKey: p("client.key"),
    untrustedCaCert: p("untrusted-ca.crt"),
    untrustedClientCert: p("untrusted-client.crt"),
    untrustedClientKey: p("untrusted-client.key"),
  };
}
