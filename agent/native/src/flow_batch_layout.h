#ifndef FL_FLOW_BATCH_LAYOUT_H
#define FL_FLOW_BATCH_LAYOUT_H
/* Where fl_flow_batch_decode puts a record's values: FB_NUMS doubles and FB_OFFS int32s per
 * record, and FB_HEAD int32s for the batch. The addon exports these numbers (flowBatchLayout)
 * and the JS decoder reads them from there. X-macros so the names are written once. */

/* Numbers: each the field's value as the JS decoder makes it (-1: a latency or dnsRcode absent). */
#define FB_NUM_FIELDS(X) \
  X(SRC_PORT) X(DST_PORT) X(PROTO) X(IP_VERSION) X(VLAN) X(FIRST_SEEN) X(LAST_SEEN) \
  X(S2D_PACKETS) X(S2D_BYTES) X(D2S_PACKETS) X(D2S_BYTES) X(SRC_TCP_FLAGS) X(DST_TCP_FLAGS) \
  X(CLIENT_LATENCY) X(SERVER_LATENCY) X(APPL_LATENCY) X(SRC_RETRANSMITS) X(DST_RETRANSMITS) \
  X(SRC_OUT_OF_ORDER) X(DST_OUT_OF_ORDER) X(END_REASON) X(OBSERVATION_DOMAIN) X(EXPORT_VERSION) \
  X(SAMPLING_RATE) X(RAW_PACKETS) X(RAW_BYTES) X(IN_IF) X(OUT_IF) X(DNS_RCODE)

/* Byte ranges: [start, end) pairs into the batch, -1 when the field is absent; the record's own
 * range; the last FlowInfo's start and length, and its number of risks. */
#define FB_OFF_FIELDS(X) \
  X(START) X(END) X(SRC_ADDR) X(SRC_ADDR_END) X(DST_ADDR) X(DST_ADDR_END) X(L7) X(L7_END) \
  X(L7_CATEGORY) X(L7_CATEGORY_END) X(COMMUNITY_ID) X(COMMUNITY_ID_END) X(EXPORTER) X(EXPORTER_END) \
  X(INFO) X(INFO_LEN) X(RISKS)

/* The batch: the last AgentIdentity's start and length (-1: none), sequence and sentAtMs as
 * low and high 32 bits. */
#define FB_HEAD_FIELDS(X) X(AGENT) X(AGENT_LEN) X(SEQUENCE_LO) X(SEQUENCE_HI) X(SENT_AT_LO) X(SENT_AT_HI)

#define FB_ENUM_N(name) FB_N_##name,
#define FB_ENUM_O(name) FB_O_##name,
#define FB_ENUM_H(name) FB_H_##name,
enum { FB_NUM_FIELDS(FB_ENUM_N) FB_NUMS };
enum { FB_OFF_FIELDS(FB_ENUM_O) FB_OFFS };
enum { FB_HEAD_FIELDS(FB_ENUM_H) FB_HEAD };

/* fl_flow_batch_decode results other than a record count. */
#define FB_GIVE_UP (-1)
#define FB_TOO_MANY (-2)

#endif
