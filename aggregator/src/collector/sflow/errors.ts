// Why an sFlow datagram, sample or record was not (fully) decoded, or what in it was skipped.
// Hostile input is counted under one of these reasons and never thrown: the names are the
// label values of the collector's sFlow decode-error metric, so they only ever grow.

export const SFLOW_ERROR_REASONS = [
  /** The datagram, a sample or a record ends before its own length or count says. */
  "truncated",
  /** Not sFlow version 5. */
  "bad_version",
  /** An agent address type other than 0 (unknown), 1 (IPv4) or 2 (IPv6): nothing after it can be found. */
  "bad_address_type",
  /** A sample or record length that is not a multiple of 4, or that contradicts its own fields. */
  "bad_length",
  /** A count (samples, records, AS path segments, communities) no datagram of its size can hold. */
  "bad_count",
  /** A sample type this decoder does not read (skipped by its length). */
  "unknown_sample",
  /** A flow record type this decoder does not read (skipped by its length). */
  "unknown_flow_record",
  /** A counter record type this decoder does not read (skipped by its length). */
  "unknown_counter_record",
  /** A raw packet header of a protocol the packet decoder has no link type for (FDDI, X.25...). */
  "unsupported_header_protocol",
  /** A flow sample with neither a decodable packet header nor sampled IPv4/IPv6 data: not a flow. */
  "no_address",
  /** A sampling rate of 0 (taken as 1). */
  "bad_sampling_rate",
  /** A value no flow can have (scaled counters beyond 2^53). */
  "bad_value",
  /** The native packet decoder is not built: raw packet headers cannot be decoded. */
  "native_unavailable",
  /** An agent/sub-agent whose sequence state was evicted to stay within the source limit. */
  "too_many_sources",
  /** Packet decoder results for raw headers, as the probe counts them (decode.h). */
  "header_not_ip",
  "header_unsupported_link",
  "header_truncated_l2",
  "header_truncated_ip",
  "header_bad_ip_version",
  "header_bad_ip_header",
  "header_truncated_l4",
  "header_bad_l4_header",
  "header_bad_ipv6_ext",
  "header_tunnel_too_deep",
  "header_fragment_unmatched",
] as const;

export type SflowErrorReason = (typeof SFLOW_ERROR_REASONS)[number];

export type SflowErrorCounts = Partial<Record<SflowErrorReason, number>>;

export function addSflowError(counts: SflowErrorCounts, reason: SflowErrorReason, n = 1): void {
  counts[reason] = (counts[reason] ?? 0) + n;
}

/** Thrown only for misuse of the API (bad limits), never for anything a datagram contains. */
export class SflowConfigError extends Error {
  readonly code = "SFLOW_CONFIG";
}
