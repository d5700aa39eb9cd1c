// Which templates' data sets the addon decodes (agent/native/src/collector_decode.c): those of
// fixed-length fields whose kinds it reads as record.ts and to-flow.ts do (no sampler ids, whose
// rates are in the exporter's table, no ntop L7 names or packet frames: those stay in JS), when
// the addon's kind numbers and context layout are this decoder's. The JS decoder is the
// reference either way.
import { type NativeEngine, nativeEngine } from "@flowlens/agent/engine";
import { Kind } from "./fields.js";
import { MAX_RATE } from "./sampling.js";

export type DecodeSet = NonNullable<NativeEngine["decodeSet"]>;

/** The set context's layout (collector_decode.h C_*), in order. */
export const SET_CONTEXT = [
  "exportMs",
  "sysUptimeMs",
  "systemInitMs",
  "rate",
  "communityId",
  "l7At",
  "l7Len",
  "exporterAt",
  "exporterLen",
  "domain",
  "version",
  "endReasons",
] as const;
/** endReasons takes six entries. */
export const SET_CONTEXT_FIELDS = SET_CONTEXT.length + 5;

interface NativeSets {
  decode: DecodeSet;
  kindOk: (kind: number, len: number) => boolean;
}

let native: NativeSets | null | undefined;

/** The addon's set decoder when its numbers are this module's; null without it. */
export function nativeSets(): NativeSets | null {
  if (native !== undefined) return native;
  native = null;
  try {
    const engine = nativeEngine();
    const k = engine.collectorKinds;
    if (typeof engine.decodeSet !== "function" || typeof engine.decodeKindOk !== "function" || k === undefined)
      return null;
    const kinds = Kind as Readonly<Record<string, number>>;
    const sameKinds = Object.entries(k.kinds).every(([name, n]) => kinds[name] === n);
    const sameCtx = k.ctxFields === SET_CONTEXT_FIELDS && SET_CONTEXT.every((name, i) => k.ctx[name] === i);
    if (sameKinds && sameCtx && k.maxRate === MAX_RATE && Object.keys(k.kinds).length > 0) {
      native = { decode: engine.decodeSet.bind(engine), kindOk: engine.decodeKindOk.bind(engine) };
    }
  } catch {
    native = null;
  }
  return native;
}

/**
 * A plan's fields as the (kind, length) pairs the addon reads, or null when it does not read
 * them all (options templates, variable lengths, kinds it leaves to JS).
 */
export function nativePlan(options: boolean, kinds: Uint8Array, lens: Uint16Array): Int32Array | null {
  const n = nativeSets();
  if (n === null || options || kinds.length === 0) return null;
  const pairs = new Int32Array(2 * kinds.length);
  for (let i = 0; i < kinds.length; i++) {
    const kind = kinds[i] as number;
    const len = lens[i] as number;
    if (!n.kindOk(kind, len)) return null;
    pairs[2 * i] = kind;
    pairs[2 * i + 1] = len;
  }
  return pairs;
}
