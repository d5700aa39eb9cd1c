/* The flow table. Memory is allocated once in fl_table_new: a pool of max_flows flows, a
 * bucket array, and a small table of in-flight IP fragments. Per packet it only hashes, walks
 * a chain and updates counters; DPI state and metadata are per flow, from the DPI module. */
#include "flowtable.h"

#include <stdlib.h>
#include <string.h>

#include "community_id.h"
#include "dpi.h"

#define NIL UINT32_MAX
#define FRAG_SLOTS 4096
#define FRAG_TTL_US (30ull * 1000000)

/* TCP flag bits */
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

enum list_id { L_IDLE = 0, L_ACTIVE = 1, L_CLOSING = 2, L__COUNT };

struct link {
  uint32_t prev, next;
};

struct dir_tcp {
  uint32_t next_seq; /* highest seq + len seen (payload, SYN and FIN count) */
  uint64_t last_seg_us;
  uint32_t last_ack;   /* ack number this direction last sent */
  uint16_t last_win;
  uint8_t seq_valid, ack_valid;
  uint8_t dup_acks;    /* consecutive duplicate ACKs this direction sent */
  uint64_t last_dup_ack_us;
};

struct flow {
  uint32_t chain; /* next flow in the same bucket */
  uint32_t hash;
  struct link lists[L__COUNT];
  uint8_t in_list[L__COUNT];
  /* Key, canonical: endpoint a < endpoint b. */
  uint8_t a[16], b[16];
  uint16_t pa, pb;
  uint8_t proto, ipver;
  uint16_t vlan;
  /* Direction: index 0 = initiator (src) -> responder (dst). */
  uint8_t src_is_a;
  uint8_t flags[2];
  uint8_t fin_seen[2];
  uint8_t tunnel;
  uint8_t closing; /* FIN both ways or RST: lingering for the last ACKs */
  uint8_t end_reason;
  uint8_t dpi_state; /* 0 running, 1 done, 2 none (pool exhausted or DPI off) */
  uint16_t icmp_typecode; /* initiator's first ICMP type*256+code */
  uint32_t ifindex;
  uint64_t first_us, last_us, active_start_us, close_us;
  uint64_t pkts[2], bytes[2], wire[2];
  /* TCP performance */
  uint64_t syn_us, synack_us, ack_us, req_us, resp_us;
  uint32_t retx[2], ooo[2];
  struct dir_tcp tcp[2];
  struct ndpi_flow_struct *ndpi;
  struct fl_dpi_result dpi;
};

struct frag_slot {
  uint8_t src[16], dst[16];
  uint32_t id;
  uint8_t proto, ipver, used;
  uint32_t flow;      /* pool index */
  uint64_t flow_gen;  /* the flow's creation serial, so a reused slot is not mistaken */
  uint64_t seen_us;
};

struct fl_table {
  struct fl_table_config cfg;
  fl_emit_fn emit;
  void *emit_ctx;
  struct fl_dpi *dpi;
  struct flow *pool;
  uint64_t *gen;     /* per pool slot: serial of the flow living there */
  uint32_t *buckets;
  uint32_t mask;
  uint32_t free_head; /* released flows chained through .chain */
  uint32_t fresh;     /* pool slots never used start here: untouched pages stay unallocated */
  uint32_t head[L__COUNT], tail[L__COUNT];
  struct frag_slot *frags;
  uint64_t serial;
  uint64_t sample_counter;
  uint64_t now_us;
  struct fl_table_stats stats;
  struct fl_flow_out out; /* scratch export record */
};

/* ---- intrusive lists (pool indices) ---- */

static void list_push(struct fl_table *t, enum list_id l, uint32_t i) {
  struct flow *f = &t->pool[i];
  f->lists[l].prev = t->tail[l];
  f->lists[l].next = NIL;
  if (t->tail[l] != NIL) t->pool[t->tail[l]].lists[l].next = i;
  else t->head[l] = i;
  t->tail[l] = i;
  f->in_list[l] = 1;
}

static void list_remove(struct fl_table *t, enum list_id l, uint32_t i) {
  struct flow *f = &t->pool[i];
  if (!f->in_list[l]) return;
  uint32_t p = f->lists[l].prev, n = f->lists[l].next;
  if (p != NIL) t->pool[p].lists[l].next = n;
  else t->head[l] = n;
  if (n != NIL) t->pool[n].lists[l].prev = p;
  else t->tail[l] = p;
  f->in_list[l] = 0;
}

/* ---- hashing ---- */

static inline uint64_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

static uint32_t key_hash(const uint8_t *a, const uint8_t *b, uint16_t pa, uint16_t pb, uint8_t proto, uint16_t vlan, int len) {
  uint64_t h = ((uint64_t)pa << 48) ^ ((uint64_t)pb << 32) ^ ((uint64_t)proto << 16) ^ vlan;
  uint64_t w;
  for (int i = 0; i < len; i += 8) {
    w = 0;
    memcpy(&w, a + i, len - i >= 8 ? 8 : (size_t)(len - i));
    h = mix64(h ^ w);
    w = 0;
    memcpy(&w, b + i, len - i >= 8 ? 8 : (size_t)(len - i));
    h = mix64(h ^ w ^ 0x9e3779b97f4a7c15ULL);
  }
  return (uint32_t)mix64(h);
}

/* Orders the two endpoints; returns 1 if the packet's source is endpoint a. */
static int canonical(const struct fl_decoded *d, uint16_t sport, uint16_t dport, const uint8_t **a, const uint8_t **b,
                     uint16_t *pa, uint16_t *pb) {
  int len = d->ip_version == 4 ? 4 : 16;
  int c = memcmp(d->src, d->dst, (size_t)len);
  if (c < 0 || (c == 0 && sport <= dport)) {
    *a = d->src, *b = d->dst, *pa = sport, *pb = dport;
    return 1;
  }
  *a = d->dst, *b = d->src, *pa = dport, *pb = sport;
  return 0;
}

/* ---- lifecycle ---- */

struct fl_table *fl_table_new(const struct fl_table_config *cfg, fl_emit_fn emit, void *emit_ctx) {
  struct fl_table *t = calloc(1, sizeof(*t));
  if (!t) return NULL;
  t->cfg = *cfg;
  if (t->cfg.max_flows == 0) t->cfg.max_flows = 1;
  if (t->cfg.sampling == 0) t->cfg.sampling = 1;
  t->emit = emit;
  t->emit_ctx = emit_ctx;
  uint32_t nb = 1;
  while (nb < t->cfg.max_flows) nb <<= 1; /* load factor <= 1 */
  t->mask = nb - 1;
  t->pool = calloc(t->cfg.max_flows, sizeof(*t->pool));
  t->gen = calloc(t->cfg.max_flows, sizeof(*t->gen));
  t->buckets = malloc(sizeof(*t->buckets) * nb);
  t->frags = calloc(FRAG_SLOTS, sizeof(*t->frags));
  if (!t->pool || !t->gen || !t->buckets || !t->frags) {
    fl_table_free(t);
    return NULL;
  }
  memset(t->buckets, 0xff, sizeof(*t->buckets) * nb);
  t->free_head = NIL;
  t->fresh = 0;
  for (int l = 0; l < L__COUNT; l++) t->head[l] = t->tail[l] = NIL;
  if (t->cfg.dpi) {
    char err[256];
    uint32_t states = t->cfg.max_flows < 131072 ? t->cfg.max_flows : 131072;
    t->dpi = fl_dpi_new(states, err, sizeof(err));
    if (!t->dpi) {
      fl_table_free(t);
      return NULL;
    }
  }
  return t;
}

void fl_table_free(struct fl_table *t) {
  if (!t) return;
  if (t->pool) {
    for (uint32_t i = 0; i < t->fresh; i++) {
      struct flow *f = &t->pool[i];
      if (f->ndpi && t->dpi) {
        struct fl_dpi_result r;
        fl_dpi_finish(t->dpi, f->ndpi, &r);
        fl_dpi_result_free(&r);
      }
      fl_dpi_result_free(&f->dpi);
    }
  }
  fl_dpi_free(t->dpi);
  free(t->pool);
  free(t->gen);
  free(t->buckets);
  free(t->frags);
  free(t);
}

const struct fl_table_stats *fl_table_stats(const struct fl_table *t) { return &t->stats; }

/* ---- export ---- */

static void export_flow(struct fl_table *t, struct flow *f, int reason) {
  struct fl_flow_out *o = &t->out;
  memset(o, 0, sizeof(*o));
  int s = f->src_is_a;
  memcpy(o->src, s ? f->a : f->b, 16);
  memcpy(o->dst, s ? f->b : f->a, 16);
  o->sport = s ? f->pa : f->pb;
  o->dport = s ? f->pb : f->pa;
  if (f->proto == 1 || f->proto == 58) {
    o->sport = 0;
    o->dport = f->icmp_typecode;
  }
  o->proto = f->proto;
  o->ip_version = f->ipver;
  o->vlan = f->vlan;
  o->first_us = f->first_us;
  o->last_us = f->last_us;
  uint64_t n = t->cfg.sampling;
  o->s2d_pkts = f->pkts[0] * n;
  o->s2d_bytes = f->bytes[0] * n;
  o->d2s_pkts = f->pkts[1] * n;
  o->d2s_bytes = f->bytes[1] * n;
  o->s2d_wire = f->wire[0] * n;
  o->d2s_wire = f->wire[1] * n;
  o->s2d_flags = f->flags[0];
  o->d2s_flags = f->flags[1];
  o->s2d_retx = f->retx[0];
  o->d2s_retx = f->retx[1];
  o->s2d_ooo = f->ooo[0];
  o->d2s_ooo = f->ooo[1];
  o->srv_nw_lat_us = f->syn_us && f->synack_us >= f->syn_us ? f->synack_us - f->syn_us : FL_ABSENT_U64;
  o->cli_nw_lat_us = f->synack_us && f->ack_us >= f->synack_us ? f->ack_us - f->synack_us : FL_ABSENT_U64;
  o->appl_lat_us = f->req_us && f->resp_us >= f->req_us ? f->resp_us - f->req_us : FL_ABSENT_U64;
  o->sampling = (uint32_t)n;
  o->ifindex = f->ifindex;
  o->end_reason = (uint8_t)reason;
  o->tunnel = f->tunnel;
  o->dns_rcode = FL_NO_RCODE;

  /* Community ID: ICMP hashes type and code of the initiator's first packet. */
  uint16_t cs = o->sport, cd = o->dport;
  if (f->proto == 1 || f->proto == 58) cs = f->icmp_typecode >> 8, cd = f->icmp_typecode & 0xff;
  fl_community_id(f->ipver, o->src, o->dst, f->proto, cs, cd, 0, o->community_id);

  if (t->dpi) {
    if (f->dpi_state == 0 && f->ndpi) {
      /* A flow still being classified: a final export gives up (guessing by port, as
       * ndpiReader does at the end of a capture); an active-timeout update keeps going. */
      if (reason != FL_END_ACTIVE) {
        fl_dpi_finish(t->dpi, f->ndpi, &f->dpi);
        f->ndpi = NULL;
        f->dpi_state = 1;
        fl_dpi_fill(t->dpi, &f->dpi, o);
      }
    } else if (f->dpi_state == 1) {
      fl_dpi_fill(t->dpi, &f->dpi, o);
    }
  }
  t->emit(t->emit_ctx, o);
  t->stats.flows_exported++;
}

static void remove_flow(struct fl_table *t, uint32_t i) {
  struct flow *f = &t->pool[i];
  uint32_t *pp = &t->buckets[f->hash & t->mask];
  while (*pp != i) pp = &t->pool[*pp].chain;
  *pp = f->chain;
  for (int l = 0; l < L__COUNT; l++) list_remove(t, (enum list_id)l, i);
  if (f->ndpi) {
    struct fl_dpi_result r;
    fl_dpi_finish(t->dpi, f->ndpi, &r);
    fl_dpi_result_free(&r);
    f->ndpi = NULL;
  }
  fl_dpi_result_free(&f->dpi);
  f->chain = t->free_head;
  t->free_head = i;
  t->gen[i] = 0;
  t->stats.flows_active--;
}

static void end_flow(struct fl_table *t, uint32_t i, int reason) {
  export_flow(t, &t->pool[i], reason);
  remove_flow(t, i);
}

/* Resets counters after an active-timeout export; the flow goes on as a new record. */
static void restart_flow(struct fl_table *t, uint32_t i) {
  struct flow *f = &t->pool[i];
  export_flow(t, f, FL_END_ACTIVE);
  f->pkts[0] = f->pkts[1] = f->bytes[0] = f->bytes[1] = f->wire[0] = f->wire[1] = 0;
  f->retx[0] = f->retx[1] = f->ooo[0] = f->ooo[1] = 0;
  f->first_us = f->last_us;
  f->active_start_us = t->now_us;
  list_remove(t, L_ACTIVE, i);
  list_push(t, L_ACTIVE, i);
}

void fl_table_expire(struct fl_table *t, uint64_t now_us) {
  if (now_us > t->now_us) t->now_us = now_us;
  now_us = t->now_us;
  uint32_t i;
  while ((i = t->head[L_CLOSING]) != NIL && t->pool[i].close_us + t->cfg.linger_us <= now_us)
    end_flow(t, i, t->pool[i].end_reason);
  while ((i = t->head[L_IDLE]) != NIL && t->pool[i].last_us + t->cfg.idle_timeout_us <= now_us) end_flow(t, i, FL_END_IDLE);
  if (t->cfg.active_timeout_us) {
    while ((i = t->head[L_ACTIVE]) != NIL && t->pool[i].active_start_us + t->cfg.active_timeout_us <= now_us)
      restart_flow(t, i);
  }
}

void fl_table_flush(struct fl_table *t, int reason) {
  uint32_t i;
  /* Oldest first, so records come out in the order flows started to go quiet. */
  while ((i = t->head[L_IDLE]) != NIL) end_flow(t, i, t->pool[i].closing ? t->pool[i].end_reason : reason);
}

/* ---- per packet ---- */

static uint32_t frag_slot(const struct fl_decoded *d) {
  uint32_t h = key_hash(d->src, d->dst, (uint16_t)d->frag_id, (uint16_t)(d->frag_id >> 16), d->proto, 0,
                        d->ip_version == 4 ? 4 : 16);
  return h & (FRAG_SLOTS - 1);
}

static void frag_remember(struct fl_table *t, const struct fl_decoded *d, uint32_t flow) {
  struct frag_slot *s = &t->frags[frag_slot(d)];
  memcpy(s->src, d->src, 16);
  memcpy(s->dst, d->dst, 16);
  s->id = d->frag_id;
  s->proto = d->proto;
  s->ipver = d->ip_version;
  s->flow = flow;
  s->flow_gen = t->gen[flow];
  s->seen_us = t->now_us;
  s->used = 1;
}

static uint32_t frag_lookup(struct fl_table *t, const struct fl_decoded *d) {
  struct frag_slot *s = &t->frags[frag_slot(d)];
  if (!s->used || s->id != d->frag_id || s->proto != d->proto || s->ipver != d->ip_version ||
      memcmp(s->src, d->src, 16) || memcmp(s->dst, d->dst, 16) || s->seen_us + FRAG_TTL_US < t->now_us ||
      t->gen[s->flow] != s->flow_gen)
    return NIL;
  s->seen_us = t->now_us;
  return s->flow;
}

/* TCP sequence analysis for one segment in direction `dir` (0 = from the initiator), the way
 * Wireshark's tcp.analysis does it so that counts can be checked against tshark:
 * - a duplicate ACK is a pure ACK repeating the previous ack number and window;
 * - a segment behind the highest sequence seen is a (fast) retransmission if the other side
 *   sent 2+ duplicate ACKs for its sequence number, out of order if it came within one
 *   handshake RTT (3 ms if unknown) of the segment that advanced the sequence and does not
 *   end where that one ended, and a retransmission otherwise. */
static void tcp_track(struct fl_table *t, struct flow *f, int dir, const struct fl_decoded *d, uint64_t ts) {
  uint8_t fl = d->tcp_flags;
  /* Handshake timing: SYN, SYN-ACK, then the initiator's ACK. */
  if ((fl & (TH_SYN | TH_ACK)) == TH_SYN && dir == 0 && !f->syn_us) f->syn_us = ts;
  else if ((fl & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK) && dir == 1 && f->syn_us && !f->synack_us) f->synack_us = ts;
  else if ((fl & (TH_SYN | TH_ACK | TH_RST)) == TH_ACK && dir == 0 && f->synack_us && !f->ack_us) f->ack_us = ts;
  /* Application latency: first request payload to the first response payload after it. */
  if (d->payload_len > 0) {
    if (dir == 0 && !f->req_us) f->req_us = ts;
    else if (dir == 1 && f->req_us && !f->resp_us) f->resp_us = ts;
  }

  struct dir_tcp *s = &f->tcp[dir];
  struct dir_tcp *r = &f->tcp[!dir];
  if (fl & TH_ACK) {
    int pure = d->payload_len == 0 && !(fl & (TH_SYN | TH_FIN | TH_RST));
    if (pure && s->ack_valid && d->tcp_ack == s->last_ack && d->tcp_win == s->last_win && s->next_seq == d->tcp_seq) {
      if (s->dup_acks < 255) s->dup_acks++;
      s->last_dup_ack_us = ts;
    } else if (!s->ack_valid || d->tcp_ack != s->last_ack) {
      s->dup_acks = 0;
    }
    s->last_ack = d->tcp_ack;
    s->last_win = d->tcp_win;
    s->ack_valid = 1;
  }

  uint32_t len = d->payload_len + ((fl & TH_SYN) ? 1 : 0) + ((fl & TH_FIN) ? 1 : 0);
  if (len == 0 || (fl & TH_RST)) return;
  uint32_t end = d->tcp_seq + len;
  if (!s->seq_valid) {
    s->next_seq = end;
    s->seq_valid = 1;
    s->last_seg_us = ts;
    return;
  }
  int32_t delta = (int32_t)(d->tcp_seq - s->next_seq);
  if (delta >= 0) { /* in order, or after a gap */
    s->next_seq = end;
    s->last_seg_us = ts;
    return;
  }
  /* A keep-alive (one byte at next_seq-1) is neither. */
  if (d->payload_len <= 1 && delta == -1 && !(fl & (TH_SYN | TH_FIN))) return;
  if (d->payload_len > 0 && r->dup_acks >= 2 && r->last_ack == d->tcp_seq && ts - r->last_dup_ack_us < 20000) {
    f->retx[dir]++; /* fast retransmission */
  } else {
    uint64_t rtt = f->synack_us && f->syn_us && f->ack_us ? f->ack_us - f->syn_us : 0;
    uint64_t thresh = rtt ? rtt : 3000;
    if (d->payload_len > 0 && ts - s->last_seg_us < thresh && end != s->next_seq) f->ooo[dir]++;
    else f->retx[dir]++;
  }
  if ((int32_t)(end - s->next_seq) > 0) s->next_seq = end;
  (void)t;
}

static uint32_t create_flow(struct fl_table *t, uint32_t hash, const struct fl_decoded *d, const uint8_t *a,
                            const uint8_t *b, uint16_t pa, uint16_t pb, int src_is_a, uint64_t ts) {
  if (t->free_head == NIL && t->fresh == t->cfg.max_flows) {
    /* Full: evict the flow idle the longest, counted, so a flood cannot wedge the table. */
    uint32_t victim = t->head[L_IDLE];
    end_flow(t, victim, FL_END_EVICTED);
    t->stats.flows_evicted++;
  }
  uint32_t i;
  if (t->free_head != NIL) {
    i = t->free_head;
    t->free_head = t->pool[i].chain;
  } else {
    i = t->fresh++;
  }
  struct flow *f = &t->pool[i];
  memset(f, 0, sizeof(*f));
  int len = d->ip_version == 4 ? 4 : 16;
  memcpy(f->a, a, (size_t)len);
  memcpy(f->b, b, (size_t)len);
  f->pa = pa;
  f->pb = pb;
  f->proto = d->proto;
  f->ipver = d->ip_version;
  f->vlan = d->vlan;
  f->hash = hash;
  f->src_is_a = (uint8_t)src_is_a;
  f->tunnel = d->tunnel;
  f->first_us = f->last_us = f->active_start_us = ts;
  if (d->proto == 1 || d->proto == 58) f->icmp_typecode = d->dport;
  f->chain = t->buckets[hash & t->mask];
  t->buckets[hash & t->mask] = i;
  t->gen[i] = ++t->serial;
  list_push(t, L_IDLE, i);
  list_push(t, L_ACTIVE, i);
  if (t->dpi) {
    f->ndpi = fl_dpi_acquire(t->dpi);
    f->dpi_state = f->ndpi ? 0 : 2;
  } else {
    f->dpi_state = 2;
  }
  t->stats.flows_created++;
  t->stats.flows_active++;
  return i;
}

static void account(struct fl_table *t, uint32_t i, int dir, const struct fl_decoded *d, const struct fl_packet *p) {
  struct flow *f = &t->pool[i];
  uint64_t ts = p->ts_us;
  f->pkts[dir]++;
  f->bytes[dir] += d->ip_len;
  f->wire[dir] += p->wirelen;
  if (ts > f->last_us) f->last_us = ts;
  if (!f->ifindex) f->ifindex = p->ifindex;
  list_remove(t, L_IDLE, i);
  list_push(t, L_IDLE, i);
}

void fl_table_packet(struct fl_table *t, const struct fl_packet *p) {
  struct fl_decoded d;
  t->stats.packets++;
  t->stats.bytes += p->wirelen;
  if (p->ts_us > t->now_us) t->now_us = p->ts_us;
  if (t->cfg.sampling > 1 && (t->sample_counter++ % t->cfg.sampling) != 0) {
    t->stats.sampled_out++;
    return;
  }
  enum fl_decode_result r = fl_decode(p, &d);
  if (r != FL_DEC_OK) {
    t->stats.decode_errors[r]++;
    return;
  }
  t->stats.ip_packets++;

  if (d.is_fragment && !d.first_fragment) {
    uint32_t i = frag_lookup(t, &d);
    if (i == NIL) {
      t->stats.decode_errors[FL_DEC_FRAG_UNMATCHED]++;
      return;
    }
    struct flow *f = &t->pool[i];
    int len = d.ip_version == 4 ? 4 : 16;
    int from_src = memcmp(d.src, f->src_is_a ? f->a : f->b, (size_t)len) == 0;
    account(t, i, from_src ? 0 : 1, &d, p);
    return;
  }

  /* ICMP is keyed as Zeek and the Community ID do: a request and its reply type are one flow
   * (ports = type, counterpart type), any other type is a flow of (type, code). */
  uint16_t ks = d.sport, kd = d.dport;
  if (d.proto == 1 || d.proto == 58) {
    uint16_t type = d.dport >> 8, code = d.dport & 0xff;
    int peer = fl_icmp_counterpart(d.proto, type);
    ks = type;
    kd = peer >= 0 ? (uint16_t)peer : code;
  }
  const uint8_t *a, *b;
  uint16_t pa, pb;
  int pkt_from_a = canonical(&d, ks, kd, &a, &b, &pa, &pb);
  int len = d.ip_version == 4 ? 4 : 16;
  uint32_t hash = key_hash(a, b, pa, pb, d.proto, d.vlan, len) ^ (uint32_t)d.ip_version;
  uint32_t i = t->buckets[hash & t->mask];
  while (i != NIL) {
    struct flow *f = &t->pool[i];
    if (f->hash == hash && f->pa == pa && f->pb == pb && f->proto == d.proto && f->vlan == d.vlan &&
        f->ipver == d.ip_version && !memcmp(f->a, a, (size_t)len) && !memcmp(f->b, b, (size_t)len))
      break;
    i = f->chain;
  }
  int is_syn = d.proto == 6 && (d.tcp_flags & (TH_SYN | TH_ACK)) == TH_SYN;
  if (i != NIL && t->pool[i].closing && is_syn) {
    /* A new connection reusing the 5-tuple while the old one lingers. */
    end_flow(t, i, t->pool[i].end_reason);
    i = NIL;
  }
  if (i == NIL) {
    /* The initiator: the SYN sender; a SYN-ACK first means we missed the SYN, so its receiver
     * initiated; otherwise whoever sent this first packet. */
    int src_is_a = pkt_from_a;
    if (d.proto == 6 && (d.tcp_flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK)) src_is_a = !pkt_from_a;
    i = create_flow(t, hash, &d, a, b, pa, pb, src_is_a, p->ts_us);
  }
  struct flow *f = &t->pool[i];
  int dir = (pkt_from_a == f->src_is_a) ? 0 : 1;
  account(t, i, dir, &d, p);
  if (d.is_fragment && d.more_fragments) frag_remember(t, &d, i);

  if (d.proto == 6 && d.has_l4) {
    f->flags[dir] |= d.tcp_flags;
    tcp_track(t, f, dir, &d, p->ts_us);
    if (d.tcp_flags & TH_RST) {
      if (!f->closing) {
        f->closing = 1;
        f->end_reason = FL_END_RST;
        f->close_us = p->ts_us;
        list_push(t, L_CLOSING, i);
      }
    } else if (d.tcp_flags & TH_FIN) {
      f->fin_seen[dir] = 1;
      if (f->fin_seen[0] && f->fin_seen[1] && !f->closing) {
        f->closing = 1;
        f->end_reason = FL_END_FIN;
        f->close_us = p->ts_us;
        list_push(t, L_CLOSING, i);
      }
    }
  }

  if (f->dpi_state == 0 && f->ndpi) {
    uint64_t n = f->pkts[0] + f->pkts[1];
    if (fl_dpi_packet(t->dpi, f->ndpi, d.l3, d.l3_caplen, p->ts_us / 1000, d.proto, n, &f->dpi)) {
      f->ndpi = NULL;
      f->dpi_state = 1;
    }
  }
}
