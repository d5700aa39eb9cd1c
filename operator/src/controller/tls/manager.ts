// tls.mode auto in the cluster: the collector's CA and the aggregator's server certificate in
// Secrets of the collector's namespace, and each FlowProbe's client certificate in a Secret of
// the probe's namespace (Pods mount Secrets of their own namespace only), all owned by their
// resource so that they go with it. Secrets are read with a GET, not from the cache: a cache a
// moment behind our own write would make us issue twice.
import type { FlowCollector, FlowProbe } from "@flowlens/contracts";
import type { Component } from "../../labels.js";
import { agentTlsSecretName, collectorObjectNames, serviceHost, tlsSecretNames } from "../../names.js";
import { ConfigurationError } from "../../reconcile/issues.js";
import { namespaceOf, type OwnerResource, objectMeta } from "../../reconcile/objects.js";
import type { KubeClient, KubeObject } from "../kube/client.js";
import { RESOURCES } from "../kube/resources.js";
import {
  type CaMaterial,
  caRenewalReason,
  issueCa,
  issueLeaf,
  type LeafWants,
  leafRenewalReason,
  materialHash,
  nextRenewal,
  type TlsTiming,
} from "./certificates.js";

interface Secret extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

export interface IssuedTls {
  /** For the Pod template annotation. */
  hash: string;
  /** When to look again (epoch ms). */
  renewAt: number;
  /** What was (re)issued in this call, for logs and Events: "ca", "server", "client". */
  issued: string[];
}

const decode = (s: Secret | undefined, key: string) => {
  const v = s?.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, "base64").toString("utf8");
};
const encode = (data: Record<string, string>) =>
  Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "utf8").toString("base64")]));

/**
 * A Secret the operator would issue into must be absent or its own (owned by the resource):
 * server-side apply with force would otherwise take over somebody's Secret of the same name.
 */
function ownedOrAbsent(owner: OwnerResource, secret: Secret | undefined): Secret | undefined {
  if (secret === undefined) return undefined;
  const uid = owner.metadata.uid;
  if (uid !== undefined && secret.metadata.ownerReferences?.some((r) => r.uid === uid)) return secret;
  const name = secret.metadata.name;
  throw new ConfigurationError(`${owner.kind} ${namespaceOf(owner)}/${owner.metadata.name}`, [
    {
      reason: "SecretNameTaken",
      message: `Secret ${name} exists and was not issued for this ${owner.kind}: delete or rename it, or use tls.mode provided with it`,
      field: "spec.tls.mode",
    },
  ]);
}

export class TlsManager {
  constructor(
    private readonly client: KubeClient,
    private readonly timing: TlsTiming,
    private readonly onIssued: (kind: string) => void = () => {},
  ) {}

  /** The collector's CA and server certificate, issued or renewed as needed. */
  async ensureCollector(fc: FlowCollector, now = new Date()): Promise<IssuedTls> {
    const ns = namespaceOf(fc);
    const names = tlsSecretNames(fc.metadata.name);
    const issued: string[] = [];
    const caSecret = ownedOrAbsent(fc, await this.client.get<Secret>(RESOURCES.secrets, ns, names.ca));
    let ca: CaMaterial = {
      certPem: decode(caSecret, "ca.crt") ?? "",
      keyPem: decode(caSecret, "ca.key") ?? "",
      bundlePem: decode(caSecret, "bundle.crt") ?? "",
    };
    if (caRenewalReason(ca, now)) {
      ca = issueCa(`${fc.metadata.name}.${ns} flowlens CA`, caSecret ? ca : undefined, now, this.timing);
      await this.write(fc, "aggregator", names.ca, "Opaque", {
        "ca.crt": ca.certPem,
        "ca.key": ca.keyPem,
        "bundle.crt": ca.bundlePem,
      });
      issued.push("ca");
      this.onIssued("ca");
    }
    const svc = collectorObjectNames(fc.metadata.name).aggregator;
    const wants: LeafWants = {
      commonName: serviceHost(svc, ns),
      usage: "serverAuth",
      altNames: [svc, `${svc}.${ns}`, serviceHost(svc, ns)],
    };
    const server = await this.ensureLeaf(fc, "aggregator", ns, names.server, ca, wants, now);
    if (server.issued) {
      issued.push("server");
      this.onIssued("server");
    }
    return {
      hash: materialHash(server.certPem, ca.bundlePem),
      renewAt: nextRenewal(ca.certPem, server.certPem),
      issued,
    };
  }

  /**
   * The probe's client certificate from its collector's CA; undefined while the collector has
   * no CA yet (its own reconcile makes it, and the probe is queued again then).
   */
  async ensureProbe(fp: FlowProbe, fc: FlowCollector, now = new Date()): Promise<IssuedTls | undefined> {
    const caSecret = await this.client.get<Secret>(
      RESOURCES.secrets,
      namespaceOf(fc),
      tlsSecretNames(fc.metadata.name).ca,
    );
    const ca: CaMaterial = {
      certPem: decode(caSecret, "ca.crt") ?? "",
      keyPem: decode(caSecret, "ca.key") ?? "",
      bundlePem: decode(caSecret, "bundle.crt") ?? "",
    };
    if (caRenewalReason(ca, now) && caRenewalReason(ca, now) !== "due for renewal") return undefined;
    const ns = namespaceOf(fp);
    const wants: LeafWants = { commonName: `flowprobe.${ns}.${fp.metadata.name}`, usage: "clientAuth" };
    const client = await this.ensureLeaf(fp, "agent", ns, agentTlsSecretName(fp.metadata.name), ca, wants, now);
    if (client.issued) this.onIssued("client");
    return {
      hash: materialHash(client.certPem, ca.bundlePem),
      renewAt: nextRenewal(ca.certPem, client.certPem),
      issued: client.issued ? ["client"] : [],
    };
  }

  private async ensureLeaf(
    owner: OwnerResource,
    component: Component,
    namespace: string,
    name: string,
    ca: CaMaterial,
    wants: LeafWants,
    now: Date,
  ): Promise<{ certPem: string; issued: boolean }> {
    const secret = ownedOrAbsent(owner, await this.client.get<Secret>(RESOURCES.secrets, namespace, name));
    const current = { certPem: decode(secret, "tls.crt"), keyPem: decode(secret, "tls.key") };
    const reason = leafRenewalReason(current, ca, wants, now);
    if (!reason && current.certPem && current.keyPem) {
      if (decode(secret, "ca.crt") !== ca.bundlePem) {
        // Same certificate, new trust bundle (the CA was renewed): only ca.crt changes.
        await this.write(owner, component, name, "kubernetes.io/tls", {
          "tls.crt": current.certPem,
          "tls.key": current.keyPem,
          "ca.crt": ca.bundlePem,
        });
      }
      return { certPem: current.certPem, issued: false };
    }
    const leaf = issueLeaf(wants, ca, now, this.timing);
    await this.write(owner, component, name, "kubernetes.io/tls", {
      "tls.crt": leaf.certPem,
      "tls.key": leaf.keyPem,
      "ca.crt": ca.bundlePem,
    });
    return { certPem: leaf.certPem, issued: true };
  }

  private async write(
    owner: OwnerResource,
    component: Component,
    name: string,
    type: string,
    data: Record<string, string>,
  ): Promise<void> {
    const meta = objectMeta(owner, name, component);
    await this.client.apply(RESOURCES.secrets, meta.namespace, name, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: meta,
      type,
      data: encode(data),
    });
  }
}
