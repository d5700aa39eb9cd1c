// A template compiled once into a plan: one (kind, length) pair per field, with runs of
// skipped fixed-length fields merged, then into the code that decodes a record (record.ts
// compileDecoder), so decoding a record makes no lookups and no allocation.
import { addError, type DecodeErrorReason, type ErrorCounts } from "./errors.js";
import { fieldMeaning, Kind, sizeAllowed, takesBytes } from "./fields.js";
import { compileDecoder, type RecordDecoder } from "./record.js";

/** Field length that announces a variable-length field (RFC 7011 section 7). */
export const VARLEN = 0xffff;

/** One field specifier as the exporter sent it. */
export interface FieldSpec {
  id: number;
  length: number;
  /** 0 for IANA (and for every NetFlow v9 field). */
  pen: number;
  /** Options templates: a scope field (v9 scope types are not IEs and always decode as Skip). */
  scope: boolean;
}

export interface Plan {
  readonly templateId: number;
  readonly options: boolean;
  /** Decoding program: kinds[i] applied to lens[i] bytes (VARLEN: length prefix in the data). */
  readonly kinds: Uint8Array;
  readonly lens: Uint16Array;
  /** The program compiled into code: decodes one record (record.ts RecordDecoder). */
  readonly decode: RecordDecoder;
  /** Smallest possible record: fixed lengths plus one length byte per variable-length field. */
  readonly minRecordLength: number;
  /**
   * The fields as (kind, length) pairs for the addon's set decoder (native-set.ts), null when
   * it does not read them all; undefined until the first data set asks.
   */
  native: Int32Array | null | undefined;
  readonly fields: readonly FieldSpec[];
  /** Fields in the template (what the limits count). */
  readonly fieldCount: number;
}

/** (pen, id) pairs of enterprise fields this decoder does not know, seen while compiling. */
export type UnknownFieldSink = (pen: number, id: number) => void;

/**
 * Compiles field specifiers into a plan. Fields whose length their element cannot have are
 * skipped (and counted), never misread; v9 scope fields are skipped because scope types 1..5
 * are not information elements.
 */
export function compileTemplate(
  templateId: number,
  options: boolean,
  fields: FieldSpec[],
  version: 9 | 10,
  errors: ErrorCounts,
  onUnknown: UnknownFieldSink,
): Plan {
  const kinds: number[] = [];
  const lens: number[] = [];
  let minRecordLength = 0;
  // A template may repeat an element (Cisco SRv6 exports the outer and the inner protocol):
  // the first occurrence describes the flow, as tshark and nfdump read it.
  const seen = new Set<Kind>();
  const pushSkip = (len: number) => {
    const last = kinds.length - 1;
    const prevLen = lens[last];
    if (
      last >= 0 &&
      kinds[last] === Kind.Skip &&
      prevLen !== undefined &&
      prevLen !== VARLEN &&
      prevLen + len < VARLEN
    ) {
      lens[last] = prevLen + len;
    } else {
      kinds.push(Kind.Skip);
      lens.push(len);
    }
  };
  for (const f of fields) {
    if (f.length === 0) {
      addError(errors, "zero_length_field");
      continue;
    }
    minRecordLength += f.length === VARLEN ? 1 : f.length;
    if (f.scope && version === 9) {
      if (f.length !== VARLEN) pushSkip(f.length);
      else {
        kinds.push(Kind.Skip);
        lens.push(VARLEN);
      }
      continue;
    }
    const m = fieldMeaning(f.pen, f.id, version);
    if (m.unknownEnterprise) onUnknown(f.pen, f.id);
    let kind: Kind = m.kind;
    if (!takesBytes(kind)) {
      const bad: DecodeErrorReason | undefined =
        f.length === VARLEN || !sizeAllowed(m.size, f.length) ? "bad_field_length" : undefined;
      if (bad) {
        addError(errors, bad);
        kind = Kind.Skip;
      }
    }
    if (kind !== Kind.Skip) {
      if (seen.has(kind)) kind = Kind.Skip;
      else seen.add(kind);
    }
    if (kind === Kind.Skip && f.length !== VARLEN) pushSkip(f.length);
    else {
      kinds.push(kind);
      lens.push(f.length);
    }
  }
  const kindArray = Uint8Array.from(kinds);
  const lenArray = Uint16Array.from(lens);
  const plan = {
    templateId,
    options,
    kinds: kindArray,
    lens: lenArray,
    // Compiled when the first record needs it: a refresh of a known template (sent by some
    // exporters in every datagram) is compared and dropped without being compiled.
    decode: ((v, pos, end, r) => {
      plan.decode = decoderFor(kindArray, lenArray);
      return plan.decode(v, pos, end, r);
    }) as RecordDecoder,
    minRecordLength,
    native: undefined as Int32Array | null | undefined,
    fields,
    fieldCount: fields.length,
  };
  return plan;
}

/** Decoders already compiled, by program: exporters of one model send the same templates. */
const decoders = new Map<string, RecordDecoder>();
const DECODERS_MAX = 1024;

function decoderFor(kinds: Uint8Array, lens: Uint16Array): RecordDecoder {
  const key = `${kinds.join(",")}/${lens.join(",")}`;
  let d = decoders.get(key);
  if (d === undefined) {
    d = compileDecoder(kinds, lens, VARLEN);
    // Oldest first out: the cache only saves work, and stays bounded whatever exporters send.
    if (decoders.size >= DECODERS_MAX) decoders.delete(decoders.keys().next().value as string);
    decoders.set(key, d);
  }
  return d;
}

/** Same fields in the same order: a refresh that needs no recompilation. */
export function sameFields(a: readonly FieldSpec[], b: readonly FieldSpec[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (!x || !y || x.id !== y.id || x.length !== y.length || x.pen !== y.pen || x.scope !== y.scope) return false;
  }
  return true;
}
