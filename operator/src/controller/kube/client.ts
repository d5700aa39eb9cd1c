// The operator's one way to the API server. Reads, lists, status and Lease writes are plain JSON
// over HTTPS with the KubeConfig's credentials; objects built as @kubernetes/client-node models
// (the desired objects) go through its KubernetesObjectApi, whose serializer knows their field
// names. Every request is checked against OPERATOR_RBAC and reported to `onRequest` (metrics,
// and the tests that count who applied what).
import { request as httpRequest, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import {
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
  Watch,
} from "@kubernetes/client-node";
import { RbacError, rbacAllows, type Verb } from "../rbac.js";
import { collectionPath, objectPath, type ResourceType, resourceOfKind } from "./resources.js";

export const FIELD_MANAGER = "flowlens-operator";

export interface RequestRecord {
  verb: Verb;
  group: string;
  /** The resource, with `/status` for the status subresource. */
  resource: string;
  /** HTTP status, or 0 when the server was not reached. */
  status: number;
  seconds: number;
}

/** A request the API server refused (status >= 400), or could not be sent (status 0). */
export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 404;
}
export function isConflict(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 409;
}
export function isGone(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 410;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
  deletionTimestamp?: string;
  [k: string]: unknown;
}

/** An object as the API server returns it (raw JSON). */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [k: string]: unknown;
}

export interface ObjectList<T> {
  items: T[];
  metadata: { resourceVersion?: string; continue?: string };
}

export interface ClientOptions {
  onRequest?: (r: RequestRecord) => void;
  timeoutMs?: number;
  /** Refuse requests OPERATOR_RBAC does not grant (default true). */
  enforceRbac?: boolean;
  /** Field manager of server-side applies (default FIELD_MANAGER). */
  fieldManager?: string;
}

interface Body {
  text: string;
  contentType: string;
}

export class KubeClient {
  private readonly objects: KubernetesObjectApi;
  private readonly server: URL;
  private readonly timeoutMs: number;
  readonly watcher: Watch;

  constructor(
    readonly kubeConfig: KubeConfig,
    private readonly options: ClientOptions = {},
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig: no current cluster");
    this.server = new URL(cluster.server);
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.objects = KubernetesObjectApi.makeApiClient(kubeConfig);
    this.watcher = new Watch(kubeConfig);
  }

  /** Checks and records a request made outside this class (watches). */
  authorize(verb: Verb, t: ResourceType, subresource?: string): void {
    const resource = subresource ? `${t.plural}/${subresource}` : t.plural;
    if (this.options.enforceRbac !== false && !rbacAllows(t.group, resource, verb)) {
      throw new RbacError(t.group, resource, verb);
    }
  }

  record(verb: Verb, t: ResourceType, status: number, started: number, subresource?: string): void {
    this.options.onRequest?.({
      verb,
      group: t.group,
      resource: subresource ? `${t.plural}/${subresource}` : t.plural,
      status,
      seconds: (performance.now() - started) / 1000,
    });
  }

  async get<T extends KubeObject>(t: ResourceType, namespace: string, name: string): Promise<T | undefined> {
    try {
      return await this.call<T>("get", t, "GET", objectPath(t, namespace, name));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  list<T extends KubeObject>(
    t: ResourceType,
    namespace: string | undefined,
    query: { labelSelector?: string; limit?: number; continue?: string } = {},
  ): Promise<ObjectList<T>> {
    return this.call<ObjectList<T>>("list", t, "GET", collectionPath(t, namespace), { query });
  }

  create<T extends KubeObject>(t: ResourceType, namespace: string, body: object): Promise<T> {
    return this.call<T>("create", t, "POST", collectionPath(t, namespace), { body: json(body) });
  }

  /** PUT with the body's resourceVersion: a conflict (409) if the object changed meanwhile. */
  update<T extends KubeObject>(t: ResourceType, namespace: string, name: string, body: object): Promise<T> {
    return this.call<T>("update", t, "PUT", objectPath(t, namespace, name), { body: json(body) });
  }

  /** Server-side apply of a plain JSON object (or of a subresource, e.g. status). */
  apply<T extends KubeObject>(
    t: ResourceType,
    namespace: string,
    name: string,
    body: object,
    subresource?: string,
  ): Promise<T> {
    const verbs: Verb[] = subresource ? ["patch"] : ["patch", "create"];
    for (const v of verbs) this.authorize(v, t, subresource);
    return this.call<T>("patch", t, "PATCH", objectPath(t, namespace, name, subresource), {
      subresource,
      query: { fieldManager: this.options.fieldManager ?? FIELD_MANAGER, force: "true" },
      body: { text: JSON.stringify(body), contentType: PatchStrategy.ServerSideApply },
    });
  }

  /** Server-side apply of a @kubernetes/client-node model (serialized with its field names). */
  async applyModel(obj: KubernetesObject & { metadata: { name: string; namespace: string } }): Promise<void> {
    const t = this.resourceOf(obj);
    this.authorize("patch", t);
    this.authorize("create", t);
    const started = performance.now();
    try {
      await this.objects.patch(
        obj,
        undefined,
        undefined,
        this.options.fieldManager ?? FIELD_MANAGER,
        true,
        PatchStrategy.ServerSideApply,
      );
      this.record("patch", t, 200, started);
    } catch (err) {
      const e = fromClientError(err, `apply ${obj.kind} ${obj.metadata.namespace}/${obj.metadata.name}`);
      this.record("patch", t, e.status, started);
      throw e;
    }
  }

  /** Deletes the object if it still is the one with this uid (a re-created namesake is kept). */
  async delete(t: ResourceType, namespace: string, name: string, uid?: string): Promise<void> {
    const body = { kind: "DeleteOptions", apiVersion: "v1", ...(uid ? { preconditions: { uid } } : {}) };
    try {
      await this.call("delete", t, "DELETE", objectPath(t, namespace, name), { body: json(body) });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  resourceOf(obj: { apiVersion?: string; kind?: string }): ResourceType {
    const t = resourceOfKind(obj.apiVersion ?? "", obj.kind ?? "");
    if (!t) throw new Error(`the operator does not manage ${obj.apiVersion} ${obj.kind}`);
    return t;
  }

  private async call<T>(
    verb: Verb,
    t: ResourceType,
    method: string,
    path: string,
    o: { query?: Record<string, string | number | undefined>; body?: Body; subresource?: string } = {},
  ): Promise<T> {
    this.authorize(verb, t, o.subresource);
    const started = performance.now();
    let status = 0;
    try {
      const res = await this.send(method, path, o.query, o.body);
      status = res.status;
      if (res.status >= 400) throw apiError(res.status, res.text, `${method} ${path}`);
      return JSON.parse(res.text) as T;
    } finally {
      this.record(verb, t, status, started, o.subresource);
    }
  }

  private async send(
    method: string,
    path: string,
    query: Record<string, string | number | undefined> | undefined,
    body: Body | undefined,
  ): Promise<{ status: number; text: string }> {
    const url = new URL(this.server.href.replace(/\/$/, "") + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const opts: RequestOptions & { headers: Record<string, string> } = {
      method,
      headers: { accept: "application/json", ...(body ? { "content-type": body.contentType } : {}) },
      timeout: this.timeoutMs,
    };
    await this.kubeConfig.applyToHTTPSOptions(opts);
    const request = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", (err) => reject(new KubeApiError(0, "ConnectionError", `${method} ${path}: ${err.message}`)));
      });
      req.on("timeout", () => req.destroy(new Error(`no answer in ${this.timeoutMs} ms`)));
      req.on("error", (err) => reject(new KubeApiError(0, "ConnectionError", `${method} ${path}: ${err.message}`)));
      req.end(body?.text);
    });
  }
}

function json(body: object): Body {
  return { text: JSON.stringify(body), contentType: "application/json" };
}

function apiError(status: number, text: string, what: string): KubeApiError {
  let reason = "Unknown";
  let message = text.slice(0, 500);
  try {
    const s = JSON.parse(text) as { reason?: string; message?: string };
    reason = s.reason ?? reason;
    message = s.message ?? message;
  } catch {
    // not a Status: keep the text
  }
  return new KubeApiError(status, reason, `${what}: ${status} ${reason}: ${message}`);
}

/** KubernetesObjectApi's ApiException (or a network error) as a KubeApiError. */
function fromClientError(err: unknown, what: string): KubeApiError {
  const e = err as { code?: unknown; body?: unknown; message?: string };
  if (typeof e.code === "number") {
    const body = typeof e.body === "string" ? e.body : JSON.stringify(e.body ?? {});
    return apiError(e.code, body, what);
  }
  return new KubeApiError(0, "ConnectionError", `${what}: ${e.message ?? String(err)}`);
}
