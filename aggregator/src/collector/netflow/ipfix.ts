// IPFIX (RFC 7011): a 16-byte message header with the message length, then sets. Set lengths
// are checked against the message, never against the datagram.
import { addError } from "./errors.js";
import type { DecodeOutput, MessageContext, SetDecoder } from "./sets.js";

export const IPFIX_HEADER = 16;

/** Decodes the sets of the message in [ctx.bytes[0], messageEnd). */
export function decodeIpfix(sets: SetDecoder, ctx: MessageContext, messageEnd: number, out: DecodeOutput): void {
  const v = ctx.view;
  let pos = IPFIX_HEADER;
  while (pos < messageEnd) {
    if (messageEnd - pos < 4) {
      addError(out.errors, "truncated");
      return;
    }
    const setId = v.getUint16(pos);
    const len = v.getUint16(pos + 2);
    if (len < 4 || len > messageEnd - pos) {
      addError(out.errors, "bad_length");
      return;
    }
    const body = pos + 4;
    const setEnd = pos + len;
    if (setId === 2) sets.templateSet(ctx, body, setEnd, false, out);
    else if (setId === 3) sets.templateSet(ctx, body, setEnd, true, out);
    else if (setId >= 256) sets.dataSet(ctx, setId, body, setEnd, out);
    else addError(out.errors, "bad_set_id");
    pos = setEnd;
  }
}
