#include "dpi.h"

#include <ndpi_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ndpiReader's give-up budgets (example/reader_util.c in nDPI 4.2): past these many packets a
 * flow is declared done with whatever nDPI has guessed. */
#define MAX_TCP_DISSECTED_PKTS 80
#define MAX_UDP_DISSECTED_PKTS 24

struct fl_dpi {
  struct ndpi_detection_module_struct *ndpi;
  uint32_t max_states;
  uint32_t free_count;
  struct ndpi_flow_struct **free_list; /* recycled states, up to max_states */
  uint64_t in_use, peak, exhausted;
};

struct fl_dpi *fl_dpi_new(uint32_t max_states, char *err, size_t errlen) {
  struct fl_dpi *d = calloc(1, sizeof(*d));
  if (!d) {
    snprintf(err, errlen, "nDPI: out of memory");
    return NULL;
  }
  d->ndpi = ndpi_init_detection_module(ndpi_no_prefs);
  if (!d->ndpi) {
    snprintf(err, errlen, "nDPI: ndpi_init_detection_module failed");
    free(d);
    return NULL;
  }
  NDPI_PROTOCOL_BITMASK all;
  NDPI_BITMASK_SET_ALL(all);
  ndpi_set_protocol_detection_bitmask2(d->ndpi, &all);
  ndpi_finalize_initialization(d->ndpi);
  d->max_states = max_states;
  d->free_list = calloc(max_states > 4096 ? 4096 : max_states, sizeof(*d->free_list));
  if (!d->free_list) {
    ndpi_exit_detection_module(d->ndpi);
    free(d);
    snprintf(err, errlen, "nDPI: out of memory");
    return NULL;
  }
  return d;
}

void fl_dpi_free(struct fl_dpi *d) {
  if (!d) return;
  for (uint32_t i = 0; i < d->free_count; i++) ndpi_free(d->free_list[i]);
  free(d->free_list);
  ndpi_exit_detection_module(d->ndpi);
  free(d);
}

struct ndpi_flow_struct *fl_dpi_acquire(struct fl_dpi *d) {
  if (d->in_use >= d->max_states) {
    d->exhausted++;
    return NULL;
  }
  struct ndpi_flow_struct *f;
  if (d->free_count > 0) {
    f = d->free_list[--d->free_count];
  } else {
    f = ndpi_flow_malloc(SIZEOF_FLOW_STRUCT);
    if (!f) {
      d->exhausted++;
      return NULL;
    }
  }
  memset(f, 0, SIZEOF_FLOW_STRUCT);
  if (++d->in_use > d->peak) d->peak = d->in_use;
  return f;
}

static void release(struct fl_dpi *d, struct ndpi_flow_struct *f) {
  ndpi_free_flow_data(f); /* strings nDPI allocated inside the state (URL, UA, TLS names) */
  d->in_use--;
  uint32_t cap = d->max_states > 4096 ? 4096 : d->max_states;
  if (d->free_count < cap) d->free_list[d->free_count++] = f;
  else ndpi_free(f);
}

static size_t put(char *dst, const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (dst) {
    if (n) memcpy(dst, s, n);
    dst[n] = '\0';
  }
  return n + 1;
}

static int is_proto(const ndpi_protocol *p, uint16_t id) { return p->master_protocol == id || p->app_protocol == id; }

/* Copies what the export needs out of the nDPI state into one allocation. */
static struct fl_dpi_result *collect(struct ndpi_flow_struct *f, ndpi_protocol proto, uint8_t guessed) {
  const char *name = f->host_server_name[0] ? f->host_server_name : NULL;
  const char *host = NULL, *sni = NULL, *dnsq = NULL;
  uint8_t rcode = FL_NO_RCODE;
  if (is_proto(&proto, NDPI_PROTOCOL_DNS) || is_proto(&proto, NDPI_PROTOCOL_MDNS) || is_proto(&proto, NDPI_PROTOCOL_LLMNR)) {
    dnsq = name;
    if (!f->protos.dns.is_query || f->protos.dns.num_answers > 0 || f->protos.dns.reply_code) rcode = f->protos.dns.reply_code;
  } else if (is_proto(&proto, NDPI_PROTOCOL_TLS) || is_proto(&proto, NDPI_PROTOCOL_QUIC) || is_proto(&proto, NDPI_PROTOCOL_DTLS)) {
    sni = name;
  } else {
    host = name;
  }
  const char *url = f->http.url, *ua = f->http.user_agent;
  const char *ja3 = f->protos.tls_quic.ja3_client[0] &&
                            (is_proto(&proto, NDPI_PROTOCOL_TLS) || is_proto(&proto, NDPI_PROTOCOL_QUIC) || is_proto(&proto, NDPI_PROTOCOL_DTLS))
                        ? f->protos.tls_quic.ja3_client
                        : NULL;
  int has_meta = host || url || ua || sni || dnsq || ja3;
  size_t n = has_meta ? put(NULL, host) + put(NULL, url) + put(NULL, ua) + put(NULL, sni) + put(NULL, dnsq) + put(NULL, ja3) : 0;
  struct fl_dpi_result *r = malloc(sizeof(*r) + n);
  if (!r) return NULL;
  r->master = proto.master_protocol;
  r->app = proto.app_protocol;
  r->category = (uint16_t)proto.category;
  r->guessed = guessed;
  r->risks = f->risk;
  r->dns_rcode = rcode;
  r->has_meta = (uint8_t)has_meta;
  if (has_meta) {
    char *w = r->meta;
    w += put(w, host);
    w += put(w, url);
    w += put(w, ua);
    w += put(w, sni);
    w += put(w, dnsq);
    put(w, ja3);
  }
  return r;
}

int fl_dpi_packet(struct fl_dpi *d, struct ndpi_flow_struct *f, const uint8_t *l3, uint32_t len, uint64_t ts_ms,
                  uint8_t l4proto, uint64_t packets, struct fl_dpi_result **out) {
  if (len > 0xffff) len = 0xffff;
  /* As ndpiReader: `packets` counts this packet; past the budget, classify once more and stop. */
  int enough = (l4proto == 17 && packets > MAX_UDP_DISSECTED_PKTS) || (l4proto == 6 && packets > MAX_TCP_DISSECTED_PKTS);
  ndpi_protocol p = ndpi_detection_process_packet(d->ndpi, f, l3, (unsigned short)len, ts_ms);
  if (!enough && p.app_protocol == NDPI_PROTOCOL_UNKNOWN) return 0;
  if (!enough && ndpi_extra_dissection_possible(d->ndpi, f)) return 0; /* e.g. waiting for the certificate */
  uint8_t guessed = 0;
  if (p.app_protocol == NDPI_PROTOCOL_UNKNOWN) p = ndpi_detection_giveup(d->ndpi, f, 1, &guessed);
  *out = collect(f, p, guessed);
  release(d, f);
  return 1;
}

struct fl_dpi_result *fl_dpi_finish(struct fl_dpi *d, struct ndpi_flow_struct *f) {
  uint8_t guessed = 0;
  ndpi_protocol p = ndpi_detection_giveup(d->ndpi, f, 1, &guessed);
  struct fl_dpi_result *r = collect(f, p, guessed);
  release(d, f);
  return r;
}

void fl_dpi_fill(struct fl_dpi *d, const struct fl_dpi_result *r, struct fl_flow_out *o) {
  ndpi_protocol p = {0};
  p.master_protocol = r->master;
  p.app_protocol = r->app;
  p.category = (ndpi_protocol_category_t)r->category;
  ndpi_protocol2name(d->ndpi, p, o->l7, sizeof(o->l7));
  o->str[FL_STR_L7] = o->l7;
  o->str[FL_STR_CATEGORY] = ndpi_category_get_name(d->ndpi, p.category);
  o->rec.risks = r->risks;
  o->rec.dns_rcode = r->dns_rcode;
  o->rec.dpi_done = 1;
  if (!r->has_meta) return;
  static const int fields[] = {FL_STR_HOST, FL_STR_URL, FL_STR_USER_AGENT, FL_STR_SNI, FL_STR_DNS_QUERY, FL_STR_JA3C};
  const char *m = r->meta;
  for (int i = 0; i < 6; i++) {
    o->str[fields[i]] = m;
    m += strlen(m) + 1;
  }
}

const char *fl_dpi_risk_name(unsigned n) {
  if (n == 0 || n >= NDPI_MAX_RISK) return "";
  return ndpi_risk2str((ndpi_risk_enum)n);
}

void fl_dpi_stats(const struct fl_dpi *d, struct fl_dpi_stats *s) {
  s->states_in_use = d->in_use;
  s->states_peak = d->peak;
  s->states_exhausted = d->exhausted;
}
