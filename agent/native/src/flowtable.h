/* Bidirectional flow table: fixed-capacity pool and open hash, idle/active timeouts, TCP
 * FIN/RST ends with a linger, eviction when full. One table per worker thread; nothing here
 * allocates after fl_table_new. */
#ifndef FL_FLOWTABLE_H
#define FL_FLOWTABLE_H
#include <stdint.h>
#include "decode.h"
#include "flow_out.h"

struct fl_table;
struct fl_dpi;

struct fl_table_config {
  uint32_t max_flows;
  uint64_t idle_timeout_us;
  uint64_t active_timeout_us;
  uint64_t linger_us;       /* after FIN from both sides or RST, wait for the last ACKs */
  uint32_t sampling;        /* 1-in-N packets (1 = all) */
  int dpi;                  /* classify with nDPI */
  uint32_t dpi_max_packets_tcp, dpi_max_packets_udp; /* ndpiReader gives up after these */
};

/* Called for every finished (or active-timeout updated) flow; the record is only valid during
 * the call. */
typedef void (*fl_emit_fn)(void *ctx, const struct fl_flow_out *rec);

struct fl_table_stats {
  uint64_t packets, bytes, ip_packets;
  uint64_t flows_created, flows_exported, flows_evicted, flows_active;
  uint64_t sampled_out;
  uint64_t fragments_unmatched;
  uint64_t decode_errors[FL_DEC__COUNT];
};

struct fl_table *fl_table_new(const struct fl_table_config *cfg, fl_emit_fn emit, void *emit_ctx);
void fl_table_free(struct fl_table *t);

/* Accounts one packet (decoding it first). `now_us` is the packet timestamp. */
void fl_table_packet(struct fl_table *t, const struct fl_packet *p);
/* Expires flows idle or active at `now_us` (call at least once a second of packet time). */
void fl_table_expire(struct fl_table *t, uint64_t now_us);
/* Emits every remaining flow with `reason` (end of file: FL_END_EOF) and empties the table. */
void fl_table_flush(struct fl_table *t, int reason);
const struct fl_table_stats *fl_table_stats(const struct fl_table *t);

#endif
