// NetFlow v9 (RFC 3954): a 20-byte header, then flowsets to the end of the datagram. There is
// no message length, so trailing zero padding (seen from Palo Alto and others) ends the walk
// quietly while any other malformed set header is counted.
import { addError } from "./errors.js";
import type { DecodeOutput, MessageContext, SetDecoder } from "./sets.js";

export const V9_HEADER = 20;

export function decodeV9(sets: SetDecoder, ctx: MessageContext, out: DecodeOutput): void {
  const v = ctx.view;
  const end = ctx.bytes.length;
  let pos = V9_HEADER;
  while (end - pos >= 4) {
    const setId = v.getUint16(pos);
    const len = v.getUint16(pos + 2);
    if (len < 4) {
      if (!allZero(ctx.bytes, pos, end)) addError(out.errors, "bad_length");
      return;
    }
    if (len > end - pos) {
      addError(out.errors, "bad_length");
      return;
    }
    const body = pos + 4;
    const setEnd = pos + len;
    if (setId === 0) sets.templateSet(ctx, body, setEnd, false, out);
    else if (setId === 1) sets.templateSet(ctx, body, setEnd, true, out);
    else if (setId >= 256) sets.dataSet(ctx, setId, body, setEnd, out);
    else addError(out.errors, "bad_set_id");
    pos = setEnd;
  }
  if (pos < end && !allZero(ctx.bytes, pos, end)) addError(out.errors, "truncated");
}

function allZero(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] !== 0) return false;
  return true;
}
