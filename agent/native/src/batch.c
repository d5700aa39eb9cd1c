#include "batch.h"

#include <stdlib.h>
#include <string.h>

struct fl_batch *fl_batch_new(uint32_t cap) {
  struct fl_batch *b = malloc(sizeof(*b) + (size_t)cap * sizeof(struct fl_flow_out));
  if (b) {
    b->count = 0;
    b->cap = cap;
  }
  return b;
}

static void free_batch(napi_env env, void *data, void *hint) {
  (void)data;
  struct fl_batch *b = hint;
  int64_t ignored;
  /* Tell V8 the memory is gone, as we told it when the buffer was made. */
  if (env) napi_adjust_external_memory(env, -(int64_t)((size_t)b->count * sizeof(struct fl_flow_out)), &ignored);
  free(b);
}

napi_value fl_batch_to_arraybuffer(napi_env env, struct fl_batch *b) {
  size_t bytes = (size_t)b->count * sizeof(struct fl_flow_out);
  napi_value ab;
  int64_t ignored;
  /* The batch memory becomes the ArrayBuffer's: no copy; the hint is the allocation, freed when
   * JS collects the buffer. External memory V8 does not know about would never trigger a
   * collection, so it is declared. */
  if (napi_create_external_arraybuffer(env, b->recs, bytes, free_batch, b, &ab) == napi_ok) {
    napi_adjust_external_memory(env, (int64_t)bytes, &ignored);
  } else { /* runtimes that forbid external buffers: copy */
    void *dst;
    napi_create_arraybuffer(env, bytes, &dst, &ab);
    memcpy(dst, b->recs, bytes);
    free(b);
  }
  return ab;
}
