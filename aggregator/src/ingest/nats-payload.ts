// nats.js reassembles a message that spans socket reads (every flow batch: ~200 KiB against
// Node's 64 KiB reads) in a buffer that starts at the first read's size and doubles as reads
// come: two or three fresh allocations and copies per message, some 2.5 times its size, though
// the message's size is known from its MSG line all along. The client has no option for it, so
// its parser is given a buffer of the message's size as soon as a message spans reads: one
// allocation (not zero-filled), each byte copied once. It relies on internals of
// @nats-io/nats-core 3.x (Parser's state, ma.size, msgBuf): if they are not what this expects,
// nothing is changed, and messagesSized stays 0 (the ingest test asserts it is not).
import { DenoBuffer, Parser, State } from "@nats-io/nats-core/internal";

interface ParserInternals {
  state: number;
  ma?: { size: number };
  msgBuf?: DenoBuffer;
}

let installed: boolean | undefined;
/** Messages given a buffer of their size, since the process started. */
let sized = 0;

/** Whether the parser's internals look as this module expects. */
function internalsKnown(): boolean {
  const dispatcher = { push() {} } as unknown as ConstructorParameters<typeof Parser>[0];
  const p = new Parser(dispatcher) as unknown as ParserInternals;
  const probe = new DenoBuffer(new ArrayBuffer(4));
  return (
    typeof Parser.prototype.parse === "function" &&
    typeof State.MSG_PAYLOAD === "number" &&
    p.state === State.OP_START &&
    typeof probe.reset === "function" &&
    typeof probe.write === "function" &&
    probe.capacity === 4
  );
}

/**
 * Makes every nats.js connection of this process reassemble a message that spans reads in a
 * buffer of its size. Idempotent; returns whether it is in effect.
 */
export function sizeNatsMessageBuffers(): boolean {
  if (installed !== undefined) return installed;
  installed = internalsKnown();
  if (!installed) return false;
  const parse = Parser.prototype.parse;
  Parser.prototype.parse = function sizedParse(this: Parser, buf: Uint8Array): void {
    parse.call(this, buf);
    const p = this as unknown as ParserInternals;
    const part = p.msgBuf;
    // Left inside a payload, in a buffer smaller than it: the message goes on in later reads.
    if (part === undefined || p.state !== State.MSG_PAYLOAD || p.ma === undefined) return;
    const size = p.ma.size;
    if (part.capacity >= size) return;
    const whole = new DenoBuffer(Buffer.allocUnsafeSlow(size).buffer);
    whole.reset();
    whole.write(part.bytes({ copy: false }));
    p.msgBuf = whole;
    sized++;
  };
  return true;
}

/** Messages given a buffer of their size so far (0 when not in effect). */
export function natsMessagesSized(): number {
  return sized;
}
