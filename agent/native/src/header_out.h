/* One sampled packet header decoded for the collector (the raw packet header records of sFlow):
 * the probe's own decoder (decode.c) run over a header an exporter cut from a frame, its result
 * in a fixed layout that JS reads at the offsets the addon publishes (headerLayout), so the
 * collector builds no object per sample and the two sides cannot drift. */
#ifndef FL_HEADER_OUT_H
#define FL_HEADER_OUT_H
#include <stdint.h>

#include "decode.h"

struct fl_header_out {
  uint8_t src[16], dst[16]; /* innermost IP packet; IPv4 in the first 4 bytes */
  uint32_t ip_len;          /* innermost IP total length from its header: the packet's IP bytes */
  uint32_t l2_len;          /* bytes before the outermost IP header */
  uint16_t sport, dport;    /* ICMP: sport 0, dport type*256+code */
  uint16_t vlan;            /* outer 802.1Q id, 0 if untagged */
  uint8_t result;           /* enum fl_decode_result: FL_DEC_OK or why the header gave no flow */
  uint8_t ip_version;       /* 4 or 6 */
  uint8_t proto;
  uint8_t tcp_flags;
  uint8_t tunnel;           /* enum fl_tunnel of the outermost tunnel */
  uint8_t has_l4;           /* transport header present (0 for non-first fragments) */
  uint8_t is_fragment;
  uint8_t pad[3];
};

/* Decodes the `len` bytes at `data` as a packet of link type `linktype` (DLT_*). Never reads
 * outside them; *out is always fully written (zeros but result on failure). */
enum fl_decode_result fl_header_decode(const uint8_t *data, uint32_t len, int linktype, struct fl_header_out *out);

#endif
