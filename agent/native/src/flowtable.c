/* The flow table. Memory is allocated once in fl_table_new: a pool of max_flows flows, a
 * bucket array, and a small table of in-flight IP fragments. Per packet it only hashes, walks
 * a chain and updates counters; DPI state and metadata are per flow, from the DPI module. */
#include "flowtable.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "community_id.h"
#include "dpi.h"

#define NIL UINT32_MAX
#define FRAG_SLOTS 4096
#define FRAG_TTL_US (30ull * 1000000)
#define CLOSING_SLOTS 65536 /* flows lingering after FIN/RST; past it the oldest ends at once */
/* The bucket array starts this small and doubles as the flows in the table outnumber it: sized
 * for max_flows from the start it was a cache miss on nearly every packet and every export
 * when (as usual) far fewer flows are open than the table could hold. */
#define MIN_BUCKETS 4096u

/* TCP flag bits */
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

/* Per direction sequence state. Times are the low 32 bits of microsecond timestamps: their
 * differences are exact while under 71 minutes, which is all the analysis needs. */
struct dir_tcp {
  uint32_t next_seq; /* highest seq + len seen (payload, SYN and FIN count) */
  uint32_t last_seg_us;
  uint32_t last_ack;
  uint32_t last_dup_ack_us;
  uint16_t last_win;
  uint8_t seq_valid, ack_valid;
  uint8_t dup_acks;
};

/* TCP analysis state, only for TCP flows past their first packet: a SYN flood or a port scan
 * (one packet per flow) costs no more than a UDP flow. Kept in chunks addressed by a 32-bit
 * index (half a pointer in the flow, no malloc header per state), recycled through a free list. */
struct tcp_state {
  struct dir_tcp dir[2];
  uint32_t syn_us, synack_us, ack_us, req_us, resp_us; /* low 32 bits, 0 = not seen */
  uint16_t retx[2], ooo[2];                            /* saturating */
  uint32_t next_free;
};
#define TCP_CHUNK 1024u

/* One flow in 128 bytes (two cache lines, the pool aligned to them): a million fit in the
 * agent's memory budget, and a lookup touches one line. What DPI found lives in its own
 * allocation, only for flows it classified. */
struct flow {
  /* first line: what a lookup compares, then the creation facts */
  uint32_t chain;                /* next flow in the same bucket */
  uint16_t pa, pb;               /* key, canonical: endpoint a < endpoint b */
  uint8_t a[16], b[16];          /* IPv4 in the first 4 bytes, the rest zero */
  uint16_t vlan;
  uint8_t proto, ipver;
  uint16_t src_is_a : 1, fin0 : 1, fin1 : 1, closing : 1, in_use : 1, syn_first : 1, first_dir : 1, first_seq : 1,
      dpi_state : 2, /* 0 running, 1 done, 2 none (pool exhausted or DPI off) */
      tunnel : 3, end_reason : 3;
  uint8_t flags[2];              /* index 0 = initiator (src) -> responder (dst) */
  uint32_t serial;               /* creation serial (0 = free slot), so stale references are recognised */
  union {
    uint32_t seq_end;  /* TCP: where the first segment's sequence ended, until the TCP state exists */
    uint16_t typecode; /* ICMP: initiator's first type*256+code */
  } first;
  uint64_t first_us;
  /* second line: what every packet updates */
  uint32_t idle_prev, idle_next; /* least recently seen first */
  uint32_t last_ms;              /* last packet, ms after first_us */
  uint32_t active_ms;            /* start of the current active-timeout window, ms after first_us */
  uint32_t pkts[2];              /* an active export is forced before these could wrap */
  uint64_t bytes[2];
  uint32_t l2_extra[2];          /* frame bytes beyond the IP bytes (link headers, padding), saturating */
  uint32_t ifindex;
  uint32_t tcp;                  /* TCP state index, NIL if none */
  union {
    struct ndpi_flow_struct *ndpi; /* while classifying */
    struct fl_dpi_result *res;     /* after */
  } dpi;
};
_Static_assert(sizeof(struct flow) == 128, "struct flow is sized for the memory budget");

struct frag_slot {
  uint8_t src[16], dst[16];
  uint32_t id;
  uint8_t proto, ipver, used;
  uint32_t flow;     /* pool index */
  uint32_t flow_gen; /* the flow's serial, so a reused slot is not mistaken */
  uint64_t seen_us;
};

struct closing_slot {
  uint32_t flow, gen;
};

struct fl_table {
  struct fl_table_config cfg;
  fl_emit_fn emit;
  void *emit_ctx;
  struct fl_dpi *dpi;
  struct flow *pool;
  size_t pool_bytes;
  uint32_t *buckets;
  size_t buckets_bytes; /* mapped for max_flows; the first mask + 1 are in use */
  uint32_t mask, max_mask;
  uint32_t free_head; /* released flows chained through .chain */
  uint32_t fresh;     /* pool slots never used start here: untouched pages stay unallocated */
  uint32_t idle_head, idle_tail;
  struct closing_slot *closing;
  uint32_t closing_head, closing_count;
  struct tcp_state **tcp_chunks;
  uint32_t tcp_chunks_used, tcp_chunks_max, tcp_fresh, tcp_free;
  struct frag_slot *frags;
  uint32_t serial;
  uint64_t sample_counter;
  uint64_t now_us;
  struct fl_table_stats stats;
  struct fl_flow_out out; /* scratch export record */
};

static inline struct tcp_state *tcp_at(struct fl_table *t, uint32_t i) {
  return &t->tcp_chunks[i / TCP_CHUNK][i % TCP_CHUNK];
}

/* ---- idle list (pool indices) ---- */

static void idle_push(struct fl_table *t, uint32_t i) {
  struct flow *f = &t->pool[i];
  f->idle_prev = t->idle_tail;
  f->idle_next = NIL;
  if (t->idle_tail != NIL) t->pool[t->idle_tail].idle_next = i;
  else t->idle_head = i;
  t->idle_tail = i;
}

static void idle_remove(struct fl_table *t, uint32_t i) {
  struct flow *f = &t->pool[i];
  uint32_t p = f->idle_prev, n = f->idle_next;
  if (p != NIL) t->pool[p].idle_next = n;
  else t->idle_head = n;
  if (n != NIL) t->pool[n].idle_prev = p;
  else t->idle_tail = p;
}

/* Millisecond offsets are taken between whole milliseconds so that first + offset is exactly
 * the last packet's millisecond. */
static inline uint64_t last_ms_abs(const struct flow *f) { return f->first_us / 1000u + f->last_ms; }
static inline uint32_t ms_since(const struct flow *f, uint64_t ts) {
  uint64_t a = ts / 1000u, b = f->first_us / 1000u;
  uint64_t d = a > b ? a - b : 0;
  return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

/* ---- hashing ---- */

/* 64x64->128 multiply folded to 64 bits: one multiply mixes a whole word. */
static inline uint64_t mum(uint64_t a, uint64_t b) {
  __uint128_t r = (__uint128_t)a * b;
  return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t ld64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* Addresses are 16-byte fields with IPv4 zero-padded, so IPv4 needs only their first words. */
static inline uint32_t key_hash(const uint8_t *a, const uint8_t *b, uint16_t pa, uint16_t pb, uint8_t proto, uint16_t vlan,
                                int v6) {
  uint64_t k = ((uint64_t)pa << 48) ^ ((uint64_t)pb << 32) ^ ((uint64_t)proto << 16) ^ vlan;
  uint64_t h = mum(ld64(a) ^ 0xa0761d6478bd642fULL, ld64(b) ^ 0xe7037ed1a0b428dbULL);
  if (v6) h ^= mum(ld64(a + 8) ^ 0x8ebc6af09c88c6e3ULL, ld64(b + 8) ^ 0x589965cc75374cc3ULL);
  h = mum(h ^ k ^ 0x1d8e4e27c47d124fULL, 0x9e3779b97f4a7c15ULL);
  return (uint32_t)(h ^ (h >> 32));
}

static inline uint64_t be64(const uint8_t *p) { return __builtin_bswap64(ld64(p)); }

/* Orders the two endpoints; returns 1 if the packet's source is endpoint a. Addresses compare
 * as big-endian byte strings (IPv4 padding compares equal). */
static int canonical(const struct fl_decoded *d, uint16_t sport, uint16_t dport, const uint8_t **a, const uint8_t **b,
                     uint16_t *pa, uint16_t *pb) {
  uint64_t s0 = be64(d->src), d0 = be64(d->dst);
  int c = s0 < d0 ? -1 : s0 > d0;
  if (c == 0 && d->ip_version != 4) {
    uint64_t s1 = be64(d->src + 8), d1 = be64(d->dst + 8);
    c = s1 < d1 ? -1 : s1 > d1;
  }
  if (c < 0 || (c == 0 && sport <= dport)) {
    *a = d->src, *b = d->dst, *pa = sport, *pb = dport;
    return 1;
  }
  *a = d->dst, *b = d->src, *pa = dport, *pb = sport;
  return 0;
}

static inline int same_addr(const uint8_t *x, const uint8_t *y) {
  return ((ld64(x) ^ ld64(y)) | (ld64(x + 8) ^ ld64(y + 8))) == 0;
}

/* ---- lifecycle ---- */

/* Large pools and bucket arrays are mapped directly: the pages stay unallocated until a flow
 * first uses them, and huge pages (where the system gives them on request) spare a TLB miss per
 * packet, since flows are looked up all over the pool. Small ones (tests, the fuzzer) come from
 * the allocator, where AddressSanitizer watches their bounds. */
#define MAP_MIN ((size_t)2 << 20)

static void *table_memory(size_t bytes) {
  if (bytes < MAP_MIN) return calloc(1, bytes);
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
  madvise(p, bytes, MADV_HUGEPAGE);
#endif
  return p;
}

static void table_memory_free(void *p, size_t bytes) {
  if (!p) return;
  if (bytes < MAP_MIN) free(p);
  else munmap(p, bytes);
}

struct fl_table *fl_table_new(const struct fl_table_config *cfg, fl_emit_fn emit, void *emit_ctx) {
  struct fl_table *t = calloc(1, sizeof(*t));
  if (!t) return NULL;
  t->cfg = *cfg;
  if (t->cfg.max_flows == 0) t->cfg.max_flows = 1;
  if (t->cfg.max_flows > NIL - 1) t->cfg.max_flows = NIL - 1;
  if (t->cfg.sampling == 0) t->cfg.sampling = 1;
  t->emit = emit;
  t->emit_ctx = emit_ctx;
  uint32_t nb = 1;
  while (nb < t->cfg.max_flows) nb <<= 1; /* load factor <= 1 */
  t->max_mask = nb - 1;
  t->mask = (nb < MIN_BUCKETS ? nb : MIN_BUCKETS) - 1;
  t->pool_bytes = (size_t)t->cfg.max_flows * sizeof(*t->pool);
  t->pool = table_memory(t->pool_bytes);
  t->buckets_bytes = sizeof(*t->buckets) * nb;
  t->buckets = table_memory(t->buckets_bytes);
  t->frags = calloc(FRAG_SLOTS, sizeof(*t->frags));
  t->closing = calloc(CLOSING_SLOTS, sizeof(*t->closing));
  t->tcp_chunks_max = (t->cfg.max_flows + TCP_CHUNK - 1) / TCP_CHUNK;
  t->tcp_chunks = calloc(t->tcp_chunks_max, sizeof(*t->tcp_chunks));
  if (!t->pool || !t->buckets || !t->frags || !t->closing || !t->tcp_chunks) {
    fl_table_free(t);
    return NULL;
  }
  memset(t->buckets, 0xff, sizeof(*t->buckets) * (t->mask + 1));
  t->free_head = NIL;
  t->idle_head = t->idle_tail = NIL;
  t->tcp_free = NIL;
  if (t->cfg.dpi) {
    char err[256];
    /* Classification states are ~700 bytes each and a flow holds one only until it is
     * classified: the cap bounds memory when many flows never get there (scans, floods). */
    uint32_t states = t->cfg.max_flows < 16384 ? t->cfg.max_flows : 16384;
    t->dpi = fl_dpi_new(states, err, sizeof(err));
    if (!t->dpi) {
      fl_table_free(t);
      return NULL;
    }
  }
  return t;
}

static void release_dpi(struct fl_table *t, struct flow *f) {
  if (f->dpi_state == 0 && f->dpi.ndpi) free(fl_dpi_finish(t->dpi, f->dpi.ndpi));
  else if (f->dpi_state == 1) free(f->dpi.res);
  f->dpi.res = NULL;
}

void fl_table_free(struct fl_table *t) {
  if (!t) return;
  if (t->pool) {
    for (uint32_t i = 0; i < t->fresh; i++) {
      struct flow *f = &t->pool[i];
      if (f->in_use) release_dpi(t, f);
    }
    table_memory_free(t->pool, t->pool_bytes);
  }
  if (t->tcp_chunks) {
    for (uint32_t i = 0; i < t->tcp_chunks_used; i++) free(t->tcp_chunks[i]);
    free(t->tcp_chunks);
  }
  fl_dpi_free(t->dpi);
  table_memory_free(t->buckets, t->buckets_bytes);
  free(t->frags);
  free(t->closing);
  free(t);
}

const struct fl_table_stats *fl_table_stats(const struct fl_table *t) { return &t->stats; }

/* ---- export ---- */

static void export_flow(struct fl_table *t, struct flow *f, int reason) {
  struct fl_flow_out *o = &t->out;
  struct fl_rec *r = &o->rec;
  memset(r, 0, sizeof(*r));
  for (int i = 0; i < FL_STR__COUNT; i++) o->str[i] = NULL;
  int s = f->src_is_a;
  memcpy(r->src, s ? f->a : f->b, 16);
  memcpy(r->dst, s ? f->b : f->a, 16);
  r->sport = s ? f->pa : f->pb;
  r->dport = s ? f->pb : f->pa;
  if (f->proto == 1 || f->proto == 58) {
    r->sport = 0;
    r->dport = f->first.typecode;
  }
  r->proto = f->proto;
  r->ip_version = f->ipver;
  r->vlan = f->vlan;
  r->first_us = f->first_us;
  r->last_us = last_ms_abs(f) * 1000u;
  if (r->last_us < r->first_us) r->last_us = r->first_us;
  uint64_t n = t->cfg.sampling;
  r->s2d_pkts = (uint64_t)f->pkts[0] * n;
  r->s2d_bytes = f->bytes[0] * n;
  r->d2s_pkts = (uint64_t)f->pkts[1] * n;
  r->d2s_bytes = f->bytes[1] * n;
  r->s2d_wire = (f->bytes[0] + f->l2_extra[0]) * n;
  r->d2s_wire = (f->bytes[1] + f->l2_extra[1]) * n;
  r->s2d_flags = f->flags[0];
  r->d2s_flags = f->flags[1];
  r->cli_nw_lat_us = r->srv_nw_lat_us = r->appl_lat_us = FL_ABSENT_U64;
  struct tcp_state *tc = f->tcp != NIL ? tcp_at(t, f->tcp) : NULL;
  uint32_t syn = tc ? tc->syn_us : 0;
  if (f->syn_first && !syn) syn = (uint32_t)f->first_us ? (uint32_t)f->first_us : 1;
  if (tc) {
    r->s2d_retx = tc->retx[0];
    r->d2s_retx = tc->retx[1];
    r->s2d_ooo = tc->ooo[0];
    r->d2s_ooo = tc->ooo[1];
    if (syn && tc->synack_us) r->srv_nw_lat_us = (uint32_t)(tc->synack_us - syn);
    if (tc->synack_us && tc->ack_us) r->cli_nw_lat_us = (uint32_t)(tc->ack_us - tc->synack_us);
    if (tc->req_us && tc->resp_us) r->appl_lat_us = (uint32_t)(tc->resp_us - tc->req_us);
  }
  r->sampling = (uint32_t)n;
  r->ifindex = f->ifindex;
  r->end_reason = (uint8_t)reason;
  r->tunnel = (uint8_t)f->tunnel;
  r->dns_rcode = FL_NO_RCODE;

  /* Community ID: ICMP hashes type and code of the initiator's first packet. */
  uint16_t cs = r->sport, cd = r->dport;
  if (f->proto == 1 || f->proto == 58) cs = f->first.typecode >> 8, cd = f->first.typecode & 0xff;
  fl_community_id(f->ipver, r->src, r->dst, f->proto, cs, cd, 0, o->community_id);
  o->str[FL_STR_COMMUNITY_ID] = o->community_id;

  if (t->dpi) {
    if (f->dpi_state == 0 && f->dpi.ndpi && reason != FL_END_ACTIVE) {
      /* Still classifying at the end: give up with guessing by port, as ndpiReader does at the
       * end of a capture. (An active-timeout update keeps classifying.) */
      f->dpi.res = fl_dpi_finish(t->dpi, f->dpi.ndpi);
      f->dpi_state = f->dpi.res ? 1 : 2;
    }
    if (f->dpi_state == 1) fl_dpi_fill(t->dpi, f->dpi.res, o);
  }
  t->emit(t->emit_ctx, o);
  t->stats.flows_exported++;
}

static void remove_flow(struct fl_table *t, uint32_t i) {
  struct flow *f = &t->pool[i];
  uint32_t *pp = &t->buckets[key_hash(f->a, f->b, f->pa, f->pb, f->proto, f->vlan, f->ipver != 4) & t->mask];
  while (*pp != i) pp = &t->pool[*pp].chain;
  *pp = f->chain;
  idle_remove(t, i);
  release_dpi(t, f);
  if (f->tcp != NIL) {
    tcp_at(t, f->tcp)->next_free = t->tcp_free;
    t->tcp_free = f->tcp;
    f->tcp = NIL;
  }
  f->in_use = 0;
  f->chain = t->free_head;
  t->free_head = i;
  f->serial = 0;
  t->stats.flows_active--;
}

static void end_flow(struct fl_table *t, uint32_t i, int reason) {
  export_flow(t, &t->pool[i], reason);
  remove_flow(t, i);
}

/* Exports the counters so far (active timeout) and goes on as a new record. */
static void restart_flow(struct fl_table *t, uint32_t i, uint64_t now) {
  struct flow *f = &t->pool[i];
  export_flow(t, f, FL_END_ACTIVE);
  f->pkts[0] = f->pkts[1] = 0;
  f->bytes[0] = f->bytes[1] = 0;
  f->l2_extra[0] = f->l2_extra[1] = 0;
  if (f->tcp != NIL) {
    struct tcp_state *tc = tcp_at(t, f->tcp);
    tc->retx[0] = tc->retx[1] = tc->ooo[0] = tc->ooo[1] = 0;
  }
  /* Re-base times on the last packet; the handshake timings stay (they are absolute). */
  uint64_t last = last_ms_abs(f) * 1000u;
  f->first_us = last > f->first_us ? last : f->first_us;
  f->last_ms = 0;
  f->active_ms = ms_since(f, now);
  f->flags[0] = f->flags[1] = 0;
}

static void closing_push(struct fl_table *t, uint32_t i) {
  if (t->closing_count == CLOSING_SLOTS) { /* full: the oldest lingering flow ends now */
    struct closing_slot c = t->closing[t->closing_head];
    t->closing_head = (t->closing_head + 1) % CLOSING_SLOTS;
    t->closing_count--;
    if (t->pool[c.flow].serial == c.gen) end_flow(t, c.flow, t->pool[c.flow].end_reason);
  }
  uint32_t at = (t->closing_head + t->closing_count) % CLOSING_SLOTS;
  t->closing[at].flow = i;
  t->closing[at].gen = t->pool[i].serial;
  t->closing_count++;
}

static void start_closing(struct fl_table *t, uint32_t i, int reason, uint64_t ts) {
  struct flow *f = &t->pool[i];
  f->closing = 1;
  f->end_reason = (uint8_t)reason;
  (void)ts;
  closing_push(t, i);
}

void fl_table_expire(struct fl_table *t, uint64_t now_us) {
  if (now_us > t->now_us) t->now_us = now_us;
  uint64_t now_ms = t->now_us / 1000u;
  uint64_t linger_ms = t->cfg.linger_us / 1000u, idle_ms = t->cfg.idle_timeout_us / 1000u;
  /* Lingering flows leave in the order they closed; the linger runs from their last packet. */
  while (t->closing_count > 0) {
    struct closing_slot c = t->closing[t->closing_head];
    if (t->pool[c.flow].serial == c.gen && t->pool[c.flow].closing) {
      if (last_ms_abs(&t->pool[c.flow]) + linger_ms > now_ms) break;
      end_flow(t, c.flow, t->pool[c.flow].end_reason);
    }
    t->closing_head = (t->closing_head + 1) % CLOSING_SLOTS;
    t->closing_count--;
  }
  uint32_t i;
  while ((i = t->idle_head) != NIL && last_ms_abs(&t->pool[i]) + idle_ms <= now_ms) {
    struct flow *f = &t->pool[i];
    end_flow(t, i, f->closing ? f->end_reason : FL_END_IDLE);
  }
}

void fl_table_flush(struct fl_table *t, int reason) {
  uint32_t i;
  /* Least recently seen first. */
  while ((i = t->idle_head) != NIL) end_flow(t, i, t->pool[i].closing ? t->pool[i].end_reason : reason);
  t->closing_head = t->closing_count = 0;
}

/* ---- per packet ---- */

static uint32_t frag_slot(const struct fl_decoded *d) {
  uint32_t h = key_hash(d->src, d->dst, (uint16_t)d->frag_id, (uint16_t)(d->frag_id >> 16), d->proto, 0,
                        d->ip_version != 4);
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
  s->flow_gen = t->pool[flow].serial;
  s->seen_us = t->now_us;
  s->used = 1;
}

static uint32_t frag_lookup(struct fl_table *t, const struct fl_decoded *d) {
  struct frag_slot *s = &t->frags[frag_slot(d)];
  if (!s->used || s->id != d->frag_id || s->proto != d->proto || s->ipver != d->ip_version ||
      memcmp(s->src, d->src, 16) || memcmp(s->dst, d->dst, 16) || s->seen_us + FRAG_TTL_US < t->now_us ||
      t->pool[s->flow].serial != s->flow_gen)
    return NIL;
  s->seen_us = t->now_us;
  return s->flow;
}

/* A zeroed TCP state's index, or NIL when memory runs out (the flow then goes without). */
static uint32_t tcp_state_get(struct fl_table *t) {
  uint32_t i = t->tcp_free;
  if (i != NIL) {
    t->tcp_free = tcp_at(t, i)->next_free;
  } else {
    if (t->tcp_fresh == t->tcp_chunks_used * TCP_CHUNK) {
      /* One state per flow at most, so max_flows states never need more chunks than this. */
      if (t->tcp_chunks_used == t->tcp_chunks_max) return NIL;
      struct tcp_state *c = malloc(TCP_CHUNK * sizeof(*c));
      if (!c) return NIL;
      t->tcp_chunks[t->tcp_chunks_used++] = c;
    }
    i = t->tcp_fresh++;
  }
  memset(tcp_at(t, i), 0, sizeof(struct tcp_state));
  return i;
}

/* TCP sequence analysis for one segment in direction `dir` (0 = from the initiator), the way
 * Wireshark's tcp.analysis does it so that counts can be checked against tshark:
 * - a duplicate ACK is a pure ACK repeating the previous ack number and window;
 * - a segment behind the highest sequence seen is a (fast) retransmission if the other side
 *   sent 2+ duplicate ACKs for its sequence number, out of order if it came within one
 *   handshake RTT (3 ms if unknown) of the segment that advanced the sequence and does not
 *   end where that one ended, and a retransmission otherwise. */
static void tcp_track(struct tcp_state *tc, int dir, const struct fl_decoded *d, uint32_t ts) {
  uint8_t fl = d->tcp_flags;
  if (ts == 0) ts = 1; /* 0 means "not seen" */
  /* Handshake timing: SYN, SYN-ACK, then the initiator's ACK. */
  if ((fl & (TH_SYN | TH_ACK)) == TH_SYN && dir == 0 && !tc->syn_us) tc->syn_us = ts;
  else if ((fl & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK) && dir == 1 && tc->syn_us && !tc->synack_us) tc->synack_us = ts;
  else if ((fl & (TH_SYN | TH_ACK | TH_RST)) == TH_ACK && dir == 0 && tc->synack_us && !tc->ack_us) tc->ack_us = ts;
  /* Application latency: first request payload to the first response payload after it. */
  if (d->payload_len > 0) {
    if (dir == 0 && !tc->req_us) tc->req_us = ts;
    else if (dir == 1 && tc->req_us && !tc->resp_us) tc->resp_us = ts;
  }

  struct dir_tcp *s = &tc->dir[dir];
  struct dir_tcp *r = &tc->dir[!dir];
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
  uint16_t *retx = &tc->retx[dir], *ooo = &tc->ooo[dir];
  if (d->payload_len > 0 && r->dup_acks >= 2 && r->last_ack == d->tcp_seq && (uint32_t)(ts - r->last_dup_ack_us) < 20000) {
    if (*retx < UINT16_MAX) (*retx)++; /* fast retransmission */
  } else {
    uint32_t rtt = tc->synack_us && tc->syn_us && tc->ack_us ? tc->ack_us - tc->syn_us : 0;
    uint32_t thresh = rtt ? rtt : 3000;
    if (d->payload_len > 0 && (uint32_t)(ts - s->last_seg_us) < thresh && end != s->next_seq) {
      if (*ooo < UINT16_MAX) (*ooo)++;
    } else if (*retx < UINT16_MAX) {
      (*retx)++;
    }
  }
  if ((int32_t)(end - s->next_seq) > 0) s->next_seq = end;
}

/* Doubles the buckets and rehashes every flow in the table (chain order does not matter: keys
 * are unique). */
static void grow_buckets(struct fl_table *t) {
  uint32_t nb = (t->mask + 1) * 2;
  t->mask = nb - 1;
  memset(t->buckets, 0xff, sizeof(*t->buckets) * nb);
  for (uint32_t i = 0; i < t->fresh; i++) {
    struct flow *f = &t->pool[i];
    if (!f->in_use) continue;
    uint32_t *b = &t->buckets[key_hash(f->a, f->b, f->pa, f->pb, f->proto, f->vlan, f->ipver != 4) & t->mask];
    f->chain = *b;
    *b = i;
  }
}

static uint32_t create_flow(struct fl_table *t, uint32_t hash, const struct fl_decoded *d, const uint8_t *a,
                            const uint8_t *b, uint16_t pa, uint16_t pb, int src_is_a, uint64_t ts) {
  if (t->free_head == NIL && t->fresh == t->cfg.max_flows) {
    /* Full: evict the flow idle the longest, counted, so a flood cannot wedge the table. */
    end_flow(t, t->idle_head, FL_END_EVICTED);
    t->stats.flows_evicted++;
  }
  uint32_t i;
  if (t->free_head != NIL) {
    i = t->free_head;
    t->free_head = t->pool[i].chain;
  } else {
    i = t->fresh++;
  }
  if (t->stats.flows_active >= t->mask + 1 && t->mask < t->max_mask) grow_buckets(t);
  struct flow *f = &t->pool[i];
  memset(f, 0, sizeof(*f));
  memcpy(f->a, a, 16);
  memcpy(f->b, b, 16);
  f->tcp = NIL;
  f->pa = pa;
  f->pb = pb;
  f->proto = d->proto;
  f->ipver = d->ip_version;
  f->vlan = d->vlan;
  f->src_is_a = (unsigned)src_is_a & 1u;
  f->tunnel = d->tunnel;
  f->first_us = ts;
  f->in_use = 1;
  if (d->proto == 1 || d->proto == 58) f->first.typecode = d->dport;
  f->chain = t->buckets[hash & t->mask];
  t->buckets[hash & t->mask] = i;
  if (++t->serial == 0) t->serial = 1;
  f->serial = t->serial;
  idle_push(t, i);
  if (t->dpi) {
    f->dpi.ndpi = fl_dpi_acquire(t->dpi);
    f->dpi_state = f->dpi.ndpi ? 0 : 2;
  } else {
    f->dpi_state = 2;
  }
  t->stats.flows_created++;
  t->stats.flows_active++;
  return i;
}

static void account(struct fl_table *t, uint32_t i, int dir, const struct fl_decoded *d, const struct fl_packet *p) {
  struct flow *f = &t->pool[i];
  f->pkts[dir]++;
  f->bytes[dir] += d->ip_len;
  uint64_t extra = (uint64_t)f->l2_extra[dir] + (p->wirelen > d->ip_len ? p->wirelen - d->ip_len : 0);
  f->l2_extra[dir] = extra > UINT32_MAX ? UINT32_MAX : (uint32_t)extra;
  uint32_t ms = ms_since(f, p->ts_us);
  if (ms > f->last_ms) f->last_ms = ms;
  if (!f->ifindex) f->ifindex = p->ifindex;
  if (t->idle_tail != i) {
    idle_remove(t, i);
    idle_push(t, i);
  }
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
    int from_src = same_addr(d.src, f->src_is_a ? f->a : f->b);
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
  uint32_t hash = key_hash(a, b, pa, pb, d.proto, d.vlan, d.ip_version != 4);
  uint32_t i = t->buckets[hash & t->mask];
  while (i != NIL) {
    struct flow *f = &t->pool[i];
    if (f->pa == pa && f->pb == pb && f->proto == d.proto && f->vlan == d.vlan && f->ipver == d.ip_version &&
        same_addr(f->a, a) && same_addr(f->b, b))
      break;
    i = f->chain;
  }
  int is_syn = d.proto == 6 && (d.tcp_flags & (TH_SYN | TH_ACK)) == TH_SYN;
  if (i != NIL && t->pool[i].closing && is_syn) {
    /* A new connection reusing the 5-tuple while the old one lingers. */
    end_flow(t, i, t->pool[i].end_reason);
    i = NIL;
  }
  if (i != NIL && t->cfg.active_timeout_us) {
    struct flow *f = &t->pool[i];
    uint32_t active_ms = (uint32_t)(t->cfg.active_timeout_us / 1000u);
    /* Active timeout, checked as packets arrive; counters are also exported before they could
     * wrap. */
    if (ms_since(f, p->ts_us) - f->active_ms >= active_ms || f->pkts[0] > 0xf0000000u || f->pkts[1] > 0xf0000000u)
      restart_flow(t, i, p->ts_us);
  } else if (i != NIL && (t->pool[i].pkts[0] > 0xf0000000u || t->pool[i].pkts[1] > 0xf0000000u)) {
    restart_flow(t, i, p->ts_us);
  }
  if (i == NIL) {
    /* The initiator: the SYN sender; a SYN-ACK first means we missed the SYN, so its receiver
     * initiated; otherwise whoever sent this first packet. */
    int src_is_a = pkt_from_a;
    if (d.proto == 6 && (d.tcp_flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK)) src_is_a = !pkt_from_a;
    i = create_flow(t, hash, &d, a, b, pa, pb, src_is_a, p->ts_us);
    struct flow *nf = &t->pool[i];
    if (is_syn) nf->syn_first = 1;
    if (d.proto == 6 && d.has_l4) {
      uint32_t seglen = d.payload_len + ((d.tcp_flags & TH_SYN) ? 1u : 0u) + ((d.tcp_flags & TH_FIN) ? 1u : 0u);
      if (seglen > 0 && !(d.tcp_flags & TH_RST)) {
        nf->first.seq_end = d.tcp_seq + seglen;
        nf->first_seq = 1;
        nf->first_dir = (pkt_from_a == (int)nf->src_is_a) ? 0u : 1u;
      }
    }
  }
  struct flow *f = &t->pool[i];
  int dir = (pkt_from_a == (int)f->src_is_a) ? 0 : 1;
  account(t, i, dir, &d, p);
  if (d.is_fragment && d.more_fragments) frag_remember(t, &d, i);

  if (d.proto == 6 && d.has_l4) {
    f->flags[dir] |= d.tcp_flags;
    /* The first packet of a flow needs no sequence state; a SYN's time is the flow's start. */
    if (f->tcp == NIL && (f->pkts[0] + f->pkts[1] > 1)) {
      f->tcp = tcp_state_get(t);
      struct tcp_state *tc = f->tcp != NIL ? tcp_at(t, f->tcp) : NULL;
      /* Replay what the first packet taught: a SYN's time, and where its sequence ended, so
       * that a repeat of it counts as a retransmission as tshark counts it. */
      if (tc && f->syn_first) tc->syn_us = (uint32_t)f->first_us ? (uint32_t)f->first_us : 1; /* 0: not seen */
      if (tc && f->first_seq) {
        struct dir_tcp *fd = &tc->dir[f->first_dir];
        fd->next_seq = f->first.seq_end;
        fd->last_seg_us = (uint32_t)f->first_us;
        fd->seq_valid = 1;
      }
    }
    if (f->tcp != NIL) tcp_track(tcp_at(t, f->tcp), dir, &d, (uint32_t)p->ts_us);
    if (d.tcp_flags & TH_RST) {
      if (!f->closing) start_closing(t, i, FL_END_RST, p->ts_us);
    } else if (d.tcp_flags & TH_FIN) {
      if (dir == 0) f->fin0 = 1;
      else f->fin1 = 1;
      if (f->fin0 && f->fin1 && !f->closing) start_closing(t, i, FL_END_FIN, p->ts_us);
    }
  }

  if (f->dpi_state == 0 && f->dpi.ndpi) {
    uint64_t n = (uint64_t)f->pkts[0] + f->pkts[1];
    struct fl_dpi_result *res;
    if (fl_dpi_packet(t->dpi, f->dpi.ndpi, d.l3, d.l3_caplen, p->ts_us / 1000, d.proto, n, &res)) {
      f->dpi.res = res;
      f->dpi_state = res ? 1 : 2;
    }
  }
}
