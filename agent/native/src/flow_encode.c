/* encodeCollected: the collector's records as pb.Flow encodings, a datagram's worth per call.
 * The collector hands the live state records whose bytes are their protobuf encoding (the flow
 * store keeps that copy, the host table looks hosts up by the address text in it). Written from
 * JS that was a quarter of the collector's time per record (varints, address text), so JS lists
 * each record's numbers and where its addresses and strings are, and this writes them, byte for
 * byte what aggregator/src/collector/collected-encoding.ts writes without the addon (the tests
 * compare the two). Numbers are JS numbers and are turned into bytes as JS would (ToUint32 and
 * the int64 two's complement of varint64), so that both agree on any input. */
#include "flow_encode.h"

#include "community_id.h"

#include <math.h>
#include <string.h>

#define TWO32 4294967296.0

/* pb.Flow's tags: one byte for fields 1 to 15, field numbers for the rest. */
enum {
  T_SRC_ADDR = 0x0a,
  T_SRC_PORT = 0x10,
  T_DST_ADDR = 0x1a,
  T_DST_PORT = 0x20,
  T_PROTO = 0x28,
  T_IP_VERSION = 0x30,
  T_VLAN = 0x38,
  T_FIRST_SEEN = 0x40,
  T_LAST_SEEN = 0x48,
  T_S2D_PACKETS = 0x50,
  T_S2D_BYTES = 0x58,
  T_D2S_PACKETS = 0x60,
  T_D2S_BYTES = 0x68,
  T_SRC_FLAGS = 0x70,
  T_DST_FLAGS = 0x78,
  F_L7 = 16,
  F_END_REASON = 26,
  F_COMMUNITY_ID = 27,
  F_EXPORTER = 28,
  F_DOMAIN = 29,
  F_EXPORT_VERSION = 30,
  F_SAMPLING_RATE = 31,
  F_RAW_PACKETS = 32,
  F_RAW_BYTES = 33,
  F_IN_IF = 34,
  F_OUT_IF = 35,
};

/* JS ToUint32 (and, in its low 8 bits, what a Uint8Array store keeps). */
static inline uint32_t to_uint32(double v) {
  if (v >= 0 && v < TWO32) return (uint32_t)v; /* truncation, as ToUint32 for these */
  if (!isfinite(v)) return 0;
  double m = fmod(trunc(v), TWO32);
  if (m < 0) m += TWO32;
  return (uint32_t)m;
}

/* The varint bytes of u. */
static inline uint8_t *put_varint(uint8_t *p, uint64_t u) {
  while (u > 0x7f) {
    *p++ = (uint8_t)((u & 0x7f) | 0x80);
    u >>= 7;
  }
  *p++ = (uint8_t)u;
  return p;
}

/* varint() of flow-records: a number meant to be a uint32. Up to 0x7f, the one byte a
 * Uint8Array store keeps of it; above, JS's loop tests the number itself before its first byte
 * (127.5 gives two bytes). */
static uint8_t *varint(uint8_t *p, double v) {
  if (!(v > 0x7f)) {
    *p++ = (uint8_t)to_uint32(v);
    return p;
  }
  uint32_t u = to_uint32(v);
  *p++ = (uint8_t)((u & 0x7f) | 0x80);
  return put_varint(p, u >> 7);
}

/* varint64(): an integer within ±2^53 as an int64 varint (two's complement when negative). */
static uint8_t *varint64(uint8_t *p, double n) {
  if (n >= 0 && n < TWO32) return put_varint(p, (uint32_t)n);
  /* An integer (times, counters): its int64 two's complement, which is what the lo/hi steps
   * below make of it. */
  if (n >= -9007199254740992.0 && n <= 9007199254740992.0 && (double)(int64_t)n == n)
    return put_varint(p, (uint64_t)(int64_t)n);
  double lo = isfinite(n) ? fmod(n, TWO32) : NAN;
  if (lo < 0) lo += TWO32;
  return put_varint(p, (uint64_t)to_uint32(floor(n / TWO32)) << 32 | to_uint32(lo));
}

static inline uint8_t *tag2(uint8_t *p, uint32_t field, uint32_t wire) {
  uint32_t t = (field << 3) | wire;
  p[0] = (uint8_t)((t & 0x7f) | 0x80);
  p[1] = (uint8_t)(t >> 7);
  return p + 2;
}

/* A varint field left out when 0, as proto3 does (NaN is not 0: it is written, as 0). */
static inline uint8_t *uint_field(uint8_t *p, uint8_t tag, double v) {
  if (v == 0) return p;
  *p++ = tag;
  return varint64(p, v);
}

static inline uint8_t *uint_field2(uint8_t *p, uint32_t field, double v) {
  if (v == 0) return p;
  return varint64(tag2(p, field, 0), v);
}

static uint8_t *bytes_field(uint8_t *p, const uint8_t *s, int32_t len) {
  p = varint(p, (double)len);
  memcpy(p, s, (size_t)len);
  return p + len;
}

/* A byte's decimal digits (padded to 3) and how many: the dotted quad with no division. */
static const uint8_t decimals[256][4] = {
    {'0', 0, 0, 1}, {'1', 0, 0, 1}, {'2', 0, 0, 1}, {'3', 0, 0, 1}, {'4', 0, 0, 1}, {'5', 0, 0, 1}, {'6', 0, 0, 1},
    {'7', 0, 0, 1}, {'8', 0, 0, 1}, {'9', 0, 0, 1}, {'1', '0', 0, 2}, {'1', '1', 0, 2}, {'1', '2', 0, 2},
    {'1', '3', 0, 2}, {'1', '4', 0, 2}, {'1', '5', 0, 2}, {'1', '6', 0, 2}, {'1', '7', 0, 2}, {'1', '8', 0, 2},
    {'1', '9', 0, 2}, {'2', '0', 0, 2}, {'2', '1', 0, 2}, {'2', '2', 0, 2}, {'2', '3', 0, 2}, {'2', '4', 0, 2},
    {'2', '5', 0, 2}, {'2', '6', 0, 2}, {'2', '7', 0, 2}, {'2', '8', 0, 2}, {'2', '9', 0, 2}, {'3', '0', 0, 2},
    {'3', '1', 0, 2}, {'3', '2', 0, 2}, {'3', '3', 0, 2}, {'3', '4', 0, 2}, {'3', '5', 0, 2}, {'3', '6', 0, 2},
    {'3', '7', 0, 2}, {'3', '8', 0, 2}, {'3', '9', 0, 2}, {'4', '0', 0, 2}, {'4', '1', 0, 2}, {'4', '2', 0, 2},
    {'4', '3', 0, 2}, {'4', '4', 0, 2}, {'4', '5', 0, 2}, {'4', '6', 0, 2}, {'4', '7', 0, 2}, {'4', '8', 0, 2},
    {'4', '9', 0, 2}, {'5', '0', 0, 2}, {'5', '1', 0, 2}, {'5', '2', 0, 2}, {'5', '3', 0, 2}, {'5', '4', 0, 2},
    {'5', '5', 0, 2}, {'5', '6', 0, 2}, {'5', '7', 0, 2}, {'5', '8', 0, 2}, {'5', '9', 0, 2}, {'6', '0', 0, 2},
    {'6', '1', 0, 2}, {'6', '2', 0, 2}, {'6', '3', 0, 2}, {'6', '4', 0, 2}, {'6', '5', 0, 2}, {'6', '6', 0, 2},
    {'6', '7', 0, 2}, {'6', '8', 0, 2}, {'6', '9', 0, 2}, {'7', '0', 0, 2}, {'7', '1', 0, 2}, {'7', '2', 0, 2},
    {'7', '3', 0, 2}, {'7', '4', 0, 2}, {'7', '5', 0, 2}, {'7', '6', 0, 2}, {'7', '7', 0, 2}, {'7', '8', 0, 2},
    {'7', '9', 0, 2}, {'8', '0', 0, 2}, {'8', '1', 0, 2}, {'8', '2', 0, 2}, {'8', '3', 0, 2}, {'8', '4', 0, 2},
    {'8', '5', 0, 2}, {'8', '6', 0, 2}, {'8', '7', 0, 2}, {'8', '8', 0, 2}, {'8', '9', 0, 2}, {'9', '0', 0, 2},
    {'9', '1', 0, 2}, {'9', '2', 0, 2}, {'9', '3', 0, 2}, {'9', '4', 0, 2}, {'9', '5', 0, 2}, {'9', '6', 0, 2},
    {'9', '7', 0, 2}, {'9', '8', 0, 2}, {'9', '9', 0, 2}, {'1', '0', '0', 3}, {'1', '0', '1', 3}, {'1', '0', '2', 3},
    {'1', '0', '3', 3}, {'1', '0', '4', 3}, {'1', '0', '5', 3}, {'1', '0', '6', 3}, {'1', '0', '7', 3},
    {'1', '0', '8', 3}, {'1', '0', '9', 3}, {'1', '1', '0', 3}, {'1', '1', '1', 3}, {'1', '1', '2', 3},
    {'1', '1', '3', 3}, {'1', '1', '4', 3}, {'1', '1', '5', 3}, {'1', '1', '6', 3}, {'1', '1', '7', 3},
    {'1', '1', '8', 3}, {'1', '1', '9', 3}, {'1', '2', '0', 3}, {'1', '2', '1', 3}, {'1', '2', '2', 3},
    {'1', '2', '3', 3}, {'1', '2', '4', 3}, {'1', '2', '5', 3}, {'1', '2', '6', 3}, {'1', '2', '7', 3},
    {'1', '2', '8', 3}, {'1', '2', '9', 3}, {'1', '3', '0', 3}, {'1', '3', '1', 3}, {'1', '3', '2', 3},
    {'1', '3', '3', 3}, {'1', '3', '4', 3}, {'1', '3', '5', 3}, {'1', '3', '6', 3}, {'1', '3', '7', 3},
    {'1', '3', '8', 3}, {'1', '3', '9', 3}, {'1', '4', '0', 3}, {'1', '4', '1', 3}, {'1', '4', '2', 3},
    {'1', '4', '3', 3}, {'1', '4', '4', 3}, {'1', '4', '5', 3}, {'1', '4', '6', 3}, {'1', '4', '7', 3},
    {'1', '4', '8', 3}, {'1', '4', '9', 3}, {'1', '5', '0', 3}, {'1', '5', '1', 3}, {'1', '5', '2', 3},
    {'1', '5', '3', 3}, {'1', '5', '4', 3}, {'1', '5', '5', 3}, {'1', '5', '6', 3}, {'1', '5', '7', 3},
    {'1', '5', '8', 3}, {'1', '5', '9', 3}, {'1', '6', '0', 3}, {'1', '6', '1', 3}, {'1', '6', '2', 3},
    {'1', '6', '3', 3}, {'1', '6', '4', 3}, {'1', '6', '5', 3}, {'1', '6', '6', 3}, {'1', '6', '7', 3},
    {'1', '6', '8', 3}, {'1', '6', '9', 3}, {'1', '7', '0', 3}, {'1', '7', '1', 3}, {'1', '7', '2', 3},
    {'1', '7', '3', 3}, {'1', '7', '4', 3}, {'1', '7', '5', 3}, {'1', '7', '6', 3}, {'1', '7', '7', 3},
    {'1', '7', '8', 3}, {'1', '7', '9', 3}, {'1', '8', '0', 3}, {'1', '8', '1', 3}, {'1', '8', '2', 3},
    {'1', '8', '3', 3}, {'1', '8', '4', 3}, {'1', '8', '5', 3}, {'1', '8', '6', 3}, {'1', '8', '7', 3},
    {'1', '8', '8', 3}, {'1', '8', '9', 3}, {'1', '9', '0', 3}, {'1', '9', '1', 3}, {'1', '9', '2', 3},
    {'1', '9', '3', 3}, {'1', '9', '4', 3}, {'1', '9', '5', 3}, {'1', '9', '6', 3}, {'1', '9', '7', 3},
    {'1', '9', '8', 3}, {'1', '9', '9', 3}, {'2', '0', '0', 3}, {'2', '0', '1', 3}, {'2', '0', '2', 3},
    {'2', '0', '3', 3}, {'2', '0', '4', 3}, {'2', '0', '5', 3}, {'2', '0', '6', 3}, {'2', '0', '7', 3},
    {'2', '0', '8', 3}, {'2', '0', '9', 3}, {'2', '1', '0', 3}, {'2', '1', '1', 3}, {'2', '1', '2', 3},
    {'2', '1', '3', 3}, {'2', '1', '4', 3}, {'2', '1', '5', 3}, {'2', '1', '6', 3}, {'2', '1', '7', 3},
    {'2', '1', '8', 3}, {'2', '1', '9', 3}, {'2', '2', '0', 3}, {'2', '2', '1', 3}, {'2', '2', '2', 3},
    {'2', '2', '3', 3}, {'2', '2', '4', 3}, {'2', '2', '5', 3}, {'2', '2', '6', 3}, {'2', '2', '7', 3},
    {'2', '2', '8', 3}, {'2', '2', '9', 3}, {'2', '3', '0', 3}, {'2', '3', '1', 3}, {'2', '3', '2', 3},
    {'2', '3', '3', 3}, {'2', '3', '4', 3}, {'2', '3', '5', 3}, {'2', '3', '6', 3}, {'2', '3', '7', 3},
    {'2', '3', '8', 3}, {'2', '3', '9', 3}, {'2', '4', '0', 3}, {'2', '4', '1', 3}, {'2', '4', '2', 3},
    {'2', '4', '3', 3}, {'2', '4', '4', 3}, {'2', '4', '5', 3}, {'2', '4', '6', 3}, {'2', '4', '7', 3},
    {'2', '4', '8', 3}, {'2', '4', '9', 3}, {'2', '5', '0', 3}, {'2', '5', '1', 3}, {'2', '5', '2', 3},
    {'2', '5', '3', 3}, {'2', '5', '4', 3}, {'2', '5', '5', 3}};

static inline uint8_t *decimal(uint8_t *p, uint8_t v) {
  const uint8_t *d = decimals[v];
  memcpy(p, d, 3);
  return p + d[3];
}

static uint8_t *ipv4_text(uint8_t *p, const uint8_t *a) {
  for (int i = 0; i < 4; i++) {
    if (i > 0) *p++ = '.';
    p = decimal(p, a[i]);
  }
  return p;
}

/* RFC 5952, as address-text.ts writes it: IPv4-mapped as ::ffff:a.b.c.d, the longest run of two
 * or more zero groups (the first of equals) as "::", hex digits without leading zeros. */
static uint8_t *ipv6_text(uint8_t *p, const uint8_t *a) {
  static const char hex[] = "0123456789abcdef";
  uint32_t g[8];
  for (int i = 0; i < 8; i++) g[i] = (uint32_t)a[2 * i] << 8 | a[2 * i + 1];
  if (g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0 && g[5] == 0xffff) {
    memcpy(p, "::ffff:", 7);
    return ipv4_text(p + 7, a + 12);
  }
  int best = -1, best_len = 1;
  for (int i = 0; i < 8;) {
    if (g[i] != 0) {
      i++;
      continue;
    }
    int j = i + 1;
    while (j < 8 && g[j] == 0) j++;
    if (j - i > best_len) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  uint8_t *start = p;
  for (int i = 0; i < 8; i++) {
    if (i == best) {
      *p++ = ':';
      *p++ = ':';
      i += best_len - 1;
      continue;
    }
    if (p > start && p[-1] != ':') *p++ = ':';
    uint32_t v = g[i];
    if (v >= 0x1000) *p++ = (uint8_t)hex[v >> 12];
    if (v >= 0x100) *p++ = (uint8_t)hex[(v >> 8) & 15];
    if (v >= 0x10) *p++ = (uint8_t)hex[(v >> 4) & 15];
    *p++ = (uint8_t)hex[v & 15];
  }
  return p;
}

/* An address field: tag, length, text ("0.0.0.0" or "::" for an offset of -1). */
static uint8_t *address_field(uint8_t *p, uint8_t tag, const uint8_t *src, int32_t off, int ipv6) {
  p[0] = tag;
  uint8_t *text = p + 2;
  uint8_t *end;
  if (off < 0) {
    const char *none = ipv6 ? "::" : "0.0.0.0";
    size_t n = strlen(none);
    memcpy(text, none, n);
    end = text + n;
  } else {
    end = ipv6 ? ipv6_text(text, src + off) : ipv4_text(text, src + off);
  }
  p[1] = (uint8_t)(end - text);
  return end;
}

static int in_range(int32_t off, int32_t len, size_t size) {
  return off >= 0 && len >= 0 && (uint64_t)off + (uint64_t)len <= size;
}

int64_t fl_encode_flows(uint8_t *out, size_t out_len, size_t pos, const uint8_t *src, size_t src_len,
                        const uint8_t *strings, size_t strings_len, const double *nums, int32_t *meta,
                        int32_t count, int32_t *report) {
  for (int32_t k = 0; k < count; k++) {
    const double *x = nums + (size_t)k * E_NUMS;
    int32_t *m = meta + (size_t)k * M_FIELDS;
    int32_t *r = report + (size_t)k * X_FIELDS;
    int ipv6 = m[M_IPV6] != 0;
    int32_t alen = ipv6 ? 16 : 4;
    /* An address outside the source (the decoders never give one) is written as the unspecified
     * one, never read from beyond it. */
    int32_t src_off = in_range(m[M_SRC], alen, src_len) ? m[M_SRC] : -1;
    int32_t dst_off = in_range(m[M_DST], alen, src_len) ? m[M_DST] : -1;
    int32_t l7 = m[M_L7_LEN], cid = m[M_CID_LEN], ex = m[M_EXPORTER_LEN];
    /* The Community ID computed here: from the addresses as they are written (none without
     * both), so that it is the one of the record's own tuple. */
    char hashed[FL_COMMUNITY_ID_LEN];
    const uint8_t *cid_text = (const uint8_t *)hashed;
    if (cid == FL_CID_FROM_TUPLE) {
      uint32_t ports = (uint32_t)m[M_CID];
      /* Decoders give protocols of 0-255; anything else is hashed as its low byte. */
      uint8_t proto = (uint8_t)to_uint32(x[E_PROTO]);
      cid = 0;
      if (src_off >= 0 && dst_off >= 0 &&
          fl_community_id(ipv6 ? 6 : 4, src + src_off, src + dst_off, proto, (uint16_t)(ports >> 16),
                          (uint16_t)(ports & 0xffff), 0, hashed) == 0)
        cid = (int32_t)strlen(hashed);
      m[M_CID_LEN] = cid;
    } else if (cid != 0) {
      if (!in_range(m[M_CID], cid, strings_len)) return -1;
      cid_text = strings + m[M_CID];
    }
    if ((l7 != 0 && !in_range(m[M_L7], l7, strings_len)) || (ex != 0 && !in_range(m[M_EXPORTER], ex, strings_len)))
      return -1;
    if (pos + FL_ENCODE_FIXED_MAX + (uint64_t)l7 + (uint64_t)cid + (uint64_t)ex > out_len) return -1;
    uint8_t *start = out + pos;
    uint8_t *p = start;
    uint8_t *q = address_field(p, T_SRC_ADDR, src, src_off, ipv6);
    r[X_SRC] = (int32_t)(p + 2 - out);
    r[X_SRC_END] = (int32_t)(q - out);
    p = uint_field(q, T_SRC_PORT, x[E_SRC_PORT]);
    q = address_field(p, T_DST_ADDR, src, dst_off, ipv6);
    r[X_DST] = (int32_t)(p + 2 - out);
    r[X_DST_END] = (int32_t)(q - out);
    p = uint_field(q, T_DST_PORT, x[E_DST_PORT]);
    p = uint_field(p, T_PROTO, x[E_PROTO]);
    p = uint_field(p, T_IP_VERSION, x[E_IP_VERSION]);
    p = uint_field(p, T_VLAN, x[E_VLAN]);
    p = uint_field(p, T_FIRST_SEEN, x[E_FIRST_SEEN]);
    p = uint_field(p, T_LAST_SEEN, x[E_LAST_SEEN]);
    p = uint_field(p, T_S2D_PACKETS, x[E_S2D_PACKETS]);
    p = uint_field(p, T_S2D_BYTES, x[E_S2D_BYTES]);
    p = uint_field(p, T_D2S_PACKETS, x[E_D2S_PACKETS]);
    p = uint_field(p, T_D2S_BYTES, x[E_D2S_BYTES]);
    p = uint_field(p, T_SRC_FLAGS, x[E_SRC_FLAGS]);
    p = uint_field(p, T_DST_FLAGS, x[E_DST_FLAGS]);
    if (l7 != 0) p = bytes_field(tag2(p, F_L7, 2), strings + m[M_L7], l7);
    if (x[E_END_REASON] != 0) p = varint(tag2(p, F_END_REASON, 0), x[E_END_REASON]);
    r[X_CID] = -1;
    if (cid != 0) {
      p = bytes_field(tag2(p, F_COMMUNITY_ID, 2), cid_text, cid);
      r[X_CID] = (int32_t)(p - cid - out);
    }
    if (ex != 0) p = bytes_field(tag2(p, F_EXPORTER, 2), strings + m[M_EXPORTER], ex);
    if (x[E_DOMAIN] != 0) p = varint(tag2(p, F_DOMAIN, 0), x[E_DOMAIN]);
    p = varint(tag2(p, F_EXPORT_VERSION, 0), x[E_EXPORT_VERSION]);
    p = uint_field2(p, F_SAMPLING_RATE, x[E_SAMPLING_RATE]);
    p = uint_field2(p, F_RAW_PACKETS, x[E_RAW_PACKETS]);
    p = uint_field2(p, F_RAW_BYTES, x[E_RAW_BYTES]);
    p = uint_field2(p, F_IN_IF, x[E_IN_IF]);
    p = uint_field2(p, F_OUT_IF, x[E_OUT_IF]);
    r[X_START] = (int32_t)(start - out);
    r[X_END] = (int32_t)(p - out);
    pos = (size_t)(p - out);
  }
  return (int64_t)pos;
}
