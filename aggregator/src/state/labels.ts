// Names that come from the wire (applications, categories, nodes, exporters, addresses) become
// map keys that live as long as the state. A hostile peer could send megabyte strings; these
// bound what one key can cost.

/** Longer names are cut: nDPI names are ~30 characters, node names at most 253. */
export const MAX_LABEL = 253;
/** An address longer than this is not an IP address (the longest IPv6 with a zone id is ~60). */
export const MAX_ADDRESS = 64;
/** The bucket that takes what is beyond a cap. */
export const OTHER = "(other)";

export function label(s: string | undefined, fallback: string): string {
  if (s === undefined || s.length === 0) return fallback;
  return s.length > MAX_LABEL ? s.slice(0, MAX_LABEL) : s;
}

export function isAddress(s: string | undefined): s is string {
  return s !== undefined && s.length > 0 && s.length <= MAX_ADDRESS;
}
