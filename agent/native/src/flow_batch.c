/* The aggregator's FlowBatch decoding in C: a batch's records read into flat arrays (numbers,
 * and the byte ranges of addresses and names) in one call, which the JS decoder
 * (aggregator/src/ingest/batch-decoder.ts) copies into its reused records. The JS decoder stays
 * the reference: it accepts exactly what ts-proto's FlowBatch.decode accepts, quirks included.
 * This one reads the same way, and where reading on would need one of those quirks (a group,
 * tag 0 or an end-group tag that ends a message early, a malformed or truncated value, more
 * records than the arrays hold) it gives up on the whole batch, and the JS decoder does it, so
 * that every batch decodes to the same values or fails with the same error either way. Batches
 * from our agents never need the quirks. */
#include "flow_batch.h"

#include <stdint.h>
#include <string.h>

#include "flow_batch_layout.h"

typedef struct {
  const uint8_t *b;
  uint64_t len;
  uint64_t pos;
} reader;

/* A varint of at most 10 bytes, its low 64 bits (what BinaryReader keeps of it). */
static inline int varint(reader *r, uint64_t *out) {
  /* Most values (tags, ports, small counters) take one byte. */
  if (r->pos < r->len && r->b[r->pos] < 0x80) {
    *out = r->b[r->pos++];
    return 0;
  }
  uint64_t v = 0;
  for (int i = 0; i < 10; i++) {
    if (r->pos >= r->len) return -1;
    uint8_t c = r->b[r->pos++];
    v |= (uint64_t)(c & 0x7f) << (7 * i);
    if (c < 0x80) {
      *out = v;
      return 0;
    }
  }
  return -1;
}

/* Steps over a length-delimited value; its start in *start. */
static inline int skip_bytes(reader *r, uint64_t *start) {
  uint64_t n;
  if (varint(r, &n) != 0) return -1;
  n &= 0xffffffffu;
  *start = r->pos;
  if (r->pos + n > r->len) return -1;
  r->pos += n;
  return 0;
}

/* An unknown field's value, as BinaryReader.skip steps over it; groups are left to JS. */
static int skip_value(reader *r, uint32_t wire) {
  uint64_t start;
  switch (wire) {
  case 0:
    /* No length limit, as in BinaryReader.skip. */
    for (;;) {
      if (r->pos >= r->len) return -1;
      if (r->b[r->pos++] < 0x80) return 0;
    }
  case 1:
    r->pos += 8;
    return r->pos > r->len ? -1 : 0;
  case 5:
    r->pos += 4;
    return r->pos > r->len ? -1 : 0;
  case 2:
    return skip_bytes(r, &start);
  default:
    return -1;
  }
}

/* A tag that ends a message early (0, end group) or starts a group: left to JS. */
static inline int plain_tag(uint32_t tag) {
  uint32_t wire = tag & 7;
  return tag != 0 && wire != 3 && wire != 4;
}

/* A nested message of string fields (AgentIdentity, K8sMeta, FlowInfo) walked for where it ends;
 * for a FlowInfo (`nums` set), its dnsRcode and the number of its risks kept. */
static int walk(reader *r, uint64_t length, double *nums, int32_t *offs) {
  uint64_t end = r->pos + length;
  while (r->pos < end) {
    uint64_t t;
    if (varint(r, &t) != 0) return -1;
    uint32_t tag = (uint32_t)t;
    if (nums != NULL) {
      if (tag == 48) {
        uint64_t v;
        if (varint(r, &v) != 0) return -1;
        nums[FB_N_DNS_RCODE] = (double)(uint32_t)v;
        continue;
      }
      if (tag == 74) {
        uint64_t s;
        if (skip_bytes(r, &s) != 0) return -1;
        offs[FB_O_RISKS]++;
        continue;
      }
    }
    if (!plain_tag(tag) || skip_value(r, tag & 7) != 0) return -1;
  }
  return 0;
}

static inline int u32_field(reader *r, double *dst) {
  uint64_t v;
  if (varint(r, &v) != 0) return -1;
  *dst = (double)(uint32_t)v;
  return 0;
}

/* endReason and exportVersion: int32 views of the uint32 (`uint32() | 0`). */
static inline int i32_field(reader *r, double *dst) {
  uint64_t v;
  if (varint(r, &v) != 0) return -1;
  *dst = (double)(int32_t)(uint32_t)v;
  return 0;
}

/* uint64 counters as a number: exact to 2^53, then rounded once (as Number(bigint)). */
static inline int u64_field(reader *r, double *dst) {
  uint64_t v;
  if (varint(r, &v) != 0) return -1;
  *dst = (double)v;
  return 0;
}

static inline int i64_field(reader *r, double *dst) {
  uint64_t v;
  if (varint(r, &v) != 0) return -1;
  *dst = (double)(int64_t)v;
  return 0;
}

static inline int range_field(reader *r, int32_t *offs, int at) {
  uint64_t s;
  if (skip_bytes(r, &s) != 0) return -1;
  offs[at] = (int32_t)s;
  offs[at + 1] = (int32_t)r->pos;
  return 0;
}

static const double ABSENT = -1;

static int flow(reader *r, uint64_t length, double *n, int32_t *o) {
  uint64_t start = r->pos;
  uint64_t end = start + length;
  for (int i = 0; i < FB_NUMS; i++) n[i] = 0;
  n[FB_N_CLIENT_LATENCY] = ABSENT;
  n[FB_N_SERVER_LATENCY] = ABSENT;
  n[FB_N_APPL_LATENCY] = ABSENT;
  n[FB_N_DNS_RCODE] = ABSENT;
  for (int i = 0; i < FB_OFFS; i++) o[i] = -1;
  o[FB_O_START] = (int32_t)start;
  o[FB_O_RISKS] = 0;
  while (r->pos < end) {
    uint64_t t;
    if (varint(r, &t) != 0) return -1;
    uint32_t tag = (uint32_t)t;
    int rc;
    switch (tag) {
    case 10: rc = range_field(r, o, FB_O_SRC_ADDR); break;
    case 16: rc = u32_field(r, &n[FB_N_SRC_PORT]); break;
    case 26: rc = range_field(r, o, FB_O_DST_ADDR); break;
    case 32: rc = u32_field(r, &n[FB_N_DST_PORT]); break;
    case 40: rc = u32_field(r, &n[FB_N_PROTO]); break;
    case 48: rc = u32_field(r, &n[FB_N_IP_VERSION]); break;
    case 56: rc = u32_field(r, &n[FB_N_VLAN]); break;
    case 64: rc = i64_field(r, &n[FB_N_FIRST_SEEN]); break;
    case 72: rc = i64_field(r, &n[FB_N_LAST_SEEN]); break;
    case 80: rc = u64_field(r, &n[FB_N_S2D_PACKETS]); break;
    case 88: rc = u64_field(r, &n[FB_N_S2D_BYTES]); break;
    case 96: rc = u64_field(r, &n[FB_N_D2S_PACKETS]); break;
    case 104: rc = u64_field(r, &n[FB_N_D2S_BYTES]); break;
    case 112: rc = u32_field(r, &n[FB_N_SRC_TCP_FLAGS]); break;
    case 120: rc = u32_field(r, &n[FB_N_DST_TCP_FLAGS]); break;
    case 130: rc = range_field(r, o, FB_O_L7); break;
    case 138: rc = range_field(r, o, FB_O_L7_CATEGORY); break;
    case 146: {
      /* A later FlowInfo replaces an earlier one. */
      uint64_t len;
      if (varint(r, &len) != 0) return -1;
      len &= 0xffffffffu;
      n[FB_N_DNS_RCODE] = ABSENT;
      o[FB_O_RISKS] = 0;
      o[FB_O_INFO] = (int32_t)r->pos;
      o[FB_O_INFO_LEN] = (int32_t)len;
      rc = walk(r, len, n, o);
      break;
    }
    case 152: rc = u64_field(r, &n[FB_N_CLIENT_LATENCY]); break;
    case 160: rc = u64_field(r, &n[FB_N_SERVER_LATENCY]); break;
    case 168: rc = u64_field(r, &n[FB_N_APPL_LATENCY]); break;
    case 176: rc = u32_field(r, &n[FB_N_SRC_RETRANSMITS]); break;
    case 184: rc = u32_field(r, &n[FB_N_DST_RETRANSMITS]); break;
    case 192: rc = u32_field(r, &n[FB_N_SRC_OUT_OF_ORDER]); break;
    case 200: rc = u32_field(r, &n[FB_N_DST_OUT_OF_ORDER]); break;
    case 208: rc = i32_field(r, &n[FB_N_END_REASON]); break;
    case 218: rc = range_field(r, o, FB_O_COMMUNITY_ID); break;
    case 226: rc = range_field(r, o, FB_O_EXPORTER); break;
    case 232: rc = u32_field(r, &n[FB_N_OBSERVATION_DOMAIN]); break;
    case 240: rc = i32_field(r, &n[FB_N_EXPORT_VERSION]); break;
    case 248: rc = u64_field(r, &n[FB_N_SAMPLING_RATE]); break;
    case 256: rc = u64_field(r, &n[FB_N_RAW_PACKETS]); break;
    case 264: rc = u64_field(r, &n[FB_N_RAW_BYTES]); break;
    case 272: rc = u32_field(r, &n[FB_N_IN_IF]); break;
    case 280: rc = u32_field(r, &n[FB_N_OUT_IF]); break;
    case 290:
    case 298: {
      uint64_t len;
      if (varint(r, &len) != 0) return -1;
      rc = walk(r, len & 0xffffffffu, NULL, NULL);
      break;
    }
    default:
      rc = plain_tag(tag) ? skip_value(r, tag & 7) : -1;
    }
    if (rc != 0) return -1;
  }
  o[FB_O_END] = (int32_t)r->pos;
  return 0;
}

int fl_flow_batch_decode(const uint8_t *buf, size_t len, double *nums, int32_t *offs, size_t capacity,
                         int32_t *head) {
  /* Offsets are int32s: a larger buffer is left to JS (no batch comes near it). */
  if (len > 0x7fffffff) return FB_GIVE_UP;
  reader r = {buf, len, 0};
  head[FB_H_AGENT] = -1;
  head[FB_H_AGENT_LEN] = 0;
  for (int i = FB_H_SEQUENCE_LO; i < FB_HEAD; i++) head[i] = 0;
  size_t count = 0;
  while (r.pos < r.len) {
    uint64_t t;
    if (varint(&r, &t) != 0) return FB_GIVE_UP;
    uint32_t tag = (uint32_t)t;
    uint64_t v;
    switch (tag) {
    case 10: {
      /* A later AgentIdentity replaces an earlier one; JS decodes the last from its range. */
      if (varint(&r, &v) != 0) return FB_GIVE_UP;
      v &= 0xffffffffu;
      head[FB_H_AGENT] = (int32_t)r.pos;
      head[FB_H_AGENT_LEN] = (int32_t)v;
      if (walk(&r, v, NULL, NULL) != 0) return FB_GIVE_UP;
      continue;
    }
    case 16:
    case 24: {
      if (varint(&r, &v) != 0) return FB_GIVE_UP;
      int at = tag == 16 ? FB_H_SEQUENCE_LO : FB_H_SENT_AT_LO;
      head[at] = (int32_t)(uint32_t)v;
      head[at + 1] = (int32_t)(uint32_t)(v >> 32);
      continue;
    }
    case 34:
      if (count >= capacity) return FB_TOO_MANY;
      if (varint(&r, &v) != 0) return FB_GIVE_UP;
      if (flow(&r, v & 0xffffffffu, nums + count * FB_NUMS, offs + count * FB_OFFS) != 0) return FB_GIVE_UP;
      count++;
      continue;
    }
    if (!plain_tag(tag) || skip_value(&r, tag & 7) != 0) return FB_GIVE_UP;
  }
  return (int)count;
}
