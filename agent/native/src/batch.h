/* Finished flows leave a worker thread in batches: a worker fills one, hands it to JS through a
 * thread-safe function and starts the next. JS owns a handed-over batch until it is collected. */
#ifndef FL_BATCH_H
#define FL_BATCH_H
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdint.h>
#include "flow_out.h"

struct fl_batch {
  uint32_t count, cap;
  struct fl_flow_out recs[];
};

/* A batch for up to `cap` records, or NULL. */
struct fl_batch *fl_batch_new(uint32_t cap);

/* Hands a batch to JS as an ArrayBuffer over its records; JS owns (and frees) it from then. */
napi_value fl_batch_to_arraybuffer(napi_env env, struct fl_batch *b);

#endif
