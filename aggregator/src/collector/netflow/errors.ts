// Why a datagram, a set, a template or a record was not (fully) decoded. Hostile input is
// counted under one of these reasons and never thrown: the names are the label values of the
// collector's decode-error metric, so they only ever grow.

export const DECODE_ERROR_REASONS = [
  /** The datagram or a structure inside it ends before its own length says. */
  "truncated",
  /** Not NetFlow v5, v9 or IPFIX (sFlow and anything else land here). */
  "bad_version",
  /** A length or count field that contradicts the datagram (v5 count, IPFIX message or set length). */
  "bad_length",
  /** A set id that is reserved (v9 2..255, IPFIX 0, 1, 4..255). */
  "bad_set_id",
  /** A template record that cannot be used: id below 256, no fields, bad scope count or length. */
  "bad_template",
  /** A template whose records are zero bytes long: decoding them would never advance. */
  "template_loop",
  /** A field specifier of length zero (kept and skipped: some exporters send them on purpose). */
  "zero_length_field",
  /** A field whose length its information element cannot have (an IPv4 address of 3 bytes). */
  "bad_field_length",
  /** More fields in one template than the configured limit. */
  "too_many_fields",
  /** A template was evicted to stay within the per-source or total template limit. */
  "too_many_templates",
  /** An exporter/domain was evicted to stay within the source limit. */
  "too_many_sources",
  /** A data set arrived before its template; it is buffered for a short time. */
  "unknown_template",
  /** A buffered data set was dropped because the buffer was full. */
  "pending_overflow",
  /** A buffered data set was dropped because its template did not come in time. */
  "pending_expired",
  /** A data record without source and destination addresses: not a flow. */
  "no_address",
  /** A record whose counters or times cannot be real (beyond 2^53, e.g. 9 PB in one flow). */
  "bad_value",
] as const;

export type DecodeErrorReason = (typeof DECODE_ERROR_REASONS)[number];

export type ErrorCounts = Partial<Record<DecodeErrorReason, number>>;

export function addError(counts: ErrorCounts, reason: DecodeErrorReason, n = 1): void {
  counts[reason] = (counts[reason] ?? 0) + n;
}

/** Thrown only for misuse of the API (bad limits), never for anything a datagram contains. */
export class NetflowConfigError extends Error {
  readonly code = "NETFLOW_CONFIG";
}
