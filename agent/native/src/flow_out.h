/* The exported flow record. The flow table fills a struct fl_flow_out and hands it to its emit
 * callback; batches carry it serialized as a struct fl_rec (fixed layout, offsets published to
 * JS by the addon) followed by its strings packed back to back. Most strings are empty for most
 * flows, so a record is ~220 bytes instead of the ~1.2 KiB that fixed-size string fields took:
 * that is memory bandwidth and page faults on every flow. */
#ifndef FL_FLOW_OUT_H
#define FL_FLOW_OUT_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FL_ABSENT_U64 UINT64_MAX
#define FL_NO_RCODE 0xff

enum fl_end_reason {
  FL_END_IDLE = 1,
  FL_END_ACTIVE = 2,
  FL_END_FIN = 3,
  FL_END_RST = 4,
  FL_END_EOF = 5,
  FL_END_EVICTED = 6,
};

/* String fields, in the order a serialized record carries them. */
enum fl_str {
  FL_STR_L7,
  FL_STR_CATEGORY,
  FL_STR_HOST,
  FL_STR_URL,
  FL_STR_USER_AGENT,
  FL_STR_SNI,
  FL_STR_DNS_QUERY,
  FL_STR_JA3C,
  FL_STR_COMMUNITY_ID,
  FL_STR__COUNT
};

/* Longest value kept per string, in bytes; longer ones are cut there (byte-wise, as the
 * fixed-size fields of earlier versions did, so a cut may split a UTF-8 sequence). */
#define FL_STR_MAX_TOTAL (47 + 31 + 127 + 255 + 191 + 127 + 127 + 35 + 31)
static inline uint8_t fl_str_max(int i) {
  static const uint8_t max[FL_STR__COUNT] = {47, 31, 127, 255, 191, 127, 127, 35, 31};
  return max[i];
}

struct fl_rec {
  uint64_t first_us, last_us;
  uint64_t s2d_pkts, s2d_bytes, d2s_pkts, d2s_bytes;
  uint64_t s2d_wire, d2s_wire; /* frame bytes as captured (len on the wire), for peer comparisons */
  uint64_t cli_nw_lat_us, srv_nw_lat_us, appl_lat_us; /* FL_ABSENT_U64 when not measured */
  uint64_t risks;                                     /* nDPI risk bitmap (bit n = ndpi_risk_enum n) */
  uint8_t src[16];
  uint8_t dst[16];
  uint32_t s2d_retx, d2s_retx, s2d_ooo, d2s_ooo;
  uint32_t sampling; /* 1-in-N, 1 if unsampled */
  uint32_t ifindex;
  uint16_t size; /* serialized: this record and its strings, a multiple of 8 */
  uint16_t sport, dport, vlan;
  uint8_t proto, ip_version, s2d_flags, d2s_flags, end_reason, tunnel, dns_rcode, dpi_done;
  uint8_t str_len[FL_STR__COUNT]; /* serialized: bytes of each string after the fixed part */
};

/* The largest serialized record. */
#define FL_REC_MAX ((sizeof(struct fl_rec) + FL_STR_MAX_TOTAL + 7) & ~(size_t)7)

struct fl_flow_out {
  struct fl_rec rec;
  const char *str[FL_STR__COUNT]; /* NUL-terminated or NULL; valid during the emit call */
  char l7[48];                    /* storage behind str[FL_STR_L7] */
  char community_id[32];          /* storage behind str[FL_STR_COMMUNITY_ID] */
};

/* Serializes a record at dst (8-byte aligned, FL_REC_MAX bytes of room); returns its size. */
static inline size_t fl_rec_write(uint8_t *dst, const struct fl_flow_out *o) {
  struct fl_rec *r = (struct fl_rec *)(void *)dst;
  memcpy(r, &o->rec, sizeof(*r));
  uint8_t *p = dst + sizeof(*r);
  for (int i = 0; i < FL_STR__COUNT; i++) {
    const char *s = o->str[i];
    size_t n = 0;
    if (s) {
      const char *end = memchr(s, 0, fl_str_max(i));
      n = end ? (size_t)(end - s) : fl_str_max(i);
      memcpy(p, s, n);
    }
    p += n;
    r->str_len[i] = (uint8_t)n;
  }
  size_t size = (size_t)(p - dst);
  size_t padded = (size + 7) & ~(size_t)7;
  memset(p, 0, padded - size);
  r->size = (uint16_t)padded;
  return padded;
}

#endif
