/* One captured packet as every source (pcap file, AF_PACKET ring) hands it to the decoder. */
#ifndef FL_PACKET_H
#define FL_PACKET_H
#include <stdint.h>

/* Link types we decode (values are libpcap DLT_* numbers). */
enum fl_linktype {
  FL_DLT_NULL = 0,        /* BSD loopback: 4-byte host-order family */
  FL_DLT_EN10MB = 1,      /* Ethernet */
  FL_DLT_RAW = 12,        /* raw IP (also 14 on some systems, and LINKTYPE_RAW 101) */
  FL_DLT_RAW_ALT = 14,
  FL_DLT_LOOP = 108,      /* OpenBSD loopback: 4-byte network-order family */
  FL_DLT_LINUX_SLL = 113, /* Linux cooked v1 */
  FL_DLT_LINKTYPE_RAW = 101,
  FL_DLT_PPP = 9,
  FL_DLT_IPV4 = 228,
  FL_DLT_IPV6 = 229,
  FL_DLT_LINUX_SLL2 = 276, /* Linux cooked v2 */
  FL_DLT_C_HDLC = 104,     /* Cisco HDLC: address, control, ethertype */
  FL_DLT_PPI = 192,        /* Per-Packet Information header, then another link type */
};

struct fl_packet {
  uint64_t ts_us;     /* capture timestamp, microseconds since the epoch */
  uint32_t caplen;    /* bytes present at data */
  uint32_t wirelen;   /* length on the wire */
  int linktype;       /* enum fl_linktype / DLT_* */
  uint32_t ifindex;   /* capturing interface (0 for files) */
  const uint8_t *data;
};

#endif
