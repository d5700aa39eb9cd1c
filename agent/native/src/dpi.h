/* nDPI per worker thread: classification state per flow is borrowed from a bounded pool while
 * the flow is being classified, and what the flow needs afterwards (names, metadata, risks) is
 * copied out so the state can go back to the pool. */
#ifndef FL_DPI_H
#define FL_DPI_H
#include <stddef.h>
#include <stdint.h>
#include "flow_out.h"

struct fl_dpi;
struct ndpi_flow_struct;

/* Classification result and metadata, kept per flow after DPI ends, in one allocation that the
 * flow points at (flows that are never classified pay nothing for it). */
struct fl_dpi_result {
  uint64_t risks;
  uint16_t master, app, category;
  uint8_t dns_rcode; /* FL_NO_RCODE if none */
  uint8_t guessed;
  uint8_t has_meta;
  char meta[];       /* if has_meta, NUL-separated: host, url, user_agent, sni, dns_query, ja3c */
};

struct fl_dpi *fl_dpi_new(uint32_t max_states, char *err, size_t errlen);
void fl_dpi_free(struct fl_dpi *d);

/* A classification state, or NULL when max_states are in use (the flow goes unclassified). */
struct ndpi_flow_struct *fl_dpi_acquire(struct fl_dpi *d);

/* Feeds one packet (IP header onwards). Returns 1 when classification is complete: the state
 * has gone back to the pool and *out is the result (free() it), or NULL if it could not be
 * allocated. `packets` is the flow's packet count so far, for the give-up budget. */
int fl_dpi_packet(struct fl_dpi *d, struct ndpi_flow_struct *f, const uint8_t *l3, uint32_t len, uint64_t ts_ms,
                  uint8_t l4proto, uint64_t packets, struct fl_dpi_result **out);

/* Ends classification now (flow export): gives up with guessing, as ndpiReader does at the
 * end of a capture, returns the state to the pool and the result (free() it; NULL if it could
 * not be allocated). */
struct fl_dpi_result *fl_dpi_finish(struct fl_dpi *d, struct ndpi_flow_struct *f);

/* Points the names and metadata of an export record at a result (o->l7 is written, the rest
 * refers to r and to nDPI's tables, so r must outlive the emit call). */
void fl_dpi_fill(struct fl_dpi *d, const struct fl_dpi_result *r, struct fl_flow_out *o);

/* Name of risk bit n ("" past the last). */
const char *fl_dpi_risk_name(unsigned n);

struct fl_dpi_stats { uint64_t states_in_use, states_peak, states_exhausted; };
void fl_dpi_stats(const struct fl_dpi *d, struct fl_dpi_stats *s);

#endif
