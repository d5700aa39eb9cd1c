// The schema language of our CRDs: OpenAPI v3 as Kubernetes takes it (structural schemas,
// `x-kubernetes-*` extensions, CEL rules), written as plain object literals that are checked
// against the contracts/src/crd.ts interfaces by `as const satisfies Schema<T>`. The check is
// two-way: a field of T without a schema, a schema property T does not have, an enum that is
// not exactly T's union, a required field not marked `required: true` (or an optional one
// marked) are compile errors. `as const` keeps the literal, so `Defaulted<T, typeof schema>`
// can tell which optional fields the API server will always have filled in.
//
// `required` is written on the property (like kubebuilder's +required marker) rather than as
// a list on the parent, because only a per-property marker can be checked against T's `?`.
// toOpenApi() turns the markers into the parent's `required` list.

declare const exhaustive: unique symbol;
/** An enum that lists exactly the members of V: the brand makes it invariant in V. */
export type EnumOf<V> = readonly V[] & { readonly [exhaustive]?: (v: V) => V };

/** `members({ grpc: true, nats: true })`: a record, so that a missing or extra member is a type error. */
export function members<const R extends Record<string, true>>(r: R): EnumOf<keyof R & string> {
  return Object.keys(r) as unknown as EnumOf<keyof R & string>;
}

/** A CEL rule (`x-kubernetes-validations`), evaluated by the API server. */
export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  reason?: "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueRequired" | "FieldValueDuplicate";
  fieldPath?: string;
  optionalOldSelf?: boolean;
}

interface Common<V> {
  description?: string;
  default?: V;
  "x-kubernetes-validations"?: readonly ValidationRule[];
}

export type BooleanSchema = Common<boolean> & { type: "boolean" };

export type NumberSchema<V extends number> = Common<V> & {
  type: "integer" | "number";
  format?: "int32" | "int64" | "double";
  minimum?: number;
  maximum?: number;
  multipleOf?: number;
};

export type StringSchema<V extends string> = Common<V> & {
  type: "string";
  format?: "date-time";
  pattern?: string;
  minLength?: number;
  maxLength?: number;
} & (string extends V ? { enum?: never } : { enum: EnumOf<V> });

/** Kubernetes quantities (`500m`, `1Gi`, `2`): an integer or a string. */
export type IntOrStringSchema = Common<string | number> & {
  "x-kubernetes-int-or-string": true;
  anyOf: readonly [{ type: "integer" }, { type: "string" }];
  pattern?: string;
  maxLength?: number;
};

export type ArraySchema<U> = Common<U[]> & {
  type: "array";
  items: Schema<U>;
  minItems?: number;
  maxItems?: number;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: readonly (keyof U & string)[];
};

export type MapSchema<V> = Common<Record<string, V>> & {
  type: "object";
  additionalProperties: Schema<V>;
  maxProperties?: number;
};

type Properties<T> = {
  [K in keyof T]-?: object extends Pick<T, K>
    ? Schema<Exclude<T[K], undefined>> & { required?: false }
    : Schema<T[K]> & { required: true };
};

export type ObjectSchema<T> = Common<T> & { type: "object"; properties: Properties<T>; maxProperties?: number };

export type Schema<T> = [T] extends [boolean]
  ? BooleanSchema
  : [T] extends [number]
    ? NumberSchema<T>
    : [T] extends [string]
      ? StringSchema<T>
      : [T] extends [string | number]
        ? IntOrStringSchema
        : [T] extends [readonly (infer U)[]]
          ? ArraySchema<U>
          : [T] extends [object]
            ? string extends keyof T
              ? MapSchema<T[keyof T & string]>
              : ObjectSchema<T>
            : never;

type HasDefault<S> = S extends { default: unknown } ? true : false;
type DefaultedKeys<P> = { [K in keyof P]: HasDefault<P[K]> extends true ? K : never }[keyof P];
type At<P, K> = K extends keyof P ? P[K] : never;
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/**
 * T as the API server stores it: optional fields whose schema has a default (directly, or
 * inside a parent defaulted to `{}`) become required. S is the `as const` schema literal.
 */
export type Defaulted<T, S> = T extends undefined
  ? undefined
  : T extends string | number | boolean
    ? T
    : T extends readonly (infer U)[]
      ? S extends { items: infer I }
        ? Defaulted<U, I>[]
        : T
      : S extends { properties: infer P }
        ? Simplify<
            {
              [K in keyof T as K extends DefaultedKeys<P> ? K : never]-?: Defaulted<Exclude<T[K], undefined>, At<P, K>>;
            } & {
              [K in keyof T as K extends DefaultedKeys<P> ? never : K]: Defaulted<T[K], At<P, K>>;
            }
          >
        : S extends { additionalProperties: infer A }
          ? { [k: string]: Defaulted<T[keyof T & string], A> }
          : T;

/** Any schema of the language, as the generic walkers below see it. */
export interface LooseSchema {
  [key: string]: unknown;
  properties?: Record<string, LooseSchema>;
  items?: LooseSchema;
  additionalProperties?: LooseSchema;
  default?: unknown;
  required?: boolean;
}

// The order keys are written in: descriptions first and validations last read best in YAML,
// and a fixed order keeps the generated files stable.
const KEY_ORDER = [
  "description",
  "type",
  "format",
  "enum",
  "default",
  "minimum",
  "maximum",
  "multipleOf",
  "minLength",
  "maxLength",
  "pattern",
  "minItems",
  "maxItems",
  "maxProperties",
  "anyOf",
  "x-kubernetes-int-or-string",
  "items",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "properties",
  "required",
  "additionalProperties",
  "x-kubernetes-validations",
] as const;
const KNOWN = new Set<string>(KEY_ORDER);

/** The OpenAPI v3 object the CRD carries: markers become `required` lists, keys in a fixed order. */
export function toOpenApi(schema: LooseSchema, path = "schema"): Record<string, unknown> {
  for (const key of Object.keys(schema)) {
    // A cast can get past the types; an unknown keyword would be pruned or refused by the API server.
    if (!KNOWN.has(key)) throw new Error(`${path}: unknown schema keyword '${key}'`);
  }
  const out: Record<string, unknown> = {};
  for (const key of KEY_ORDER) {
    if (key === "required") continue; // the marker of this property; the parent lists it
    const v = schema[key];
    if (v === undefined) continue;
    if (key === "properties") {
      const props: Record<string, unknown> = {};
      const required: string[] = [];
      for (const [name, p] of Object.entries(schema.properties ?? {})) {
        props[name] = toOpenApi(p, `${path}.${name}`);
        if (p.required === true) required.push(name);
      }
      out.properties = props;
      if (required.length > 0) out.required = required;
    } else if (key === "items" || key === "additionalProperties") {
      out[key] = toOpenApi(v as LooseSchema, `${path}[]`);
    } else {
      out[key] = structuredClone(v);
    }
  }
  return out;
}

/**
 * Fills in defaults the way the API server's structural defaulting does: a missing field with
 * a default gets a copy of it, then defaulting continues inside it (so `default: {}` on a
 * parent brings in its children's defaults). The input is not modified.
 */
export function withDefaults(schema: LooseSchema, value: unknown): unknown {
  if (Array.isArray(value))
    return schema.items ? value.map((v) => withDefaults(schema.items as LooseSchema, v)) : value;
  if (value === null || typeof value !== "object") return value;
  const obj = { ...(value as Record<string, unknown>) };
  if (schema.properties) {
    for (const [name, p] of Object.entries(schema.properties)) {
      if (obj[name] === undefined && p.default !== undefined) obj[name] = structuredClone(p.default);
      if (obj[name] !== undefined) obj[name] = withDefaults(p, obj[name]);
    }
  } else if (schema.additionalProperties) {
    for (const [k, v] of Object.entries(obj)) obj[k] = withDefaults(schema.additionalProperties, v);
  }
  return obj;
}
