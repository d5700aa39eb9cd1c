// The certificates of tls.mode auto and when to replace them. Pure apart from key generation
// and the random serial: given what a Secret holds and the time, say whether it is still good,
// and issue what replaces it. A certificate is renewed once two thirds of its life have passed
// (cert-manager's default), so that a missed reconcile or two never lets it expire.
import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { issueCertificate, newKeyPair, privateKeyPem, splitPem, type Usage } from "./x509.js";

export interface TlsTiming {
  caValidityMs: number;
  leafValidityMs: number;
}

const DAY = 86_400_000;
export const DEFAULT_TLS_TIMING: TlsTiming = { caValidityMs: 365 * DAY, leafValidityMs: 90 * DAY };

/** Backdating covers clocks a little behind ours; a tenth of the life at most, so short lives still work. */
function validity(now: Date, ms: number): { notBefore: Date; notAfter: Date } {
  const back = Math.min(5 * 60_000, ms / 10);
  return { notBefore: new Date(now.getTime() - back), notAfter: new Date(now.getTime() + ms) };
}

/** When a certificate is due for renewal (epoch ms). */
export function renewalTime(cert: X509Certificate): number {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  return to - (to - from) / 3;
}

function parse(pem: string | undefined): X509Certificate | undefined {
  if (!pem) return undefined;
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

export interface CaMaterial {
  certPem: string;
  keyPem: string;
  /** The CAs to trust: this one, and the one it replaced while that one is still valid. */
  bundlePem: string;
}

export interface LeafMaterial {
  certPem: string;
  keyPem: string;
}

export interface LeafWants {
  commonName: string;
  usage: Usage;
  altNames?: string[];
}

/** Why this CA must be replaced, or undefined if it is good. */
export function caRenewalReason(ca: Partial<CaMaterial>, now: Date): string | undefined {
  const cert = parse(ca.certPem);
  if (!cert || !ca.keyPem) return "missing";
  if (!cert.ca) return "not a CA";
  try {
    if (!cert.checkPrivateKey(createPrivateKey(ca.keyPem))) return "key does not match";
  } catch {
    return "unreadable key";
  }
  if (now.getTime() >= renewalTime(cert)) return "due for renewal";
  if (!ca.bundlePem?.includes(ca.certPem?.trim() ?? "")) return "bundle incomplete";
  return undefined;
}

/** Why this leaf certificate must be replaced, or undefined if it is good. */
export function leafRenewalReason(
  leaf: Partial<LeafMaterial>,
  ca: CaMaterial,
  wants: LeafWants,
  now: Date,
): string | undefined {
  const cert = parse(leaf.certPem);
  if (!cert || !leaf.keyPem) return "missing";
  try {
    if (!cert.checkPrivateKey(createPrivateKey(leaf.keyPem))) return "key does not match";
  } catch {
    return "unreadable key";
  }
  const issuer = parse(ca.certPem);
  if (!issuer || !cert.verify(issuer.publicKey)) return "issued by another CA";
  if (now.getTime() >= renewalTime(cert)) return "due for renewal";
  if (!cert.subject.split("\n").includes(`CN=${wants.commonName}`)) return "subject changed";
  const want = (wants.altNames ?? []).map((n) => (isIP(n) ? `IP Address:${n}` : `DNS:${n}`));
  const have = cert.subjectAltName?.split(", ") ?? [];
  if (want.length !== have.length || want.some((w) => !have.includes(w))) return "names changed";
  return undefined;
}

export function issueCa(commonName: string, previous: Partial<CaMaterial> | undefined, now: Date, timing: TlsTiming) {
  const keys = newKeyPair();
  const certPem = issueCertificate(
    {
      subject: { commonName, organization: "flowlens" },
      publicKey: keys.publicKey,
      ...validity(now, timing.caValidityMs),
      ca: true,
    },
    { privateKey: keys.privateKey },
  );
  // The replaced CA stays trusted until it expires: certificates it issued keep working while
  // their holders are being given new ones.
  const old = parse(previous?.certPem);
  const keepOld = old?.ca && Date.parse(old.validTo) > now.getTime() && previous?.certPem;
  const bundlePem = keepOld ? `${certPem}${previous.certPem?.trim()}\n` : certPem;
  return { certPem, keyPem: privateKeyPem(keys.privateKey), bundlePem } satisfies CaMaterial;
}

export function issueLeaf(wants: LeafWants, ca: CaMaterial, now: Date, timing: TlsTiming): LeafMaterial {
  const keys = newKeyPair();
  const certPem = issueCertificate(
    {
      subject: { commonName: wants.commonName, organization: "flowlens" },
      publicKey: keys.publicKey,
      ...validity(now, timing.leafValidityMs),
      usages: [wants.usage],
      altNames: wants.altNames,
    },
    { certificatePem: ca.certPem, privateKey: createPrivateKey(ca.keyPem) },
  );
  return { certPem, keyPem: privateKeyPem(keys.privateKey) };
}

/** The earliest renewal time among these certificates (epoch ms). */
export function nextRenewal(...pems: string[]): number {
  return Math.min(...pems.flatMap((p) => splitPem(p).slice(0, 1)).map((p) => renewalTime(new X509Certificate(p))));
}

/** What the Pods mount, hashed: in their template so that new certificates roll them. */
export function materialHash(...parts: string[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p).update("\0");
  return h.digest("hex").slice(0, 16);
}
