#ifndef FL_COLLECTOR_DECODE_H
#define FL_COLLECTOR_DECODE_H
#include <stddef.h>
#include <stdint.h>

/* The NetFlow v9/IPFIX data records of a set decoded in C, for templates whose every field has a
 * fixed length and a kind this decoder knows (the aggregator's collector/netflow/native-set.ts
 * says which): each record read as record.ts's compiled plan reads it and turned into the
 * collector's record numbers (flow_encode.h E_*) and places (M_*) as to-flow.ts does, ready for
 * fl_encode_flows. The JS decoder stays the reference: the aggregator's tests hold both to the
 * same flows on every template of the test data. */

/* Field kinds (collector/netflow/fields.ts Kind): the same numbers, checked at load. */
enum {
  K_SKIP = 0,
  K_OCTETS,
  K_PACKETS,
  K_POST_OCTETS,
  K_POST_PACKETS,
  K_TOTAL_OCTETS,
  K_TOTAL_PACKETS,
  K_INITIATOR_OCTETS,
  K_INITIATOR_PACKETS,
  K_RESPONDER_OCTETS,
  K_RESPONDER_PACKETS,
  K_REV_OCTETS,
  K_REV_PACKETS,
  K_REV_TOTAL_OCTETS,
  K_REV_TOTAL_PACKETS,
  K_REV_TCP_FLAGS,
  K_PROTO,
  K_TCP_FLAGS,
  K_SRC_PORT,
  K_DST_PORT,
  K_SRC_ADDR4,
  K_DST_ADDR4,
  K_SRC_ADDR6,
  K_DST_ADDR6,
  K_IN_IF,
  K_OUT_IF,
  K_IN_PHYS_IF,
  K_OUT_PHYS_IF,
  K_VLAN,
  K_DOT1Q_VLAN,
  K_IP_VERSION,
  K_START_SYS_UPTIME,
  K_END_SYS_UPTIME,
  K_START_SECONDS,
  K_END_SECONDS,
  K_START_MILLIS,
  K_END_MILLIS,
  K_START_NTP,
  K_END_NTP,
  K_START_DELTA_MICROS,
  K_END_DELTA_MICROS,
  K_DURATION_MILLIS,
  K_DURATION_MICROS,
  K_SYSTEM_INIT_MILLIS,
  K_ICMP_TYPE_CODE4,
  K_ICMP_TYPE_CODE6,
  K_ICMP_TYPE,
  K_ICMP_CODE,
  K_END_REASON,
  K_BIFLOW_DIRECTION,
  /* A sampler id needs the exporter's table of rates (JS); the rest is read here. */
  K_SAMPLER_ID,
  K_SAMPLING_INTERVAL,
  K_SAMPLER_RANDOM_INTERVAL,
  K_SAMPLING_PACKET_INTERVAL,
  K_SAMPLING_PACKET_SPACE,
  K_SAMPLING_SIZE,
  K_SAMPLING_POPULATION,
  K_SAMPLING_PROBABILITY,
  /* ntop's L7 names (58) and packet frames (61) are JS's too. */
  K_TRANSPORT_SRC_PORT = 59,
  K_TRANSPORT_DST_PORT = 60,
  K_KINDS = 62
};

/* Highest sampling rate taken from an exporter (sampling.ts MAX_RATE, checked at load). */
#define MAX_RATE 16777216.0

/* The set's context (ctx[]): as to-flow.ts's RecordContext and what JS placed in the strings. */
enum {
  C_EXPORT_MS,
  C_SYS_UPTIME_MS,   /* v9 header sysUptime; -1 for IPFIX */
  C_SYSTEM_INIT_MS,  /* IPFIX systemInitTimeMilliseconds learned from options; -1 if unknown */
  C_RATE,            /* the exporter's 1-in-N sampling rate (1 if none) for records without their own */
  C_COMMUNITY_ID,    /* 1: each record's Community ID computed from its tuple by fl_encode_flows */
  C_L7_AT,           /* "Unknown" in the strings */
  C_L7_LEN,
  C_EXPORTER_AT,     /* the exporter's address text in the strings */
  C_EXPORTER_LEN,
  C_DOMAIN,
  C_VERSION,
  C_END_REASONS,     /* 6 entries: flowEndReason 0..5 -> pb.EndReason */
  C_FIELDS = C_END_REASONS + 6
};

/* What a call reports (out[]). */
enum { O_NEXT, O_NO_ADDRESS, O_BAD_VALUE, O_FIELDS };

/* Whether fl_decode_set reads a field of this kind and length (else the plan is JS's). */
int fl_decode_kind_ok(int32_t kind, int32_t len);

/* Decodes records of rec_len bytes from msg[start, end) (fields: nfields (kind, length) pairs)
 * until fewer than rec_len bytes are left or max_rows flows are written; a record that is no
 * flow (no address, values beyond 2^53) is counted in out[] instead. Writes each flow's numbers
 * (nums, E_NUMS a row), places (meta, M_FIELDS a row) and whether it is one-way (one_way), and
 * out[O_NEXT], where it stopped. Returns the rows written, or -1 for arguments out of range. */
int32_t fl_decode_set(const uint8_t *msg, size_t msg_len, int32_t start, int32_t end, const int32_t *fields,
                      int32_t nfields, int32_t rec_len, const double *ctx, double *nums, int32_t *meta,
                      uint8_t *one_way, int32_t max_rows, int32_t *out);

#endif
