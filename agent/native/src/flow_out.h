/* The exported flow record: a fixed layout copied into batch buffers that JS reads with a
 * DataView (offsets are published to JS by the addon, so this struct is the one definition). */
#ifndef FL_FLOW_OUT_H
#define FL_FLOW_OUT_H
#include <stdint.h>

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

struct fl_flow_out {
  uint8_t src[16];
  uint8_t dst[16];
  uint64_t first_us, last_us;
  uint64_t s2d_pkts, s2d_bytes, d2s_pkts, d2s_bytes;
  uint64_t s2d_wire, d2s_wire; /* frame bytes as captured (len on the wire), for peer comparisons */
  uint64_t cli_nw_lat_us, srv_nw_lat_us, appl_lat_us; /* FL_ABSENT_U64 when not measured */
  uint64_t risks;                                     /* nDPI risk bitmap (bit n = ndpi_risk_enum n) */
  uint32_t s2d_retx, d2s_retx, s2d_ooo, d2s_ooo;
  uint32_t sampling;                                  /* 1-in-N, 1 if unsampled */
  uint32_t ifindex;
  uint16_t sport, dport, vlan;
  uint8_t proto, ip_version, s2d_flags, d2s_flags, end_reason, tunnel, dns_rcode, dpi_done;
  char l7[48];
  char category[32];
  char host[128];
  char url[256];
  char user_agent[192];
  char sni[128];
  char dns_query[128];
  char ja3c[36];
  char community_id[32];
};

#endif
