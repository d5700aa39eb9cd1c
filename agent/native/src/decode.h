/* Packet decoder: link layer -> (tunnels) -> IP -> transport. Never reads past caplen; every
 * packet it cannot use is classified by one reason so the caller can count it. */
#ifndef FL_DECODE_H
#define FL_DECODE_H
#include <stdint.h>
#include "packet.h"

enum fl_decode_result {
  FL_DEC_OK = 0,
  FL_DEC_NOT_IP,            /* ARP, LLDP, ... : not an error, not a flow */
  FL_DEC_UNSUPPORTED_LINK,  /* link type we do not decode */
  FL_DEC_TRUNC_L2,          /* captured length ends inside the link header */
  FL_DEC_TRUNC_IP,          /* ... inside the IP header */
  FL_DEC_BAD_IP_VERSION,
  FL_DEC_BAD_IP_HEADER,     /* IHL < 5, total length < header, ... */
  FL_DEC_TRUNC_L4,          /* ... inside the TCP/UDP/ICMP/SCTP header (first fragment only) */
  FL_DEC_BAD_L4_HEADER,     /* TCP data offset < 5, ... */
  FL_DEC_BAD_IPV6_EXT,      /* IPv6 extension header chain runs past the packet */
  FL_DEC_TUNNEL_TOO_DEEP,   /* more nested tunnels than we follow */
  FL_DEC_FRAG_UNMATCHED,    /* non-first fragment whose first fragment we never saw */
  FL_DEC__COUNT
};

extern const char *const fl_decode_result_names[FL_DEC__COUNT];

enum fl_tunnel {
  FL_TUN_NONE = 0,
  FL_TUN_GRE = 1,
  FL_TUN_VXLAN = 2,
  FL_TUN_IPIP = 3,   /* IPv4/IPv6 in IPv4/IPv6 */
  FL_TUN_GTP = 4,
  FL_TUN_TEREDO = 5,
  FL_TUN_GENEVE = 6,
};

/* The fields the flow table needs, decoded from the innermost IP packet. */
struct fl_decoded {
  uint8_t ip_version;      /* 4 or 6 */
  uint8_t proto;           /* IANA protocol of the transport header */
  uint16_t vlan;           /* outer 802.1Q id, 0 if untagged */
  uint8_t src[16], dst[16];/* IPv4 in the first 4 bytes */
  uint16_t sport, dport;   /* ICMP: sport 0, dport type*256+code */
  uint32_t ip_len;         /* IP bytes of the innermost packet (header + payload, from its header) */
  uint8_t tcp_flags;
  uint8_t has_l4;          /* transport header present (false for non-first fragments) */
  uint32_t tcp_seq, tcp_ack;
  uint16_t tcp_win;
  uint16_t payload_len;    /* transport payload bytes in this packet (from header lengths) */
  const uint8_t *payload;  /* transport payload, may be shorter than payload_len if truncated */
  uint32_t payload_caplen; /* captured bytes of payload */
  const uint8_t *l3;       /* innermost IP header, for nDPI */
  uint32_t l3_caplen;      /* captured bytes from l3 */
  uint8_t tunnel;          /* enum fl_tunnel of the outermost tunnel, FL_TUN_NONE if none */
  /* IP fragmentation */
  uint8_t is_fragment;     /* part of a fragmented datagram */
  uint8_t first_fragment;  /* offset 0 (carries the transport header) */
  uint8_t more_fragments;
  uint32_t frag_id;        /* IPv4 id or IPv6 fragment identification */
  uint32_t l2_len;         /* bytes before the outermost IP header (link + VLAN/MPLS/PPPoE) */
};

/* Decodes one packet. On FL_DEC_OK, *out is filled. Never reads outside p->data[0..caplen). */
enum fl_decode_result fl_decode(const struct fl_packet *p, struct fl_decoded *out);

#endif
