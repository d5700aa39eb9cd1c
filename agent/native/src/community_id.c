/* Community ID v1 flow hash, see community_id.h.
 *
 * Hash input (all network byte order), per the spec and the reference
 * implementations (pycommunityid algo.py, Zeek communityid.bif):
 *
 *   seed(2) . saddr(4|16) . daddr(4|16) . proto(1) . pad 0(1) [. sport(2) . dport(2)]
 *
 * after ordering the endpoints so the smaller (addr, port) comes first.
 * Result: "1:" + base64(sha1(input)).
 *
 * The SHA-1 below is our own minimal implementation (FIPS 180-4). It is
 * specialised for this use: the input is at most 40 bytes, so together with
 * the 0x80 terminator and the 8-byte length it always fits in exactly one
 * 64-byte block and we run a single compression, with no streaming state. */
#include "community_id.h"

#include <string.h>

#define CID_PROTO_ICMP 1
#define CID_PROTO_TCP 6
#define CID_PROTO_UDP 17
#define CID_PROTO_ICMP6 58
#define CID_PROTO_SCTP 132

/* ---- SHA-1, single block --------------------------------------------- */

static uint32_t rol32(uint32_t x, unsigned n) { return (x << n) | (x >> (32u - n)); }

/* Hashes msg[0..len) (len <= 55) into digest[20]. */
static void sha1_one_block(const uint8_t *msg, unsigned len, uint8_t digest[20]) {
  uint8_t block[64];
  uint32_t w[80];
  uint32_t h0 = 0x67452301u, h1 = 0xEFCDAB89u, h2 = 0x98BADCFEu, h3 = 0x10325476u,
           h4 = 0xC3D2E1F0u;
  uint32_t a, b, c, d, e, t;
  uint64_t bits = (uint64_t)len * 8u;
  unsigned i;

  /* Standard padding: message, 0x80, zeros, 64-bit big-endian bit length.
   * len <= 55 guarantees 0x80 and the length fit in this one block. */
  memcpy(block, msg, len);
  block[len] = 0x80;
  memset(block + len + 1, 0, 64u - 8u - (len + 1u));
  for (i = 0; i < 8; i++) block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));

  for (i = 0; i < 16; i++)
    w[i] = ((uint32_t)block[4 * i] << 24) | ((uint32_t)block[4 * i + 1] << 16) |
           ((uint32_t)block[4 * i + 2] << 8) | (uint32_t)block[4 * i + 3];
  for (i = 16; i < 80; i++) w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);

  a = h0; b = h1; c = h2; d = h3; e = h4;
  for (i = 0; i < 80; i++) {
    uint32_t f, k;
    if (i < 20) {
      f = (b & c) | (~b & d);
      k = 0x5A827999u;
    } else if (i < 40) {
      f = b ^ c ^ d;
      k = 0x6ED9EBA1u;
    } else if (i < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8F1BBCDCu;
    } else {
      f = b ^ c ^ d;
      k = 0xCA62C1D6u;
    }
    t = rol32(a, 5) + f + e + k + w[i];
    e = d; d = c; c = rol32(b, 30); b = a; a = t;
  }
  h0 += a; h1 += b; h2 += c; h3 += d; h4 += e;

  {
    const uint32_t hs[5] = {h0, h1, h2, h3, h4};
    for (i = 0; i < 5; i++) {
      digest[4 * i] = (uint8_t)(hs[i] >> 24);
      digest[4 * i + 1] = (uint8_t)(hs[i] >> 16);
      digest[4 * i + 2] = (uint8_t)(hs[i] >> 8);
      digest[4 * i + 3] = (uint8_t)hs[i];
    }
  }
}

/* The same compression with the x86 SHA extensions (Intel's reference sequence for one block),
 * about five times faster: a flow export hashes one of these, and it was a tenth of the reader
 * thread's time. Chosen at run time; any other CPU or compiler takes the portable code. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define FL_SHA_NI 1

__attribute__((target("sha,sse4.1"))) static void sha1_one_block_ni(const uint8_t *msg, unsigned len, uint8_t digest[20]) {
  uint8_t block[64];
  uint64_t bits = (uint64_t)len * 8u;
  memcpy(block, msg, len);
  block[len] = 0x80;
  memset(block + len + 1, 0, 64u - 8u - (len + 1u));
  for (unsigned i = 0; i < 8; i++) block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));

  const __m128i mask = _mm_set_epi64x(0x0001020304050607ULL, 0x08090a0b0c0d0e0fULL);
  __m128i abcd = _mm_set_epi32((int)0x67452301u, (int)0xEFCDAB89u, (int)0x98BADCFEu, (int)0x10325476u);
  __m128i e0 = _mm_set_epi32((int)0xC3D2E1F0u, 0, 0, 0);
  const __m128i abcd_save = abcd, e0_save = e0;
  __m128i e1, m0, m1, m2, m3;

  /* Rounds 0-3 */
  m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(block + 0)), mask);
  e0 = _mm_add_epi32(e0, m0);
  e1 = abcd;
  abcd = _mm_sha1rnds4_epu32(abcd, e0, 0);
  /* Rounds 4-7 */
  m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(block + 16)), mask);
  e1 = _mm_sha1nexte_epu32(e1, m1);
  e0 = abcd;
  abcd = _mm_sha1rnds4_epu32(abcd, e1, 0);
  m0 = _mm_sha1msg1_epu32(m0, m1);
  /* Rounds 8-11 */
  m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(block + 32)), mask);
  e0 = _mm_sha1nexte_epu32(e0, m2);
  e1 = abcd;
  abcd = _mm_sha1rnds4_epu32(abcd, e0, 0);
  m1 = _mm_sha1msg1_epu32(m1, m2);
  m0 = _mm_xor_si128(m0, m2);
  /* Rounds 12-15 */
  m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(block + 48)), mask);
  e1 = _mm_sha1nexte_epu32(e1, m3);
  e0 = abcd;
  m0 = _mm_sha1msg2_epu32(m0, m3);
  abcd = _mm_sha1rnds4_epu32(abcd, e1, 0);
  m2 = _mm_sha1msg1_epu32(m2, m3);
  m1 = _mm_xor_si128(m1, m3);

  /* Rounds 16-67: the same four-step pattern with the message words rotating. */
#define ROUNDS4(ea, eb, ma, mb, mc, md, f)  \
  ea = _mm_sha1nexte_epu32(ea, ma);         \
  eb = abcd;                                \
  mb = _mm_sha1msg2_epu32(mb, ma);          \
  abcd = _mm_sha1rnds4_epu32(abcd, ea, f); \
  md = _mm_sha1msg1_epu32(md, ma);          \
  mc = _mm_xor_si128(mc, ma);
  ROUNDS4(e0, e1, m0, m1, m2, m3, 0) /* 16-19 */
  ROUNDS4(e1, e0, m1, m2, m3, m0, 1) /* 20-23 */
  ROUNDS4(e0, e1, m2, m3, m0, m1, 1) /* 24-27 */
  ROUNDS4(e1, e0, m3, m0, m1, m2, 1) /* 28-31 */
  ROUNDS4(e0, e1, m0, m1, m2, m3, 1) /* 32-35 */
  ROUNDS4(e1, e0, m1, m2, m3, m0, 1) /* 36-39 */
  ROUNDS4(e0, e1, m2, m3, m0, m1, 2) /* 40-43 */
  ROUNDS4(e1, e0, m3, m0, m1, m2, 2) /* 44-47 */
  ROUNDS4(e0, e1, m0, m1, m2, m3, 2) /* 48-51 */
  ROUNDS4(e1, e0, m1, m2, m3, m0, 2) /* 52-55 */
  ROUNDS4(e0, e1, m2, m3, m0, m1, 2) /* 56-59 */
  ROUNDS4(e1, e0, m3, m0, m1, m2, 3) /* 60-63 */
  ROUNDS4(e0, e1, m0, m1, m2, m3, 3) /* 64-67 */
#undef ROUNDS4
  /* Rounds 68-71 */
  e1 = _mm_sha1nexte_epu32(e1, m1);
  e0 = abcd;
  m2 = _mm_sha1msg2_epu32(m2, m1);
  abcd = _mm_sha1rnds4_epu32(abcd, e1, 3);
  m3 = _mm_xor_si128(m3, m1);
  /* Rounds 72-75 */
  e0 = _mm_sha1nexte_epu32(e0, m2);
  e1 = abcd;
  m3 = _mm_sha1msg2_epu32(m3, m2);
  abcd = _mm_sha1rnds4_epu32(abcd, e0, 3);
  /* Rounds 76-79 */
  e1 = _mm_sha1nexte_epu32(e1, m3);
  e0 = abcd;
  abcd = _mm_sha1rnds4_epu32(abcd, e1, 3);

  e0 = _mm_sha1nexte_epu32(e0, e0_save);
  abcd = _mm_add_epi32(abcd, abcd_save);
  uint32_t h[5];
  h[0] = (uint32_t)_mm_extract_epi32(abcd, 3);
  h[1] = (uint32_t)_mm_extract_epi32(abcd, 2);
  h[2] = (uint32_t)_mm_extract_epi32(abcd, 1);
  h[3] = (uint32_t)_mm_extract_epi32(abcd, 0);
  h[4] = (uint32_t)_mm_extract_epi32(e0, 3);
  for (unsigned i = 0; i < 5; i++) {
    digest[4 * i] = (uint8_t)(h[i] >> 24);
    digest[4 * i + 1] = (uint8_t)(h[i] >> 16);
    digest[4 * i + 2] = (uint8_t)(h[i] >> 8);
    digest[4 * i + 3] = (uint8_t)h[i];
  }
}

/* 1 if the CPU has SHA and SSE4.1, cached (0 = not asked yet, 1 = yes, 2 = no). */
static int have_sha_ni(void) {
  static int known;
  int v = __atomic_load_n(&known, __ATOMIC_RELAXED);
  if (!v) {
    unsigned a, b, c, d;
    int sse41 = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 19)) && (c & (1u << 9));
    int sha = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29));
    v = sse41 && sha ? 1 : 2;
    __atomic_store_n(&known, v, __ATOMIC_RELAXED);
  }
  return v == 1;
}
#endif

void fl_sha1_short(const uint8_t *msg, unsigned len, uint8_t digest[20], int accel) {
#ifdef FL_SHA_NI
  if (accel && have_sha_ni()) {
    sha1_one_block_ni(msg, len, digest);
    return;
  }
#else
  (void)accel;
#endif
  sha1_one_block(msg, len, digest);
}

/* ---- ICMP type/code -> port equivalents ------------------------------ */

/* The spec delegates ICMP handling to Zeek's ICMP4_counterpart /
 * ICMP6_counterpart (mirrored in pycommunityid icmp.py / icmp6.py):
 * request/reply types are paired, and for those the "ports" are
 * (type, counterpart type) and the tuple may be flipped like TCP, so a
 * request and its reply hash identically. Every other type is one-way: the
 * ports are (type, code) and the tuple is never flipped.
 * Returns the counterpart type, or -1 if the type is one-way. */
static int icmp4_counterpart(uint16_t type) {
  switch (type) {
    case 8: return 0;   /* echo request -> echo reply */
    case 0: return 8;
    case 13: return 14; /* timestamp request/reply */
    case 14: return 13;
    case 15: return 16; /* information request/reply */
    case 16: return 15;
    case 10: return 9;  /* router solicitation/advertisement */
    case 9: return 10;
    case 17: return 18; /* address mask request/reply */
    case 18: return 17;
    default: return -1;
  }
}

static int icmp6_counterpart(uint16_t type) {
  switch (type) {
    case 128: return 129; /* echo request/reply */
    case 129: return 128;
    case 130: return 131; /* MLD listener query/report */
    case 131: return 130;
    case 133: return 134; /* ND router solicitation/advertisement */
    case 134: return 133;
    case 135: return 136; /* ND neighbor solicitation/advertisement */
    case 136: return 135;
    case 139: return 140; /* node information ("who are you") query/reply */
    case 140: return 139;
    case 144: return 145; /* home agent address discovery request/reply */
    case 145: return 144;
    default: return -1;
  }
}

/* ---- Community ID ----------------------------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int fl_community_id(uint8_t ip_version, const uint8_t src[16], const uint8_t dst[16],
                    uint8_t proto, uint16_t sport, uint16_t dport, uint16_t seed, char out[32]) {
  uint8_t buf[40]; /* 2 + 16 + 16 + 1 + 1 + 2 + 2: the largest possible input */
  uint8_t digest[20];
  const uint8_t *a1 = src, *a2 = dst;
  uint16_t p1 = sport, p2 = dport;
  unsigned alen, n = 0, i;
  int has_ports, one_way = 0, cmp;
  char *o;

  if (ip_version == 4) {
    alen = 4;
  } else if (ip_version == 6) {
    alen = 16;
  } else {
    out[0] = '\0';
    return -1;
  }

  /* Only these protocols contribute ports (pycommunityid PORT_PROTOS);
   * everything else is hashed as a 3-tuple of addresses + proto. */
  has_ports = proto == CID_PROTO_TCP || proto == CID_PROTO_UDP || proto == CID_PROTO_SCTP ||
              proto == CID_PROTO_ICMP || proto == CID_PROTO_ICMP6;

  /* Selected by protocol number, not IP version, as pycommunityid does
   * (Zeek can only tell ICMP from ICMPv6 by the address family, which is
   * the same thing for well-formed traffic). */
  if (proto == CID_PROTO_ICMP || proto == CID_PROTO_ICMP6) {
    int peer = proto == CID_PROTO_ICMP ? icmp4_counterpart(sport) : icmp6_counterpart(sport);
    if (peer < 0)
      one_way = 1; /* (type, code) kept as given, no flipping */
    else
      p2 = (uint16_t)peer; /* (type, counterpart type): the code is ignored */
  }

  /* Ordering: keep as is if one-way or if (saddr, sport) < (daddr, dport),
   * otherwise swap the endpoints. Addresses compare as big-endian byte
   * strings (memcmp), ports numerically; a tie on the address is broken by
   * a strict port comparison. Without ports only the addresses decide (equal
   * addresses then swap, which is a no-op on the hash input). This is
   * pycommunityid's FlowTuple.is_ordered() and Zeek's addr_port_canon_lt. */
  if (!one_way) {
    cmp = memcmp(src, dst, alen);
    if (!(cmp < 0 || (cmp == 0 && has_ports && p1 < p2))) {
      uint16_t tp = p1;
      a1 = dst;
      a2 = src;
      p1 = p2;
      p2 = tp;
    }
  }

  buf[n++] = (uint8_t)(seed >> 8);
  buf[n++] = (uint8_t)seed;
  memcpy(buf + n, a1, alen);
  n += alen;
  memcpy(buf + n, a2, alen);
  n += alen;
  buf[n++] = proto;
  buf[n++] = 0; /* padding byte keeps the input 32-bit aligned */
  if (has_ports) {
    buf[n++] = (uint8_t)(p1 >> 8);
    buf[n++] = (uint8_t)p1;
    buf[n++] = (uint8_t)(p2 >> 8);
    buf[n++] = (uint8_t)p2;
  }

  fl_sha1_short(buf, n, digest, 1);

  /* "1:" version prefix, then standard padded base64 of the 20-byte digest:
   * 6 full 3-byte groups + one 2-byte group ending in '=' -> 28 chars. */
  o = out;
  *o++ = '1';
  *o++ = ':';
  for (i = 0; i + 3 <= 20; i += 3) {
    uint32_t v = ((uint32_t)digest[i] << 16) | ((uint32_t)digest[i + 1] << 8) | digest[i + 2];
    *o++ = b64_alphabet[(v >> 18) & 63];
    *o++ = b64_alphabet[(v >> 12) & 63];
    *o++ = b64_alphabet[(v >> 6) & 63];
    *o++ = b64_alphabet[v & 63];
  }
  {
    uint32_t v = ((uint32_t)digest[18] << 16) | ((uint32_t)digest[19] << 8);
    *o++ = b64_alphabet[(v >> 18) & 63];
    *o++ = b64_alphabet[(v >> 12) & 63];
    *o++ = b64_alphabet[(v >> 6) & 63];
    *o++ = '=';
  }
  *o = '\0';
  return 0;
}

int fl_icmp_counterpart(uint8_t proto, uint16_t type) {
  if (proto == CID_PROTO_ICMP) return icmp4_counterpart(type);
  if (proto == CID_PROTO_ICMP6) return icmp6_counterpart(type);
  return -1;
}
