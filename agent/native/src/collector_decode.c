/* NetFlow v9/IPFIX data records in C: record.ts's plan reading and to-flow.ts's record-to-flow
 * rules for fixed-length templates, number for number (doubles, as JS computes them), so that
 * the encodings fl_encode_flows writes of them are byte for byte the JS decoder's. In JS the
 * decoding of a record cost as much as all the rest of `flowlens collect` together. */
#include "collector_decode.h"

#include "flow_encode.h"

#include <math.h>
#include <string.h>

#define TWO32 4294967296.0
#define MAX_SAFE 9007199254740991.0
#define NTP_EPOCH_OFFSET_S 2208988800.0

/* A record's fields (record.ts RecordFields): -1 is absent. */
typedef struct {
  double octets, packets, post_octets, post_packets, total_octets, total_packets;
  double initiator_octets, initiator_packets, responder_octets, responder_packets;
  double rev_octets, rev_packets, rev_total_octets, rev_total_packets, rev_tcp_flags;
  double proto, tcp_flags, src_port, dst_port, transport_src_port, transport_dst_port;
  double src4, dst4, src6, dst6, in_if, out_if, in_phys_if, out_phys_if, vlan, dot1q_vlan, ip_version;
  double start_sys_uptime, end_sys_uptime, start_ms, end_ms, start_delta_us, end_delta_us, duration_ms;
  double system_init_ms, icmp_type_code, icmp_type, icmp_code, end_reason, biflow_direction;
  double sampling_interval, sampler_random_interval, sampling_packet_interval, sampling_packet_space;
  double sampling_size, sampling_population, sampling_probability;
} fields;



static inline double u8(const uint8_t *p) { return (double)p[0]; }
static inline double u16(const uint8_t *p) { return (double)((uint32_t)p[0] << 8 | p[1]); }
static inline uint32_t u32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* readUint(): big-endian unsigned of len bytes, as a double the way JS builds it. */
static double read_uint(const uint8_t *p, int32_t len) {
  switch (len) {
    case 1:
      return u8(p);
    case 2:
      return u16(p);
    case 4:
      return (double)u32(p);
    case 8:
      return (double)u32(p) * TWO32 + (double)u32(p + 4);
    case 3:
      return u16(p) * 256.0 + u8(p + 2);
    default: {
      double x = 0;
      for (int32_t i = 0; i < len; i++) x = x * 256.0 + p[i];
      return x;
    }
  }
}

static double read_f64(const uint8_t *p) {
  uint64_t u = (uint64_t)u32(p) << 32 | u32(p + 4);
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

static double read_f32(const uint8_t *p) {
  uint32_t u = u32(p);
  float f;
  memcpy(&f, &u, sizeof f);
  return (double)f;
}

/* sampling.ts rateFromFields(): the record's own rate, 0 when it has none. */
static double rate_from_fields(const fields *r) {
  double rate = 0;
  if (r->sampling_interval > 0) rate = r->sampling_interval;
  else if (r->sampler_random_interval > 0) rate = r->sampler_random_interval;
  else if (r->sampling_packet_interval > 0 && r->sampling_packet_space >= 0)
    rate = (r->sampling_packet_interval + r->sampling_packet_space) / r->sampling_packet_interval;
  else if (r->sampling_size > 0 && r->sampling_population > 0) rate = r->sampling_population / r->sampling_size;
  else if (r->sampling_probability > 0 && r->sampling_probability <= 1) rate = 1 / r->sampling_probability;
  if (!(rate >= 1)) return 0;
  /* Math.round: exact here, the rate being below 2^52 once it passes MAX_RATE. */
  if (rate > MAX_RATE + 1) return 0;
  rate = floor(rate + 0.5);
  return rate > MAX_RATE ? 0 : rate;
}

static double ntp_to_ms(const uint8_t *p) {
  double s = (double)u32(p);
  double frac = (double)u32(p + 4);
  return (s - NTP_EPOCH_OFFSET_S) * 1000.0 + floor((frac / TWO32) * 1000.0);
}

static int uint_kind(int32_t k) {
  return (k >= K_OCTETS && k <= K_REV_TOTAL_PACKETS) || (k >= K_IN_IF && k <= K_OUT_PHYS_IF) ||
         (k >= K_SAMPLING_INTERVAL && k <= K_SAMPLING_POPULATION) ||
         k == K_START_SYS_UPTIME || k == K_END_SYS_UPTIME || k == K_START_MILLIS || k == K_END_MILLIS ||
         k == K_START_DELTA_MICROS || k == K_END_DELTA_MICROS || k == K_DURATION_MILLIS || k == K_SYSTEM_INIT_MILLIS;
}

int fl_decode_kind_ok(int32_t kind, int32_t len) {
  /* 65535 is a variable length (RFC 7011 7): never here. */
  if (len < 1 || len > 65534) return kind == K_SKIP && len == 0;
  if (kind == K_SKIP) return 1;
  if (uint_kind(kind)) return len <= 8;
  switch (kind) {
    case K_REV_TCP_FLAGS:
    case K_TCP_FLAGS:
    case K_SRC_PORT:
    case K_DST_PORT:
    case K_TRANSPORT_SRC_PORT:
    case K_TRANSPORT_DST_PORT:
    case K_VLAN:
    case K_DOT1Q_VLAN:
      return len <= 2;
    case K_PROTO:
    case K_IP_VERSION:
    case K_ICMP_TYPE:
    case K_ICMP_CODE:
    case K_END_REASON:
    case K_BIFLOW_DIRECTION:
      return len == 1;
    case K_SRC_ADDR4:
    case K_DST_ADDR4:
      return len == 4;
    case K_SRC_ADDR6:
    case K_DST_ADDR6:
      return len == 16;
    case K_START_SECONDS:
    case K_END_SECONDS:
      return len == 4;
    case K_START_NTP:
    case K_END_NTP:
      return len == 8;
    case K_DURATION_MICROS:
      return len <= 8;
    case K_ICMP_TYPE_CODE4:
    case K_ICMP_TYPE_CODE6:
      return len == 2;
    case K_SAMPLING_PROBABILITY:
      return 1;
    default:
      return 0;
  }
}

/* Where each kind's field lies in a record (-1: absent; the last one of a kind, and of the kinds
 * that set the same thing, as reading the fields in order leaves them), made once per set:
 * records are then read with no dispatch per field. */
typedef struct {
  int32_t at[K_KINDS];
  int32_t len[K_KINDS];
} layout;

static void make_layout(layout *l, const int32_t *plan, int32_t nfields) {
  static const int32_t same[][3] = {{K_START_SECONDS, K_START_MILLIS, K_START_NTP},
                                    {K_END_SECONDS, K_END_MILLIS, K_END_NTP},
                                    {K_DURATION_MILLIS, K_DURATION_MICROS, -1},
                                    {K_ICMP_TYPE_CODE4, K_ICMP_TYPE_CODE6, -1}};
  for (int k = 0; k < K_KINDS; k++) l->at[k] = -1, l->len[k] = 0;
  int32_t off = 0;
  for (int32_t i = 0; i < nfields; i++) {
    int32_t kind = plan[2 * i], len = plan[2 * i + 1];
    if (kind != K_SKIP && kind >= 0 && kind < K_KINDS) {
      for (size_t g = 0; g < sizeof same / sizeof same[0]; g++)
        for (int j = 0; j < 3; j++)
          if (same[g][j] == kind)
            for (int o = 0; o < 3; o++)
              if (same[g][o] >= 0) l->at[same[g][o]] = -1;
      l->at[kind] = off;
      l->len[kind] = len;
    }
    off += len;
  }
}

/* A record's fields (at msg + pos) as record.ts's decoder reads them. */
static void read_record(fields *r, const layout *l, const uint8_t *msg, int32_t pos) {
  const uint8_t *rec = msg + pos;
#define AT(k) (l->at[k])
#define P(k) (rec + l->at[k])
#define UINT(k) (AT(k) >= 0 ? read_uint(P(k), l->len[k]) : -1)
#define U8(k) (AT(k) >= 0 ? u8(P(k)) : -1)
/* Ports and VLANs of 1 or 2 bytes; TCP flags of 2 keep the classic 8 bits. */
#define PORT(k) (AT(k) >= 0 ? (l->len[k] == 2 ? u16(P(k)) : u8(P(k))) : -1)
#define FLAGS(k) (AT(k) >= 0 ? (l->len[k] == 1 ? u8(P(k)) : (double)((uint32_t)u16(P(k)) & 0xff)) : -1)
#define ADDR(k) (AT(k) >= 0 ? (double)(pos + AT(k)) : -1)
#define VLAN(k) (AT(k) >= 0 ? (double)((uint32_t)PORT(k) & 0xfff) : -1)
  r->octets = UINT(K_OCTETS);
  r->packets = UINT(K_PACKETS);
  r->post_octets = UINT(K_POST_OCTETS);
  r->post_packets = UINT(K_POST_PACKETS);
  r->total_octets = UINT(K_TOTAL_OCTETS);
  r->total_packets = UINT(K_TOTAL_PACKETS);
  r->initiator_octets = UINT(K_INITIATOR_OCTETS);
  r->initiator_packets = UINT(K_INITIATOR_PACKETS);
  r->responder_octets = UINT(K_RESPONDER_OCTETS);
  r->responder_packets = UINT(K_RESPONDER_PACKETS);
  r->rev_octets = UINT(K_REV_OCTETS);
  r->rev_packets = UINT(K_REV_PACKETS);
  r->rev_total_octets = UINT(K_REV_TOTAL_OCTETS);
  r->rev_total_packets = UINT(K_REV_TOTAL_PACKETS);
  r->rev_tcp_flags = FLAGS(K_REV_TCP_FLAGS);
  r->proto = U8(K_PROTO);
  r->tcp_flags = FLAGS(K_TCP_FLAGS);
  r->src_port = PORT(K_SRC_PORT);
  r->dst_port = PORT(K_DST_PORT);
  r->transport_src_port = PORT(K_TRANSPORT_SRC_PORT);
  r->transport_dst_port = PORT(K_TRANSPORT_DST_PORT);
  r->src4 = ADDR(K_SRC_ADDR4);
  r->dst4 = ADDR(K_DST_ADDR4);
  r->src6 = ADDR(K_SRC_ADDR6);
  r->dst6 = ADDR(K_DST_ADDR6);
  r->in_if = UINT(K_IN_IF);
  r->out_if = UINT(K_OUT_IF);
  r->in_phys_if = UINT(K_IN_PHYS_IF);
  r->out_phys_if = UINT(K_OUT_PHYS_IF);
  r->vlan = VLAN(K_VLAN);
  r->dot1q_vlan = VLAN(K_DOT1Q_VLAN);
  r->ip_version = U8(K_IP_VERSION);
  r->start_sys_uptime = UINT(K_START_SYS_UPTIME);
  r->end_sys_uptime = UINT(K_END_SYS_UPTIME);
  r->start_ms = AT(K_START_SECONDS) >= 0  ? (double)u32(P(K_START_SECONDS)) * 1000.0
                : AT(K_START_MILLIS) >= 0 ? read_uint(P(K_START_MILLIS), l->len[K_START_MILLIS])
                : AT(K_START_NTP) >= 0    ? ntp_to_ms(P(K_START_NTP))
                                          : -1;
  r->end_ms = AT(K_END_SECONDS) >= 0  ? (double)u32(P(K_END_SECONDS)) * 1000.0
              : AT(K_END_MILLIS) >= 0 ? read_uint(P(K_END_MILLIS), l->len[K_END_MILLIS])
              : AT(K_END_NTP) >= 0    ? ntp_to_ms(P(K_END_NTP))
                                      : -1;
  r->start_delta_us = UINT(K_START_DELTA_MICROS);
  r->end_delta_us = UINT(K_END_DELTA_MICROS);
  r->duration_ms = AT(K_DURATION_MILLIS) >= 0   ? read_uint(P(K_DURATION_MILLIS), l->len[K_DURATION_MILLIS])
                   : AT(K_DURATION_MICROS) >= 0 ? floor(read_uint(P(K_DURATION_MICROS), l->len[K_DURATION_MICROS]) / 1000.0)
                                                : -1;
  r->system_init_ms = UINT(K_SYSTEM_INIT_MILLIS);
  r->icmp_type_code = AT(K_ICMP_TYPE_CODE4) >= 0   ? u16(P(K_ICMP_TYPE_CODE4))
                      : AT(K_ICMP_TYPE_CODE6) >= 0 ? u16(P(K_ICMP_TYPE_CODE6))
                                                   : -1;
  r->icmp_type = U8(K_ICMP_TYPE);
  r->icmp_code = U8(K_ICMP_CODE);
  r->end_reason = U8(K_END_REASON);
  r->biflow_direction = U8(K_BIFLOW_DIRECTION);
  r->sampling_interval = UINT(K_SAMPLING_INTERVAL);
  r->sampler_random_interval = UINT(K_SAMPLER_RANDOM_INTERVAL);
  r->sampling_packet_interval = UINT(K_SAMPLING_PACKET_INTERVAL);
  r->sampling_packet_space = UINT(K_SAMPLING_PACKET_SPACE);
  r->sampling_size = UINT(K_SAMPLING_SIZE);
  r->sampling_population = UINT(K_SAMPLING_POPULATION);
  r->sampling_probability = AT(K_SAMPLING_PROBABILITY) < 0                  ? -1
                            : l->len[K_SAMPLING_PROBABILITY] == 8 ? read_f64(P(K_SAMPLING_PROBABILITY))
                            : l->len[K_SAMPLING_PROBABILITY] == 4 ? read_f32(P(K_SAMPLING_PROBABILITY))
                                                                  : -1;
#undef AT
#undef P
#undef UINT
#undef U8
#undef PORT
#undef FLAGS
#undef ADDR
#undef VLAN
}

static inline double pick(double a, double b, double c, double d) { return a >= 0 ? a : b >= 0 ? b : c >= 0 ? c : d; }
static inline double max0(double v) { return v > 0 ? v : 0; }
static inline double scaled(double raw, double rate) { return raw <= 0 ? 0 : rate == 1 ? raw : raw * rate; }
static inline double if_index(double v) { return v > 0 && v <= 4294967295.0 ? v : 0; }

static int is_zero(const uint8_t *p, int n) {
  for (int i = 0; i < n; i++)
    if (p[i] != 0) return 0;
  return 1;
}

/* uptimeDelta(): sysUptime minus t modulo 2^32, signed. */
static double uptime_delta(double sys_uptime, double t) {
  double d = fmod(sys_uptime - t + TWO32, TWO32);
  return d >= 2147483648.0 ? d - TWO32 : d;
}

static double from_uptime(double t, const fields *r, const double *ctx) {
  if (ctx[C_SYS_UPTIME_MS] >= 0) return ctx[C_EXPORT_MS] - uptime_delta(ctx[C_SYS_UPTIME_MS], t);
  double init = r->system_init_ms >= 0 ? r->system_init_ms : ctx[C_SYSTEM_INIT_MS];
  return init >= 0 ? init + t : -1;
}

enum { FLOW, NO_ADDRESS, BAD_VALUE };

/* to-flow.ts toFlow() for a record without frames or L7 names: one row of nums/meta. */
static int to_flow(const fields *r, const uint8_t *msg, const double *ctx, double *x, int32_t *m, uint8_t *one_way) {
  int has4 = r->src4 >= 0 || r->dst4 >= 0;
  int has6 = r->src6 >= 0 || r->dst6 >= 0;
  int ipv6;
  if (has4 && has6) {
    if (r->ip_version == 4 || r->ip_version == 6) ipv6 = r->ip_version == 6;
    else
      ipv6 = !((r->src6 < 0 || is_zero(msg + (int32_t)r->src6, 16)) && (r->dst6 < 0 || is_zero(msg + (int32_t)r->dst6, 16)));
  } else if (has4 || has6) {
    ipv6 = has6;
  } else {
    return NO_ADDRESS;
  }
  int32_t src_off = (int32_t)(ipv6 ? r->src6 : r->src4);
  int32_t dst_off = (int32_t)(ipv6 ? r->dst6 : r->dst4);

  double src_port = r->src_port >= 0 ? r->src_port : max0(r->transport_src_port);
  double dst_port = r->dst_port >= 0 ? r->dst_port : max0(r->transport_dst_port);
  double proto = max0(r->proto);
  int icmp = proto == 1 || proto == 58;
  if (icmp) {
    if (r->icmp_type_code >= 0) dst_port = r->icmp_type_code;
    else if (r->icmp_type >= 0) dst_port = r->icmp_type * 256 + max0(r->icmp_code);
    else if (dst_port == 0 && src_port != 0) dst_port = src_port;
    src_port = 0;
  }

  double fwd_bytes = pick(r->octets, r->initiator_octets, r->post_octets, r->total_octets);
  double fwd_pkts = pick(r->packets, r->initiator_packets, r->post_packets, r->total_packets);
  double rev_bytes = pick(r->rev_octets, r->responder_octets, r->rev_total_octets, -1);
  double rev_pkts = pick(r->rev_packets, r->responder_packets, r->rev_total_packets, -1);
  double src_flags = max0(r->tcp_flags);
  double dst_flags = max0(r->rev_tcp_flags);
  int oneway = rev_bytes < 0 && rev_pkts < 0 && r->rev_tcp_flags < 0;
  if (fwd_bytes < 0) fwd_bytes = 0;
  if (fwd_pkts < 0) fwd_pkts = 0;
  if (rev_bytes < 0) rev_bytes = 0;
  if (rev_pkts < 0) rev_pkts = 0;

  if (r->biflow_direction == 2) {
    int32_t o = src_off;
    src_off = dst_off;
    dst_off = o;
    double t;
    if (!icmp) {
      t = src_port;
      src_port = dst_port;
      dst_port = t;
    }
    t = fwd_bytes, fwd_bytes = rev_bytes, rev_bytes = t;
    t = fwd_pkts, fwd_pkts = rev_pkts, rev_pkts = t;
    t = src_flags, src_flags = dst_flags, dst_flags = t;
  }

  double export_ms = ctx[C_EXPORT_MS];
  double first = r->start_ms, last = r->end_ms;
  if (first < 0 && r->start_delta_us >= 0) first = export_ms - floor(r->start_delta_us / 1000.0);
  if (last < 0 && r->end_delta_us >= 0) last = export_ms - floor(r->end_delta_us / 1000.0);
  if (first < 0 && r->start_sys_uptime >= 0) first = from_uptime(r->start_sys_uptime, r, ctx);
  if (last < 0 && r->end_sys_uptime >= 0) last = from_uptime(r->end_sys_uptime, r, ctx);
  if (r->duration_ms >= 0) {
    if (first >= 0 && last < 0) last = first + r->duration_ms;
    else if (last >= 0 && first < 0) first = last - r->duration_ms;
  }
  if (first < 0) first = last >= 0 ? last : export_ms;
  if (last < 0) last = first;

  double rate = rate_from_fields(r);
  if (rate == 0) rate = ctx[C_RATE];
  double raw = fwd_pkts + rev_pkts;
  double raw_bytes = fwd_bytes + rev_bytes;
  if (!(first <= MAX_SAFE && last <= MAX_SAFE && first > -MAX_SAFE && last > -MAX_SAFE) || raw_bytes * rate > MAX_SAFE ||
      raw * rate > MAX_SAFE)
    return BAD_VALUE;

  m[M_SRC] = src_off;
  m[M_DST] = dst_off;
  m[M_IPV6] = ipv6;
  m[M_L7] = (int32_t)ctx[C_L7_AT];
  m[M_L7_LEN] = (int32_t)ctx[C_L7_LEN];
  m[M_CID] = 0;
  m[M_CID_LEN] = 0;
  if (ctx[C_COMMUNITY_ID] != 0 && src_off >= 0 && dst_off >= 0) {
    uint32_t sport = icmp ? (uint32_t)dst_port >> 8 : (uint32_t)src_port;
    uint32_t dport = icmp ? (uint32_t)dst_port & 0xff : (uint32_t)dst_port;
    m[M_CID] = (int32_t)(sport << 16 | (dport & 0xffff));
    m[M_CID_LEN] = FL_CID_FROM_TUPLE;
  }
  m[M_EXPORTER] = (int32_t)ctx[C_EXPORTER_AT];
  m[M_EXPORTER_LEN] = (int32_t)ctx[C_EXPORTER_LEN];

  x[E_SRC_PORT] = src_port;
  x[E_DST_PORT] = dst_port;
  x[E_PROTO] = proto;
  x[E_IP_VERSION] = ipv6 ? 6 : 4;
  x[E_VLAN] = r->vlan >= 0 ? r->vlan : max0(r->dot1q_vlan);
  /* Math.trunc(t) + 0: no -0. */
  x[E_FIRST_SEEN] = trunc(first) + 0.0;
  x[E_LAST_SEEN] = trunc(last) + 0.0;
  x[E_S2D_PACKETS] = scaled(fwd_pkts, rate);
  x[E_S2D_BYTES] = scaled(fwd_bytes, rate);
  x[E_D2S_PACKETS] = scaled(rev_pkts, rate);
  x[E_D2S_BYTES] = scaled(rev_bytes, rate);
  x[E_SRC_FLAGS] = src_flags;
  x[E_DST_FLAGS] = dst_flags;
  double reason = r->end_reason;
  x[E_END_REASON] = reason >= 0 && reason < 6 ? ctx[C_END_REASONS + (int)reason] : ctx[C_END_REASONS];
  x[E_DOMAIN] = ctx[C_DOMAIN];
  x[E_EXPORT_VERSION] = ctx[C_VERSION];
  x[E_SAMPLING_RATE] = rate;
  x[E_RAW_PACKETS] = raw;
  x[E_RAW_BYTES] = raw_bytes;
  x[E_IN_IF] = if_index(r->in_if >= 0 ? r->in_if : r->in_phys_if);
  x[E_OUT_IF] = if_index(r->out_if >= 0 ? r->out_if : r->out_phys_if);
  *one_way = (uint8_t)oneway;
  return FLOW;
}

int32_t fl_decode_set(const uint8_t *msg, size_t msg_len, int32_t start, int32_t end, const int32_t *plan,
                      int32_t nfields, int32_t rec_len, const double *ctx, double *nums, int32_t *meta,
                      uint8_t *one_way, int32_t max_rows, int32_t *out) {
  if (start < 0 || end < start || (size_t)end > msg_len || rec_len <= 0 || nfields < 0 || max_rows < 0) return -1;
  int32_t sum = 0;
  for (int32_t i = 0; i < nfields; i++) {
    if (!fl_decode_kind_ok(plan[2 * i], plan[2 * i + 1])) return -1;
    sum += plan[2 * i + 1];
  }
  if (sum != rec_len) return -1;
  layout l;
  make_layout(&l, plan, nfields);
  int32_t pos = start, rows = 0;
  out[O_NO_ADDRESS] = 0;
  out[O_BAD_VALUE] = 0;
  while (end - pos >= rec_len && rows < max_rows) {
    fields r;
    read_record(&r, &l, msg, pos);
    pos += rec_len;
    int got = to_flow(&r, msg, ctx, nums + (size_t)rows * E_NUMS, meta + (size_t)rows * M_FIELDS, one_way + rows);
    if (got == FLOW) rows++;
    else if (got == NO_ADDRESS) out[O_NO_ADDRESS]++;
    else out[O_BAD_VALUE]++;
  }
  out[O_NEXT] = pos;
  return rows;
}
