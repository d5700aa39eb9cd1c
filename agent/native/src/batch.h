/* Finished flows leave a worker thread in batches of serialized records (flow_out.h): a worker
 * fills one, hands it to the JS thread through a thread-safe function and starts the next.
 * Batches come from a pool and go back to it once the JS thread is done with them, so a long
 * run reuses the same few buffers instead of faulting in fresh memory for every batch. */
#ifndef FL_BATCH_H
#define FL_BATCH_H
#define NAPI_VERSION 8
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include "flow_out.h"

struct fl_batch_pool;

struct fl_batch {
  struct fl_batch *next; /* in the pool's free list */
  uint32_t count, max_count;
  size_t used, cap;      /* bytes of data */
  uint64_t data[];       /* records, 8-byte aligned */
};

/* Batches of up to `max_count` records. */
struct fl_batch_pool *fl_batch_pool_new(uint32_t max_count);
/* Frees the pool and the batches in it (batches still out are freed by whoever holds them). */
void fl_batch_pool_free(struct fl_batch_pool *p);

/* An empty batch, or NULL when out of memory. Thread-safe. */
struct fl_batch *fl_batch_get(struct fl_batch_pool *p);
/* Returns a batch to the pool. Thread-safe. */
void fl_batch_put(struct fl_batch_pool *p, struct fl_batch *b);

/* Appends a record; returns 1 when the batch is now full (send it). */
int fl_batch_add(struct fl_batch *b, const struct fl_flow_out *o);

static inline const uint8_t *fl_batch_bytes(const struct fl_batch *b) { return (const uint8_t *)b->data; }

/* Calls onBatch(buffer, count) with an ArrayBuffer over the batch's records, valid during the
 * call only: it is detached afterwards and the batch goes back to the pool (where a runtime
 * cannot detach it, the buffer keeps the batch and frees it when collected). */
void fl_batch_call_js(napi_env env, napi_value fn, struct fl_batch_pool *p, struct fl_batch *b);

/* The batch as NDJSON text, formatted into `scratch` (grown as needed, freed by the caller):
 * with fd < 0, calls onText(buffer, count) with the text in a Buffer JS may keep; otherwise
 * writes it to fd and calls onText(null, count). The batch goes back to the pool. Returns 0, or
 * an errno (ENOMEM, or what writing failed with: JS was not called then). */
int fl_batch_call_js_ndjson(napi_env env, napi_value fn, struct fl_batch_pool *p, struct fl_batch *b, int fd,
                            char **scratch, size_t *scratch_cap);

/* Formats `count` serialized records at `data` (checked already) as NDJSON into *buf (grown as
 * needed); returns the length, or SIZE_MAX when out of memory. */
size_t fl_batch_ndjson(const uint8_t *data, uint32_t count, char **buf, size_t *cap);

/* The risk names the NDJSON formatter uses (nDPI's, indexed by risk bit). */
const char *const *fl_batch_risk_names(void);

#endif
