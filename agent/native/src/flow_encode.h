#ifndef FL_FLOW_ENCODE_H
#define FL_FLOW_ENCODE_H
#include <stddef.h>
#include <stdint.h>

/* Collected records' numbers (E_*), where their strings and addresses are (M_*), and what
 * encoding them reports back (X_*), per record; the aggregator's collector/collected-encoding.ts
 * has the same numbers and checks them against collectedLayout at load. */
enum {
  E_SRC_PORT,
  E_DST_PORT,
  E_PROTO,
  E_IP_VERSION,
  E_VLAN,
  E_FIRST_SEEN,
  E_LAST_SEEN,
  E_S2D_PACKETS,
  E_S2D_BYTES,
  E_D2S_PACKETS,
  E_D2S_BYTES,
  E_SRC_FLAGS,
  E_DST_FLAGS,
  E_END_REASON,
  E_DOMAIN,
  E_EXPORT_VERSION,
  E_SAMPLING_RATE,
  E_RAW_PACKETS,
  E_RAW_BYTES,
  E_IN_IF,
  E_OUT_IF,
  E_NUMS
};
/* Offsets into the source bytes (addresses: -1 for the unspecified one) and the strings. A
 * cidLen of FL_CID_FROM_TUPLE asks for the record's Community ID to be computed here, from its
 * addresses, protocol and the ports packed in cid (sport << 16 | dport, ICMP's type and code
 * already put in their place by the caller); cidLen is then set to its length. */
#define FL_CID_FROM_TUPLE (-1)
enum { M_SRC, M_DST, M_IPV6, M_L7, M_L7_LEN, M_CID, M_CID_LEN, M_EXPORTER, M_EXPORTER_LEN, M_FIELDS };
/* The record's encoding [start, end), its addresses' text and its Community ID in it (-1: none). */
enum { X_START, X_END, X_SRC, X_SRC_END, X_DST, X_DST_END, X_CID, X_FIELDS };
/* Most bytes a record's encoding takes besides its strings (flow-records.ts FIXED_MAX, which
 * says how it adds up to 327). */
#define FL_ENCODE_FIXED_MAX 336

/* Encodes `count` records at out[pos..] (out_len bytes in all); returns the end, or -1 when a
 * record's string lies outside `strings` or the output has no room (nothing is promised about
 * out then). An address outside `src` is written as the unspecified one. */
int64_t fl_encode_flows(uint8_t *out, size_t out_len, size_t pos, const uint8_t *src, size_t src_len,
                        const uint8_t *strings, size_t strings_len, const double *nums, int32_t *meta,
                        int32_t count, int32_t *report);

#endif
