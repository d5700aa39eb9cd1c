/* Packet decoder. Every read is checked against the captured length first; the helpers below
 * make that the only way to read. */
#include "decode.h"

#include <string.h>

const char *const fl_decode_result_names[FL_DEC__COUNT] = {
    [FL_DEC_OK] = "ok",
    [FL_DEC_NOT_IP] = "not_ip",
    [FL_DEC_UNSUPPORTED_LINK] = "unsupported_link",
    [FL_DEC_TRUNC_L2] = "truncated_l2",
    [FL_DEC_TRUNC_IP] = "truncated_ip",
    [FL_DEC_BAD_IP_VERSION] = "bad_ip_version",
    [FL_DEC_BAD_IP_HEADER] = "bad_ip_header",
    [FL_DEC_TRUNC_L4] = "truncated_l4",
    [FL_DEC_BAD_L4_HEADER] = "bad_l4_header",
    [FL_DEC_BAD_IPV6_EXT] = "bad_ipv6_ext",
    [FL_DEC_TUNNEL_TOO_DEEP] = "tunnel_too_deep",
    [FL_DEC_FRAG_UNMATCHED] = "fragment_unmatched",
};

#define MAX_TUNNEL_DEPTH 4
#define MAX_VLAN_TAGS 4
#define MAX_MPLS_LABELS 8
#define MAX_IPV6_EXT 8

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86dd
#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88a8
#define ETH_QINQ_OLD 0x9100
#define ETH_MPLS_UC 0x8847
#define ETH_MPLS_MC 0x8848
#define ETH_PPPOE_SESS 0x8864
#define ETH_TEB 0x6558 /* GRE: transparent Ethernet bridging */
#define ETH_ERSPAN2 0x88be
#define ETH_ERSPAN3 0x22eb

#define UDP_VXLAN 4789
#define UDP_GTPU 2152
#define UDP_GENEVE 6081

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t rd32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

struct cursor {
  const uint8_t *base; /* start of the captured packet */
  uint32_t caplen;
  uint32_t off;        /* current read position */
  int depth;           /* tunnels followed */
};

static inline int have(const struct cursor *c, uint32_t n) { return c->off <= c->caplen && c->caplen - c->off >= n; }

static enum fl_decode_result decode_ip(struct cursor *c, struct fl_decoded *d);
static enum fl_decode_result decode_ethernet(struct cursor *c, struct fl_decoded *d, int outer);

/* Picks IPv4 or IPv6 by the version nibble, for links and tunnels that do not say which. */
static enum fl_decode_result decode_ip_guess(struct cursor *c, struct fl_decoded *d) {
  if (!have(c, 1)) return FL_DEC_TRUNC_IP;
  uint8_t v = c->base[c->off] >> 4;
  if (v != 4 && v != 6) return FL_DEC_NOT_IP;
  return decode_ip(c, d);
}

static enum fl_decode_result by_ethertype(struct cursor *c, struct fl_decoded *d, uint16_t type) {
  switch (type) {
    case ETH_IPV4:
    case ETH_IPV6:
      return decode_ip(c, d);
    default:
      return FL_DEC_NOT_IP;
  }
}

/* PPP protocol field -> IP. */
static enum fl_decode_result by_ppp_proto(struct cursor *c, struct fl_decoded *d, uint16_t proto) {
  if (proto == 0x0021 || proto == 0x0057) return decode_ip(c, d);
  return FL_DEC_NOT_IP;
}

/* What follows an ethertype: VLAN tags (the first one is the flow's VLAN), MPLS labels,
 * PPPoE, then IP. `outer` is false for Ethernet carried inside a tunnel, whose VLAN must not
 * replace the outer one. */
static enum fl_decode_result after_ethertype(struct cursor *c, struct fl_decoded *d, uint16_t type, int outer) {
  for (int tags = 0; type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD; tags++) {
    if (tags == MAX_VLAN_TAGS) return FL_DEC_NOT_IP;
    if (!have(c, 4)) return FL_DEC_TRUNC_L2;
    if (outer && d->vlan == 0) d->vlan = rd16(c->base + c->off) & 0x0fff;
    type = rd16(c->base + c->off + 2);
    c->off += 4;
  }
  if (type == ETH_MPLS_UC || type == ETH_MPLS_MC) {
    for (int n = 0;; n++) {
      if (n == MAX_MPLS_LABELS) return FL_DEC_NOT_IP;
      if (!have(c, 4)) return FL_DEC_TRUNC_L2;
      uint32_t label = rd32(c->base + c->off);
      c->off += 4;
      if (label & 0x100) break; /* bottom of stack */
    }
    if (outer) d->l2_len = c->off;
    return decode_ip_guess(c, d);
  }
  if (type == ETH_PPPOE_SESS) {
    if (!have(c, 8)) return FL_DEC_TRUNC_L2;
    uint16_t ppp = rd16(c->base + c->off + 6);
    c->off += 8;
    if (outer) d->l2_len = c->off;
    return by_ppp_proto(c, d, ppp);
  }
  if (outer) d->l2_len = c->off;
  return by_ethertype(c, d, type);
}

static enum fl_decode_result decode_ethernet(struct cursor *c, struct fl_decoded *d, int outer) {
  if (!have(c, 14)) return FL_DEC_TRUNC_L2;
  uint16_t type = rd16(c->base + c->off + 12);
  c->off += 14;
  return after_ethertype(c, d, type, outer);
}

/* A tunnel's payload starts at c->off. Decoding restarts there; what the outer headers said is
 * forgotten except the VLAN, the first tunnel type and the link length. */
static enum fl_decode_result enter_tunnel(struct cursor *c, struct fl_decoded *d, uint8_t kind, int inner_eth) {
  if (++c->depth > MAX_TUNNEL_DEPTH) return FL_DEC_TUNNEL_TOO_DEEP;
  if (d->tunnel == FL_TUN_NONE) d->tunnel = kind;
  return inner_eth ? decode_ethernet(c, d, 0) : decode_ip_guess(c, d);
}

/* GRE (RFC 2784/2890): version 0 with optional checksum, key, sequence; carries IP, Ethernet
 * (TEB) or ERSPAN. Anything else stays a GRE flow. Returns FL_DEC_OK with *handled = 0 when the
 * packet should be accounted as plain GRE. */
static enum fl_decode_result try_gre(struct cursor *c, struct fl_decoded *d, int *handled) {
  *handled = 0;
  struct cursor t = *c;
  if (!have(&t, 4)) return FL_DEC_OK;
  uint16_t flags = rd16(t.base + t.off), proto = rd16(t.base + t.off + 2);
  if ((flags & 0x0007) != 0 || (flags & 0x4000)) return FL_DEC_OK; /* version 1 (PPTP) or routing */
  uint32_t hlen = 4 + ((flags & 0x8000) ? 4 : 0) + ((flags & 0x2000) ? 4 : 0) + ((flags & 0x1000) ? 4 : 0);
  if (!have(&t, hlen)) return FL_DEC_OK;
  t.off += hlen;
  int eth;
  if (proto == ETH_IPV4 || proto == ETH_IPV6) {
    eth = 0;
  } else if (proto == ETH_TEB) {
    eth = 1;
  } else if (proto == ETH_ERSPAN2) {
    if (!have(&t, 8)) return FL_DEC_OK;
    t.off += 8;
    eth = 1;
  } else if (proto == ETH_ERSPAN3) {
    if (!have(&t, 12)) return FL_DEC_OK;
    uint8_t o = t.base[t.off + 11] & 0x01; /* optional platform-specific subheader */
    t.off += 12 + (o ? 8 : 0);
    eth = 1;
  } else {
    return FL_DEC_OK;
  }
  *handled = 1;
  *c = t;
  return enter_tunnel(c, d, FL_TUN_GRE, eth);
}

/* GTP-U v1 (3GPP TS 29.281): T-PDU messages carry user IP packets. */
static enum fl_decode_result try_gtpu(struct cursor *c, struct fl_decoded *d, int *handled) {
  *handled = 0;
  struct cursor t = *c;
  if (!have(&t, 8)) return FL_DEC_OK;
  uint8_t flags = t.base[t.off], type = t.base[t.off + 1];
  if ((flags >> 5) != 1 || !(flags & 0x10) || type != 0xff) return FL_DEC_OK;
  uint32_t hlen = 8;
  if (flags & 0x07) {
    if (!have(&t, 12)) return FL_DEC_OK;
    hlen = 12;
    uint8_t next = t.base[t.off + 11];
    while (next != 0) { /* extension headers: length in 4-byte units, next type in last byte */
      if (!have(&t, hlen + 1)) return FL_DEC_OK;
      uint32_t elen = (uint32_t)t.base[t.off + hlen] * 4;
      if (elen == 0 || !have(&t, hlen + elen)) return FL_DEC_OK;
      next = t.base[t.off + hlen + elen - 1];
      hlen += elen;
    }
  }
  t.off += hlen;
  if (!have(&t, 1) || ((t.base[t.off] >> 4) != 4 && (t.base[t.off] >> 4) != 6)) return FL_DEC_OK;
  *handled = 1;
  *c = t;
  return enter_tunnel(c, d, FL_TUN_GTP, 0);
}

/* VXLAN (RFC 7348): 8-byte header with the I flag, then Ethernet. */
static enum fl_decode_result try_vxlan(struct cursor *c, struct fl_decoded *d, int *handled) {
  *handled = 0;
  struct cursor t = *c;
  if (!have(&t, 8 + 14) || !(t.base[t.off] & 0x08)) return FL_DEC_OK;
  t.off += 8;
  *handled = 1;
  *c = t;
  return enter_tunnel(c, d, FL_TUN_VXLAN, 1);
}

/* Geneve (RFC 8926): 8 bytes plus options, then Ethernet (protocol 0x6558) or IP. */
static enum fl_decode_result try_geneve(struct cursor *c, struct fl_decoded *d, int *handled) {
  *handled = 0;
  struct cursor t = *c;
  if (!have(&t, 8) || (t.base[t.off] >> 6) != 0) return FL_DEC_OK;
  uint32_t hlen = 8 + (uint32_t)(t.base[t.off] & 0x3f) * 4;
  uint16_t proto = rd16(t.base + t.off + 2);
  if (!have(&t, hlen)) return FL_DEC_OK;
  if (proto != ETH_TEB && proto != ETH_IPV4 && proto != ETH_IPV6) return FL_DEC_OK;
  t.off += hlen;
  *handled = 1;
  *c = t;
  return enter_tunnel(c, d, FL_TUN_GENEVE, proto == ETH_TEB);
}

/* Transport header at c->off of an IP packet whose payload is `l4len` bytes long. */
static enum fl_decode_result decode_l4(struct cursor *c, struct fl_decoded *d, uint32_t l4len) {
  const uint8_t *p = c->base + c->off;
  uint32_t hlen;
  switch (d->proto) {
    case 6: /* TCP */
      if (!have(c, 20)) return FL_DEC_TRUNC_L4;
      hlen = (uint32_t)(p[12] >> 4) * 4;
      if (hlen < 20 || hlen > l4len) return FL_DEC_BAD_L4_HEADER;
      d->sport = rd16(p);
      d->dport = rd16(p + 2);
      d->tcp_seq = rd32(p + 4);
      d->tcp_ack = rd32(p + 8);
      d->tcp_flags = p[13];
      d->tcp_win = rd16(p + 14);
      break;
    case 17:  /* UDP */
    case 136: /* UDP-Lite */
      if (!have(c, 8)) return FL_DEC_TRUNC_L4;
      hlen = 8;
      if (l4len < 8) return FL_DEC_BAD_L4_HEADER;
      d->sport = rd16(p);
      d->dport = rd16(p + 2);
      break;
    case 132: /* SCTP common header */
      if (!have(c, 12)) return FL_DEC_TRUNC_L4;
      hlen = 12;
      if (l4len < 12) return FL_DEC_BAD_L4_HEADER;
      d->sport = rd16(p);
      d->dport = rd16(p + 2);
      break;
    case 1:  /* ICMP */
    case 58: /* ICMPv6 */
      if (!have(c, 4)) return FL_DEC_TRUNC_L4;
      hlen = 4;
      if (l4len < 4) return FL_DEC_BAD_L4_HEADER;
      d->sport = 0;
      d->dport = (uint16_t)(p[0] << 8 | p[1]); /* type*256+code, as NetFlow */
      break;
    default:
      hlen = 0;
      break;
  }
  d->has_l4 = 1;
  d->payload_len = (uint16_t)(l4len - hlen > 0xffff ? 0xffff : l4len - hlen);
  c->off += hlen;
  d->payload = c->base + c->off;
  uint32_t avail = c->caplen - c->off;
  d->payload_caplen = avail < l4len - hlen ? avail : l4len - hlen;

  if (d->proto == 17 && !d->is_fragment) {
    int handled = 0;
    enum fl_decode_result r = FL_DEC_OK;
    if (d->dport == UDP_VXLAN) r = try_vxlan(c, d, &handled);
    else if (d->dport == UDP_GTPU || d->sport == UDP_GTPU) r = try_gtpu(c, d, &handled);
    else if (d->dport == UDP_GENEVE) r = try_geneve(c, d, &handled);
    if (handled) return r;
  }
  return FL_DEC_OK;
}

static enum fl_decode_result decode_ipv4(struct cursor *c, struct fl_decoded *d) {
  if (!have(c, 20)) return FL_DEC_TRUNC_IP;
  const uint8_t *p = c->base + c->off;
  uint32_t ihl = (uint32_t)(p[0] & 0x0f) * 4;
  uint32_t tot = rd16(p + 2);
  if (ihl < 20) return FL_DEC_BAD_IP_HEADER;
  if (!have(c, ihl)) return FL_DEC_TRUNC_IP;
  /* Segmentation offload on the capturing host gives tot_len 0: trust the capture then. */
  if (tot == 0) tot = c->caplen - c->off;
  if (tot < ihl) return FL_DEC_BAD_IP_HEADER;
  uint16_t frag = rd16(p + 6);
  uint8_t proto = p[9];

  d->ip_version = 4;
  memset(d->src, 0, 16);
  memset(d->dst, 0, 16);
  memcpy(d->src, p + 12, 4);
  memcpy(d->dst, p + 16, 4);
  d->proto = proto;
  d->ip_len = tot;
  d->l3 = p;
  {
    uint32_t avail = c->caplen - c->off;
    d->l3_caplen = avail < tot ? avail : tot;
  }
  d->is_fragment = (frag & 0x3fff) != 0;
  d->first_fragment = (frag & 0x1fff) == 0;
  d->more_fragments = (frag & 0x2000) != 0;
  d->frag_id = rd16(p + 4);
  c->off += ihl;
  if (d->is_fragment && !d->first_fragment) return FL_DEC_OK; /* no transport header here */

  if ((proto == 4 || proto == 41) && !d->is_fragment) {
    return enter_tunnel(c, d, FL_TUN_IPIP, 0);
  }
  if (proto == 47 && !d->is_fragment) {
    int handled = 0;
    enum fl_decode_result r = try_gre(c, d, &handled);
    if (handled) return r;
  }
  return decode_l4(c, d, tot - ihl);
}

static int ipv6_ext(uint8_t nh) { return nh == 0 || nh == 43 || nh == 60 || nh == 44 || nh == 51 || nh == 135 || nh == 139 || nh == 140; }

static enum fl_decode_result decode_ipv6(struct cursor *c, struct fl_decoded *d) {
  if (!have(c, 40)) return FL_DEC_TRUNC_IP;
  const uint8_t *p = c->base + c->off;
  uint32_t plen = rd16(p + 4);
  if (plen == 0) plen = c->caplen - c->off - 40; /* jumbogram or offload: trust the capture */
  uint8_t nh = p[6];
  d->ip_version = 6;
  memcpy(d->src, p + 8, 16);
  memcpy(d->dst, p + 24, 16);
  d->ip_len = 40 + plen;
  d->l3 = p;
  {
    uint32_t avail = c->caplen - c->off;
    d->l3_caplen = avail < d->ip_len ? avail : d->ip_len;
  }
  d->is_fragment = 0;
  d->first_fragment = 1;
  d->more_fragments = 0;
  c->off += 40;
  uint32_t left = plen;
  for (int n = 0; ipv6_ext(nh); n++) {
    if (n == MAX_IPV6_EXT) return FL_DEC_BAD_IPV6_EXT;
    if (left < 8) return FL_DEC_BAD_IPV6_EXT;
    if (!have(c, 8)) return FL_DEC_TRUNC_IP;
    const uint8_t *e = c->base + c->off;
    uint32_t elen;
    if (nh == 44) { /* fragment header: fixed 8 bytes */
      elen = 8;
      uint16_t off = rd16(e + 2);
      d->is_fragment = 1;
      d->first_fragment = (off & 0xfff8) == 0;
      d->more_fragments = off & 1;
      d->frag_id = rd32(e + 4);
    } else if (nh == 51) { /* AH: length in 4-byte units minus 2 */
      elen = ((uint32_t)e[1] + 2) * 4;
    } else {
      elen = ((uint32_t)e[1] + 1) * 8;
    }
    if (elen > left) return FL_DEC_BAD_IPV6_EXT;
    nh = e[0];
    left -= elen;
    if (!have(c, elen)) {
      /* Truncated inside an extension header: not enough to find the transport header. */
      return FL_DEC_TRUNC_IP;
    }
    c->off += elen;
    if (d->is_fragment && !d->first_fragment) {
      d->proto = nh;
      return FL_DEC_OK;
    }
  }
  d->proto = nh;
  if ((nh == 4 || nh == 41) && !d->is_fragment) return enter_tunnel(c, d, FL_TUN_IPIP, 0);
  if (nh == 47 && !d->is_fragment) {
    int handled = 0;
    enum fl_decode_result r = try_gre(c, d, &handled);
    if (handled) return r;
  }
  if (nh == 59) { /* no next header */
    d->has_l4 = 1;
    d->payload_len = 0;
    d->payload_caplen = 0;
    d->payload = c->base + c->off;
    return FL_DEC_OK;
  }
  return decode_l4(c, d, left);
}

static enum fl_decode_result decode_ip(struct cursor *c, struct fl_decoded *d) {
  if (!have(c, 1)) return FL_DEC_TRUNC_IP;
  /* An inner packet replaces everything the outer one said about addresses and transport. */
  d->has_l4 = 0;
  d->sport = d->dport = 0;
  d->tcp_flags = 0;
  d->payload = NULL;
  d->payload_len = 0;
  d->payload_caplen = 0;
  uint8_t v = c->base[c->off] >> 4;
  if (v == 4) return decode_ipv4(c, d);
  if (v == 6) return decode_ipv6(c, d);
  return FL_DEC_BAD_IP_VERSION;
}

static enum fl_decode_result decode_link(struct cursor *cur, struct fl_decoded *d, int linktype, int nested);

enum fl_decode_result fl_decode(const struct fl_packet *pkt, struct fl_decoded *d) {
  memset(d, 0, sizeof(*d));
  struct cursor c = {.base = pkt->data, .caplen = pkt->caplen, .off = 0, .depth = 0};
  return decode_link(&c, d, pkt->linktype, 0);
}

/* The link header at c->off (0 except after a PPI header). */
static enum fl_decode_result decode_link(struct cursor *cur, struct fl_decoded *d, int linktype, int nested) {
  struct cursor c = *cur;
  switch (linktype) {
    case FL_DLT_EN10MB:
      return decode_ethernet(&c, d, 1);
    case FL_DLT_C_HDLC: {
      if (!have(&c, 4)) return FL_DEC_TRUNC_L2;
      uint16_t proto = rd16(c.base + c.off + 2);
      c.off += 4;
      return after_ethertype(&c, d, proto, 1);
    }
    case FL_DLT_PPI: {
      if (nested) return FL_DEC_UNSUPPORTED_LINK;
      if (!have(&c, 8)) return FL_DEC_TRUNC_L2;
      uint32_t hlen = (uint32_t)c.base[c.off + 2] | (uint32_t)c.base[c.off + 3] << 8;
      uint32_t dlt = (uint32_t)c.base[c.off + 4] | (uint32_t)c.base[c.off + 5] << 8 | (uint32_t)c.base[c.off + 6] << 16 |
                     (uint32_t)c.base[c.off + 7] << 24;
      if (hlen < 8) return FL_DEC_TRUNC_L2;
      if (!have(&c, hlen)) return FL_DEC_TRUNC_L2;
      c.off += hlen;
      return decode_link(&c, d, (int)dlt, 1);
    }
    case FL_DLT_LINUX_SLL: {
      if (!have(&c, 16)) return FL_DEC_TRUNC_L2;
      uint16_t proto = rd16(c.base + c.off + 14);
      c.off += 16;
      return after_ethertype(&c, d, proto, 1); /* the kernel may keep VLAN tags in the payload */
    }
    case FL_DLT_LINUX_SLL2: {
      if (!have(&c, 20)) return FL_DEC_TRUNC_L2;
      uint16_t proto = rd16(c.base + c.off);
      c.off += 20;
      return after_ethertype(&c, d, proto, 1);
    }
    case FL_DLT_RAW:
    case FL_DLT_RAW_ALT:
    case FL_DLT_LINKTYPE_RAW:
    case FL_DLT_IPV4:
    case FL_DLT_IPV6:
      return decode_ip_guess(&c, d);
    case FL_DLT_NULL:
    case FL_DLT_LOOP: {
      if (!have(&c, 4)) return FL_DEC_TRUNC_L2;
      c.off += 4;
      d->l2_len = c.off;
      return decode_ip_guess(&c, d);
    }
    case FL_DLT_PPP: {
      if (!have(&c, 2)) return FL_DEC_TRUNC_L2;
      if (c.base[c.off] == 0xff && c.base[c.off + 1] == 0x03) c.off += 2; /* HDLC address/control */
      if (!have(&c, 2)) return FL_DEC_TRUNC_L2;
      uint16_t proto = rd16(c.base + c.off);
      c.off += 2;
      d->l2_len = c.off;
      return by_ppp_proto(&c, d, proto);
    }
    default:
      return FL_DEC_UNSUPPORTED_LINK;
  }
}
