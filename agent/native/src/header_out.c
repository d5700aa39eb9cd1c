/* A sampled header through the probe's decoder (see header_out.h). */
#include "header_out.h"

#include <string.h>

#include "packet.h"

enum fl_decode_result fl_header_decode(const uint8_t *data, uint32_t len, int linktype, struct fl_header_out *out) {
  struct fl_packet p = {.ts_us = 0, .caplen = len, .wirelen = len, .linktype = linktype, .ifindex = 0, .data = data};
  struct fl_decoded d;
  enum fl_decode_result r = fl_decode(&p, &d);
  memset(out, 0, sizeof(*out));
  out->result = (uint8_t)r;
  if (r != FL_DEC_OK) return r;
  memcpy(out->src, d.src, 16);
  memcpy(out->dst, d.dst, 16);
  out->ip_len = d.ip_len;
  out->l2_len = d.l2_len;
  out->sport = d.sport;
  out->dport = d.dport;
  out->vlan = d.vlan;
  out->ip_version = d.ip_version;
  out->proto = d.proto;
  out->tcp_flags = d.tcp_flags;
  out->tunnel = d.tunnel;
  out->has_l4 = d.has_l4;
  out->is_fragment = d.is_fragment;
  return r;
}
