/* NDJSON for flow records; see ndjson.h. Every branch here mirrors a line of records.ts
 * (decoding) or of JSON.stringify (printing); the differential test in
 * cli/src/commands/pcap.test.ts holds the two together. */
#include "ndjson.h"

#include <stdio.h>
#include <string.h>

#define TWO53 9007199254740992.0

static const char *const end_reasons[] = {"idle", "idle", "active", "fin", "rst", "eof", "evicted"};
static const char *const tunnels[] = {"", "gre", "vxlan", "ipip", "gtp", "teredo", "geneve"};

static inline char *put(char *o, const char *s, size_t n) {
  memcpy(o, s, n);
  return o + n;
}
#define PUT_LIT(o, lit) put((o), (lit), sizeof(lit) - 1)

static char *put_u64(char *o, uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) *o++ = tmp[--n];
  return o;
}

static char *put_u128(char *o, unsigned __int128 v) {
  char tmp[48];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + (unsigned)(v % 10));
    v /= 10;
  } while (v);
  while (n) *o++ = tmp[--n];
  return o;
}

/* Number#toString of a non-negative integer-valued double below 1e21 (all this needs): the
 * fewest significant digits s (then zeros) such that s * 10^e reads back as v, the closest to v
 * of those. (No tie to break: v halfway between two multiples of 10^e has at most e - 1 factors
 * of two, so the gap between doubles there is below 10^e and neither candidate reads back.) */
char *fl_json_uint(char *o, double v) {
  if (v < TWO53) return put_u64(o, (uint64_t)v);
  unsigned __int128 m = (unsigned __int128)v;
  int digits = 0;
  for (unsigned __int128 x = m; x; x /= 10) digits++;
  unsigned __int128 unit = 1;
  for (int i = 1; i < digits; i++) unit *= 10;
  for (int k = 1; k <= digits; k++, unit /= 10) {
    unsigned __int128 s = m / unit, lo = s * unit, hi = (s + 1) * unit;
    int lo_ok = (double)lo == v, hi_ok = (double)hi == v;
    if (!lo_ok && !hi_ok) continue;
    if (lo_ok && hi_ok) return put_u128(o, m - lo <= hi - m ? lo : hi);
    return put_u128(o, lo_ok ? lo : hi);
  }
  return put_u128(o, m); /* not reached: k = digits is m itself */
}

static inline char *put_num(char *o, uint64_t v) { return v < (1ull << 53) ? put_u64(o, v) : fl_json_uint(o, (double)v); }

/* Math.floor(u64 / 1000) as records.ts computes it, in doubles. */
static char *put_ms(char *o, uint64_t us) {
  if (us < (1ull << 53)) return put_u64(o, us / 1000); /* exact: the double quotient never rounds up to the next integer here */
  double q = (double)us / 1000.0;
  if (q < 4503599627370496.0) q = (double)(uint64_t)q; /* floor; from 2^52 on every double is an integer */
  return fl_json_uint(o, q);
}

static const char hexd[] = "0123456789abcdef";

char *fl_json_string(char *o, const uint8_t *s, size_t n) {
  *o++ = '"';
  size_t i = 0;
  if (n >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf) i = 3; /* TextDecoder drops a leading BOM */
  while (i < n) {
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      if (c >= 0x20 && c != '"' && c != '\\') {
        *o++ = (char)c;
        continue;
      }
      *o++ = '\\';
      switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
          o = PUT_LIT(o, "u00");
          *o++ = hexd[c >> 4];
          *o++ = hexd[c & 15];
      }
      continue;
    }
    /* WHATWG UTF-8 decode: the lead byte fixes the length and the range of the first
     * continuation byte (no overlongs, surrogates or values past U+10FFFF). */
    size_t need;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else {
      i++;
      o = PUT_LIT(o, "\xef\xbf\xbd");
      continue;
    }
    size_t j = 1;
    while (j <= need && i + j < n && s[i + j] >= lo && s[i + j] <= hi) {
      lo = 0x80, hi = 0xbf;
      j++;
    }
    if (j == need + 1) {
      o = put(o, (const char *)s + i, j);
    } else {
      /* The lead byte and the continuation bytes that fit make one U+FFFD; the byte that did not
       * fit is read again as the start of what follows. */
      o = PUT_LIT(o, "\xef\xbf\xbd");
    }
    i += j;
  }
  *o++ = '"';
  return o;
}

/* Decodes to "" (what `||` and `if (v)` in records.ts test): nothing, or only a BOM. */
static inline int decodes_empty(const uint8_t *s, size_t n) {
  return n == 0 || (n == 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf);
}

static char *put_ipv4(char *o, const uint8_t *b) {
  for (int i = 0; i < 4; i++) {
    if (i) *o++ = '.';
    o = put_u64(o, b[i]);
  }
  return o;
}

static char *put_hex16(char *o, unsigned v) {
  int started = 0;
  for (int sh = 12; sh >= 0; sh -= 4) {
    unsigned d = (v >> sh) & 15;
    if (d || started || sh == 0) {
      *o++ = hexd[d];
      started = 1;
    }
  }
  return o;
}

/* formatIPv6 in addr.ts: RFC 5952, IPv4-mapped in mixed notation. */
static char *put_ipv6(char *o, const uint8_t *b) {
  unsigned g[8];
  for (int i = 0; i < 8; i++) g[i] = (unsigned)b[2 * i] << 8 | b[2 * i + 1];
  if (!g[0] && !g[1] && !g[2] && !g[3] && !g[4] && g[5] == 0xffff) {
    o = PUT_LIT(o, "::ffff:");
    return put_ipv4(o, b + 12);
  }
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (g[i]) {
      i++;
      continue;
    }
    int j = i;
    while (j < 8 && !g[j]) j++;
    if (j - i > best_len && j - i >= 2) best = i, best_len = j - i;
    i = j;
  }
  if (best < 0) {
    for (int i = 0; i < 8; i++) {
      if (i) *o++ = ':';
      o = put_hex16(o, g[i]);
    }
    return o;
  }
  for (int i = 0; i < best; i++) {
    if (i) *o++ = ':';
    o = put_hex16(o, g[i]);
  }
  o = PUT_LIT(o, "::");
  for (int i = best + best_len; i < 8; i++) {
    if (i > best + best_len) *o++ = ':';
    o = put_hex16(o, g[i]);
  }
  return o;
}

static size_t risk_name_len(fl_risk_names names, unsigned bit) {
  const char *n = names[bit];
  return n && *n ? strlen(n) : 6; /* "risk63" */
}

size_t fl_ndjson_max(fl_risk_names names) {
  /* Keys, punctuation, numbers and addresses fit in 2 KiB with room to spare; each string
   * byte becomes at most 6 (\u00XX); risk names are JSON strings of their own. */
  size_t n = 2048 + 6 * (size_t)FL_STR_MAX_TOTAL + 2 * FL_STR__COUNT;
  for (unsigned bit = 1; bit < 64; bit++) n += 6 * risk_name_len(names, bit) + 3;
  return n;
}

size_t fl_ndjson_record(const struct fl_rec *r, fl_risk_names names, char *out) {
  const uint8_t *str[FL_STR__COUNT];
  const uint8_t *p = (const uint8_t *)r + sizeof(*r);
  for (int i = 0; i < FL_STR__COUNT; i++) {
    str[i] = p;
    p += r->str_len[i];
  }
#define STR(o, i) fl_json_string((o), str[i], r->str_len[i])
  char *o = out;
  int v4 = r->ip_version == 4;
  int dpi = r->dpi_done != 0;
  o = PUT_LIT(o, "{\"srcAddr\":\"");
  o = v4 ? put_ipv4(o, r->src) : put_ipv6(o, r->src);
  o = PUT_LIT(o, "\",\"srcPort\":");
  o = put_u64(o, r->sport);
  o = PUT_LIT(o, ",\"dstAddr\":\"");
  o = v4 ? put_ipv4(o, r->dst) : put_ipv6(o, r->dst);
  o = PUT_LIT(o, "\",\"dstPort\":");
  o = put_u64(o, r->dport);
  o = PUT_LIT(o, ",\"proto\":");
  o = put_u64(o, r->proto);
  o = v4 ? PUT_LIT(o, ",\"ipVersion\":4,\"vlan\":") : PUT_LIT(o, ",\"ipVersion\":6,\"vlan\":");
  o = put_u64(o, r->vlan);
  o = PUT_LIT(o, ",\"firstSeenMs\":");
  o = put_ms(o, r->first_us);
  o = PUT_LIT(o, ",\"lastSeenMs\":");
  o = put_ms(o, r->last_us);
  o = PUT_LIT(o, ",\"srcToDstPackets\":");
  o = put_num(o, r->s2d_pkts);
  o = PUT_LIT(o, ",\"srcToDstBytes\":");
  o = put_num(o, r->s2d_bytes);
  o = PUT_LIT(o, ",\"dstToSrcPackets\":");
  o = put_num(o, r->d2s_pkts);
  o = PUT_LIT(o, ",\"dstToSrcBytes\":");
  o = put_num(o, r->d2s_bytes);
  o = PUT_LIT(o, ",\"srcTcpFlags\":");
  o = put_u64(o, r->s2d_flags);
  o = PUT_LIT(o, ",\"dstTcpFlags\":");
  o = put_u64(o, r->d2s_flags);
  o = PUT_LIT(o, ",\"l7\":");
  if (dpi && !decodes_empty(str[FL_STR_L7], r->str_len[FL_STR_L7])) o = STR(o, FL_STR_L7);
  else o = PUT_LIT(o, "\"Unknown\"");
  o = PUT_LIT(o, ",\"l7Category\":");
  if (dpi && !decodes_empty(str[FL_STR_CATEGORY], r->str_len[FL_STR_CATEGORY])) o = STR(o, FL_STR_CATEGORY);
  else o = PUT_LIT(o, "\"Unspecified\"");
  o = PUT_LIT(o, ",\"srcRetransmits\":");
  o = put_u64(o, r->s2d_retx);
  o = PUT_LIT(o, ",\"dstRetransmits\":");
  o = put_u64(o, r->d2s_retx);
  o = PUT_LIT(o, ",\"srcOutOfOrder\":");
  o = put_u64(o, r->s2d_ooo);
  o = PUT_LIT(o, ",\"dstOutOfOrder\":");
  o = put_u64(o, r->d2s_ooo);
  o = PUT_LIT(o, ",\"endReason\":\"");
  const char *er = r->end_reason <= FL_END_EVICTED ? end_reasons[r->end_reason] : "idle";
  o = put(o, er, strlen(er));
  o = PUT_LIT(o, "\",\"communityId\":");
  o = STR(o, FL_STR_COMMUNITY_ID);
  if (r->sampling > 1) {
    o = PUT_LIT(o, ",\"samplingRate\":");
    o = put_u64(o, r->sampling);
  }
  /* records.ts tests only the upper half for "not measured" (all ones). */
  if ((r->cli_nw_lat_us >> 32) != 0xffffffffu) {
    o = PUT_LIT(o, ",\"clientNwLatencyUs\":");
    o = put_num(o, r->cli_nw_lat_us);
  }
  if ((r->srv_nw_lat_us >> 32) != 0xffffffffu) {
    o = PUT_LIT(o, ",\"serverNwLatencyUs\":");
    o = put_num(o, r->srv_nw_lat_us);
  }
  if ((r->appl_lat_us >> 32) != 0xffffffffu) {
    o = PUT_LIT(o, ",\"applLatencyUs\":");
    o = put_num(o, r->appl_lat_us);
  }
  if (dpi) {
    static const struct {
      int field;
      const char *key;
    } info[] = {{FL_STR_HOST, "\"host\":"},       {FL_STR_URL, "\"url\":"},
                {FL_STR_USER_AGENT, "\"userAgent\":"}, {FL_STR_SNI, "\"sni\":"},
                {FL_STR_DNS_QUERY, "\"dnsQuery\":"}, {FL_STR_JA3C, "\"ja3c\":"}};
    char *start = o;
    o = PUT_LIT(o, ",\"info\":{");
    char *first = o;
    for (size_t i = 0; i < sizeof(info) / sizeof(info[0]); i++) {
      int f = info[i].field;
      if (decodes_empty(str[f], r->str_len[f])) continue;
      if (o != first) *o++ = ',';
      o = put(o, info[i].key, strlen(info[i].key));
      o = STR(o, f);
    }
    if (r->dns_rcode != FL_NO_RCODE) {
      if (o != first) *o++ = ',';
      o = PUT_LIT(o, "\"dnsRcode\":");
      o = put_u64(o, r->dns_rcode);
    }
    if (r->risks) {
      if (o != first) *o++ = ',';
      o = PUT_LIT(o, "\"risks\":[");
      int n = 0;
      for (unsigned bit = 1; bit < 64; bit++) {
        if (!((r->risks >> bit) & 1)) continue;
        if (n++) *o++ = ',';
        const char *name = names[bit];
        if (name && *name) {
          o = fl_json_string(o, (const uint8_t *)name, strlen(name));
        } else {
          o += sprintf(o, "\"risk%u\"", bit);
        }
      }
      *o++ = ']';
    }
    if (o == first) o = start; /* nothing known: no info object */
    else *o++ = '}';
  }
  if (r->tunnel >= 1 && r->tunnel <= 6) {
    o = PUT_LIT(o, ",\"tunnel\":\"");
    o = put(o, tunnels[r->tunnel], strlen(tunnels[r->tunnel]));
    *o++ = '"';
  }
  *o++ = '}';
  *o++ = '\n';
#undef STR
  return (size_t)(o - out);
}

int fl_rec_check(const uint8_t *data, size_t bytes, uint32_t count) {
  size_t off = 0;
  for (uint32_t i = 0; i < count; i++) {
    if (bytes - off < sizeof(struct fl_rec)) return -1;
    struct fl_rec r;
    memcpy(&r, data + off, sizeof(r));
    size_t strs = 0;
    for (int k = 0; k < FL_STR__COUNT; k++) {
      if (r.str_len[k] > fl_str_max(k)) return -1; /* fl_ndjson_max counts on these bounds */
      strs += r.str_len[k];
    }
    if (r.size % 8 || r.size < sizeof(r) + strs || r.size > bytes - off) return -1;
    off += r.size;
  }
  return 0;
}
