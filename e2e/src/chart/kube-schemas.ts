// JSON schemas for kubeconform, made offline: the built-in kinds from a real kube-apiserver's
// /openapi/v2, our custom resources from their CRDs. The layout and the conversion are those of
// kubeconform's openapi2jsonschema in its strict, standalone mode: one file per kind and
// version, named `{{ .ResourceKind }}{{ .KindSuffix }}.json`, every object that lists its
// properties closed to any other (a misspelt field is an error, not ignored).
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { basename, dirname, join } from "node:path";
import { type ControlPlane, goTool, startControlPlane, toolsBinDir } from "@flowlens/testkit";
import { parseAllDocuments } from "yaml";

/** kubeconform's -schema-location for a directory written by writeSchemas. */
export function schemaLocation(dir: string): string {
  return join(dir, "{{ .ResourceKind }}{{ .KindSuffix }}.json");
}

/** The file kubeconform looks up for a kind: deployment-apps-v1.json, service-v1.json. */
export function schemaFileName(kind: string, apiVersion: string): string {
  const [first, version] = apiVersion.includes("/") ? apiVersion.split("/") : [apiVersion, undefined];
  const group = (first ?? "").split(".")[0] ?? "";
  return `${kind.toLowerCase()}-${group.toLowerCase()}${version ? `-${version.toLowerCase()}` : ""}.json`;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

// Documentation and values, not constraints (and a default is data, never converted).
const DROPPED = new Set(["description", "format", "default", "example"]);
const INT_OR_STRING = { oneOf: [{ type: "string" }, { type: "integer" }] };
// resource.Quantity is a string in the OpenAPI document, but manifests write `cpu: 1` too.
const QUANTITY_DEFINITION = "io.k8s.apimachinery.pkg.api.resource.Quantity";
const QUANTITY = { oneOf: [{ type: "string" }, { type: "number" }] };

/**
 * One schema node, converted. Descriptions and formats go (kubeconform's JSON-schema library
 * would check formats Kubernetes writes differently, e.g. int-or-string); vendor extensions
 * become what they mean.
 */
function convertNode(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(convertNode);
  if (!isObject(node)) return node;
  if (node.format === "int-or-string" || node["x-kubernetes-int-or-string"] === true) {
    if (!node.anyOf && !node.oneOf) return { ...INT_OR_STRING };
  }
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) {
    if (DROPPED.has(k) || k.startsWith("x-kubernetes-")) continue;
    if (k === "enum") {
      out[k] = v;
    } else if (k === "properties" || k === "definitions" || k === "patternProperties") {
      out[k] = Object.fromEntries(Object.entries(v as Json).map(([p, s]) => [p, convertNode(s)]));
    } else {
      out[k] = convertNode(v);
    }
  }
  if (node.nullable === true && typeof out.type === "string") out.type = [out.type, "null"];
  delete out.nullable;
  // Strict: an object that names its fields allows no others, unless it says it keeps unknown ones.
  if (isObject(out.properties) && out.additionalProperties === undefined) {
    if (node["x-kubernetes-preserve-unknown-fields"] !== true) out.additionalProperties = false;
  }
  return out;
}

interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

function refsOf(node: unknown, into: Set<string>): void {
  if (Array.isArray(node)) {
    for (const n of node) refsOf(n, into);
  } else if (isObject(node)) {
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string" && v.startsWith("#/definitions/")) {
        into.add(v.slice("#/definitions/".length));
      } else {
        refsOf(v, into);
      }
    }
  }
}

/** Every definition `name` reaches through $ref, itself included. */
function closure(definitions: Json, name: string): string[] {
  const seen = new Set<string>([name]);
  const queue = [name];
  for (let n = queue.pop(); n !== undefined; n = queue.pop()) {
    const refs = new Set<string>();
    refsOf(definitions[n], refs);
    for (const r of refs) {
      if (seen.has(r)) continue;
      if (!(r in definitions)) throw new Error(`openapi v2: ${n} refers to the missing definition ${r}`);
      seen.add(r);
      queue.push(r);
    }
  }
  return [...seen].sort();
}

/**
 * The schemas of every kind a kube-apiserver serves, from its /openapi/v2 document. Each file
 * carries the definitions it reaches (refs stay refs: some, like JSONSchemaProps, are recursive).
 */
export function builtinSchemas(openapiV2: unknown): Map<string, Json> {
  if (!isObject(openapiV2) || !isObject(openapiV2.definitions)) {
    throw new Error("openapi v2: no definitions object (is this a /openapi/v2 document?)");
  }
  const definitions = openapiV2.definitions;
  const converted = new Map<string, unknown>();
  const convertedDefinition = (name: string) => {
    let c = converted.get(name);
    if (c === undefined) {
      c = name === QUANTITY_DEFINITION ? { ...QUANTITY } : convertNode(definitions[name]);
      converted.set(name, c);
    }
    return c;
  };
  const files = new Map<string, Json>();
  for (const [name, def] of Object.entries(definitions)) {
    if (!isObject(def)) continue;
    const gvks = def["x-kubernetes-group-version-kind"];
    if (!Array.isArray(gvks)) continue;
    const defs = Object.fromEntries(closure(definitions, name).map((n) => [n, convertedDefinition(n)]));
    for (const gvk of gvks as GroupVersionKind[]) {
      const apiVersion = gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version;
      const file = schemaFileName(gvk.kind, apiVersion);
      // The same kind under several definitions (e.g. meta/v1 WatchEvent): the first stays.
      if (files.has(file)) continue;
      files.set(file, { $ref: `#/definitions/${name}`, definitions: defs });
    }
  }
  return files;
}

interface CrdLike {
  kind?: string;
  spec?: {
    group?: string;
    names?: { kind?: string };
    versions?: Array<{ name?: string; schema?: { openAPIV3Schema?: unknown } }>;
  };
}

/** The schemas of the custom resources the CRDs define, one per served version. */
export function crdSchemas(crds: CrdLike[]): Map<string, Json> {
  const files = new Map<string, Json>();
  for (const crd of crds) {
    if (crd.kind !== "CustomResourceDefinition") continue;
    const group = crd.spec?.group;
    const kind = crd.spec?.names?.kind;
    if (!group || !kind) throw new Error("CRD without spec.group or spec.names.kind");
    for (const v of crd.spec?.versions ?? []) {
      const schema = v.schema?.openAPIV3Schema;
      if (!v.name || !isObject(schema)) throw new Error(`CRD ${kind}.${group}: version without a schema`);
      const converted = convertNode(schema) as Json;
      // The API server fills in metadata; in a manifest it is an object whatever the CRD says.
      files.set(schemaFileName(kind, `${group}/${v.name}`), converted);
    }
  }
  return files;
}

export function writeSchemas(dir: string, files: Map<string, Json>): void {
  mkdirSync(dir, { recursive: true });
  for (const [file, schema] of files) writeFileSync(join(dir, file), JSON.stringify(schema));
}

/** A kube-apiserver's /openapi/v2 document, read with the harness's CA and admin token. */
export function fetchOpenApiV2(server: string, caFile: string, token: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server}/openapi/v2`,
      {
        ca: readFileSync(caFile),
        headers: { authorization: `Bearer ${token}`, accept: "application/json" },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          if (res.statusCode !== 200) {
            reject(new Error(`GET ${server}/openapi/v2: ${res.statusCode} ${body.slice(0, 200)}`));
            return;
          }
          try {
            resolve(JSON.parse(body));
          } catch (err) {
            reject(new Error(`GET ${server}/openapi/v2: not JSON (${(err as Error).message})`));
          }
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`GET ${server}/openapi/v2: timeout`)));
    req.on("error", reject);
    req.end();
  });
}

/** Bumped whenever the conversion changes, so that cached schemas are made anew. */
const CONVERSION = 1;

/**
 * Where the built-in schemas of the harness's kube-apiserver are kept between runs: beside
 * the tools, by the apiserver's version (its binary is kube-apiserver-vX.Y.Z) and the conversion's, so
 * that a bump of either makes new ones.
 */
export function builtinSchemaCacheDir(): string {
  const version = basename(realpathSync(goTool("kube-apiserver"))).replace(/^kube-apiserver-?/, "") || "unversioned";
  return join(dirname(toolsBinDir()), "kube-schemas", `${version}-c${CONVERSION}`);
}

const COMPLETE = ".complete";

/** The built-in schemas, from the cache or, the first time, from a control plane started for it. */
export async function ensureBuiltinSchemas(log: (line: string) => void = () => {}): Promise<string> {
  const dir = builtinSchemaCacheDir();
  if (existsSync(join(dir, COMPLETE))) return dir;
  log(`kube-schemas: starting a control plane to read /openapi/v2 into ${dir}`);
  const cp = await startControlPlane();
  try {
    await writeBuiltinSchemas(cp, dir);
  } finally {
    await cp.stop();
  }
  return dir;
}

/** Writes the built-in schemas of a running control plane into dir. */
export async function writeBuiltinSchemas(cp: ControlPlane, dir: string): Promise<number> {
  const files = builtinSchemas(await fetchOpenApiV2(cp.server, cp.caFile, cp.token));
  rmSync(dir, { recursive: true, force: true });
  writeSchemas(dir, files);
  writeFileSync(join(dir, COMPLETE), `${files.size} schemas from ${cp.server}/openapi/v2\n`);
  return files.size;
}

/** The schemas of the CRDs in the YAML files of dir. */
export function crdSchemasFromDir(dir: string): Map<string, Json> {
  const crds = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), "utf8")).map((d) => d.toJS() as CrdLike));
  return crdSchemas(crds);
}
