// Issuing X.509 v3 certificates (RFC 5280) for EC P-256 keys, signed with ECDSA-SHA256 by
// node:crypto: node can make keys, sign and parse certificates, but not build one, and this is
// all the agent<->aggregator mTLS needs (a CA, a server and client certificates).
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign, X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import {
  bitString,
  boolean,
  explicit,
  implicitPrimitive,
  namedBits,
  octetString,
  oid,
  sequence,
  set,
  smallInteger,
  time,
  unsignedInteger,
  utf8String,
} from "./der.js";

const OID = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
} as const;

/** keyUsage bits (RFC 5280 4.2.1.3). */
const DIGITAL_SIGNATURE = 0;
const KEY_CERT_SIGN = 5;
const CRL_SIGN = 6;

export type Usage = "serverAuth" | "clientAuth";

export interface Subject {
  commonName: string;
  organization?: string;
}

export interface Issuer {
  /** The issuing CA's certificate (PEM); absent for a self-signed certificate. */
  certificatePem?: string;
  privateKey: KeyObject;
}

export interface CertificateTemplate {
  subject: Subject;
  publicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  /** A CA that may sign end-entity certificates only (pathLen 0). */
  ca?: boolean;
  usages?: Usage[];
  /** DNS names and IP addresses (subjectAltName). */
  altNames?: string[];
}

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function newKeyPair(): KeyPair {
  return generateKeyPairSync("ec", { namedCurve: "prime256v1" });
}

const algorithm = () => sequence(oid(OID.ecdsaWithSha256));

function name(s: Subject): Buffer {
  const rdn = (type: string, value: string) => set(sequence(oid(type), utf8String(value)));
  return sequence(
    ...(s.organization ? [rdn(OID.organization, s.organization)] : []),
    rdn(OID.commonName, s.commonName),
  );
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
}

function altName(n: string): Buffer {
  if (isIP(n) === 4) return implicitPrimitive(7, Buffer.from(n.split(".").map(Number)));
  if (isIP(n) === 6) return implicitPrimitive(7, ipv6Bytes(n));
  return implicitPrimitive(2, Buffer.from(n, "ascii"));
}

function ipv6Bytes(addr: string): Buffer {
  const [head = "", tail = ""] = addr.split("::");
  const h = head ? head.split(":") : [];
  const t = addr.includes("::") && tail ? tail.split(":") : [];
  const groups = addr.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  const b = Buffer.alloc(16);
  for (const [i, g] of groups.entries()) b.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  return b;
}

// --- reading: just enough DER to take fields out of a certificate we are given ---

interface Tlv {
  tag: number;
  /** The whole encoding. */
  raw: Buffer;
  content: Buffer;
}

function readTlv(b: Buffer, at: number): Tlv {
  const tag = b[at];
  let len = b[at + 1];
  if (tag === undefined || len === undefined) throw new Error("DER: truncated");
  let off = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error("DER: unsupported length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (b[off + i] ?? 0);
    off += n;
  }
  if (off + len > b.length) throw new Error("DER: truncated");
  return { tag, raw: b.subarray(at, off + len), content: b.subarray(off, off + len) };
}

function children(t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = 0; at < t.content.length; ) {
    const c = readTlv(t.content, at);
    out.push(c);
    at += c.raw.length;
  }
  return out;
}

/** The subject Name of a certificate, as encoded (an issuer field must match it byte for byte). */
function subjectDer(cert: X509Certificate): Buffer {
  const tbs = children(readTlv(cert.raw, 0))[0];
  if (!tbs) throw new Error("certificate: no tbsCertificate");
  const f = children(tbs);
  // version [0], serial, signature, issuer, validity, subject
  const subject = f[f[0]?.tag === 0xa0 ? 5 : 4];
  if (!subject) throw new Error("certificate: no subject");
  return subject.raw;
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = readTlv(publicKey.export({ type: "spki", format: "der" }), 0);
  const bits = children(spki)[1];
  if (!bits) throw new Error("public key: no subjectPublicKey");
  return createHash("sha1").update(bits.content.subarray(1)).digest();
}

/** Issues a certificate; returns it as PEM. */
export function issueCertificate(t: CertificateTemplate, issuer: Issuer): string {
  const issuerCert = issuer.certificatePem ? new X509Certificate(issuer.certificatePem) : undefined;
  const issuerName = issuerCert ? subjectDer(issuerCert) : name(t.subject);
  const issuerKeyId = keyIdentifier(issuerCert ? issuerCert.publicKey : t.publicKey);
  // 16 random bytes, positive (RFC 5280: at most 20 octets, non-negative).
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;

  const extensions: Buffer[] = [
    extension(OID.basicConstraints, true, t.ca ? sequence(boolean(true), smallInteger(0)) : sequence()),
    extension(
      OID.keyUsage,
      true,
      t.ca ? namedBits([DIGITAL_SIGNATURE, KEY_CERT_SIGN, CRL_SIGN]) : namedBits([DIGITAL_SIGNATURE]),
    ),
    ...(t.usages && t.usages.length > 0
      ? [extension(OID.extKeyUsage, false, sequence(...t.usages.map((u) => oid(OID[u]))))]
      : []),
    ...(t.altNames && t.altNames.length > 0
      ? [extension(OID.subjectAltName, false, sequence(...t.altNames.map(altName)))]
      : []),
    extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(t.publicKey))),
    extension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, issuerKeyId))),
  ];
  const tbs = sequence(
    explicit(0, smallInteger(2)), // v3
    unsignedInteger(serial),
    algorithm(),
    issuerName,
    sequence(time(t.notBefore), time(t.notAfter)),
    name(t.subject),
    t.publicKey.export({ type: "spki", format: "der" }),
    explicit(3, sequence(...extensions)),
  );
  const signature = sign("sha256", tbs, { key: issuer.privateKey, dsaEncoding: "der" });
  const der = sequence(tbs, algorithm(), bitString(signature));
  return toPem("CERTIFICATE", der);
}

export function toPem(label: string, der: Buffer): string {
  const b64 = der.toString("base64").replace(/(.{64})/g, "$1\n");
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith("\n") ? "" : "\n"}-----END ${label}-----\n`;
}

export function privateKeyPem(key: KeyObject): string {
  return key.export({ type: "pkcs8", format: "pem" }).toString();
}

/** The PEM certificates in a bundle, in order. */
export function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
}
