#include "batch.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dpi.h"
#include "ndjson.h"

/* Batches kept for reuse; more than this in flight at once are freed on return. The queue to
 * JS holds a few, plus the one being filled. */
#define POOL_KEEP 8
/* Bytes per record a batch is sized for: ~220 without metadata, more with DPI; a batch is also
 * sent when a worst-case record might not fit. */
#define BYTES_PER_REC 320

struct fl_batch_pool {
  pthread_mutex_t lock;
  struct fl_batch *free;
  uint32_t nfree;
  uint32_t max_count;
  size_t cap;
};

struct fl_batch_pool *fl_batch_pool_new(uint32_t max_count) {
  struct fl_batch_pool *p = calloc(1, sizeof(*p));
  if (!p) return NULL;
  pthread_mutex_init(&p->lock, NULL);
  p->max_count = max_count ? max_count : 1;
  size_t cap = (size_t)p->max_count * BYTES_PER_REC;
  if (cap < 2 * FL_REC_MAX) cap = 2 * FL_REC_MAX;
  p->cap = cap;
  return p;
}

void fl_batch_pool_free(struct fl_batch_pool *p) {
  if (!p) return;
  while (p->free) {
    struct fl_batch *n = p->free->next;
    free(p->free);
    p->free = n;
  }
  pthread_mutex_destroy(&p->lock);
  free(p);
}

struct fl_batch *fl_batch_get(struct fl_batch_pool *p) {
  pthread_mutex_lock(&p->lock);
  struct fl_batch *b = p->free;
  if (b) {
    p->free = b->next;
    p->nfree--;
  }
  pthread_mutex_unlock(&p->lock);
  if (!b) {
    b = malloc(sizeof(*b) + p->cap);
    if (!b) return NULL;
    b->cap = p->cap;
    b->max_count = p->max_count;
  }
  b->next = NULL;
  b->count = 0;
  b->used = 0;
  return b;
}

void fl_batch_put(struct fl_batch_pool *p, struct fl_batch *b) {
  if (!b) return;
  pthread_mutex_lock(&p->lock);
  if (p->nfree < POOL_KEEP) {
    b->next = p->free;
    p->free = b;
    p->nfree++;
    b = NULL;
  }
  pthread_mutex_unlock(&p->lock);
  free(b);
}

int fl_batch_add(struct fl_batch *b, const struct fl_flow_out *o) {
  b->used += fl_rec_write((uint8_t *)b->data + b->used, o);
  b->count++;
  return b->count >= b->max_count || b->cap - b->used < FL_REC_MAX;
}

/* What a JS buffer's finalizer frees: the batch, unless it was detached and taken back. */
struct ticket {
  struct fl_batch *batch;
  int64_t accounted;
};

static void free_ticket(napi_env env, void *data, void *hint) {
  (void)data;
  struct ticket *t = hint;
  int64_t ignored;
  /* Tell V8 the memory is gone, as we told it when the buffer was made. */
  if (env && t->accounted) napi_adjust_external_memory(env, -t->accounted, &ignored);
  free(t->batch);
  free(t);
}

void fl_batch_call_js(napi_env env, napi_value fn, struct fl_batch_pool *p, struct fl_batch *b) {
  napi_value global, args[2], result, ab;
  napi_get_global(env, &global);
  napi_create_uint32(env, b->count, &args[1]);
  struct ticket *t = malloc(sizeof(*t));
  int64_t ignored;
  if (t) {
    t->batch = b;
    t->accounted = 0;
  }
  if (t && napi_create_external_arraybuffer(env, b->data, b->used, free_ticket, t, &ab) == napi_ok) {
    args[0] = ab;
    napi_call_function(env, global, fn, 2, args, &result);
    bool detached = true;
    if (napi_is_detached_arraybuffer(env, ab, &detached) == napi_ok && !detached &&
        napi_detach_arraybuffer(env, ab) == napi_ok) {
      t->batch = NULL; /* ours again; the ticket alone waits for the collector */
      fl_batch_put(p, b);
    } else {
      /* External memory V8 does not know about would never trigger a collection. */
      t->accounted = (int64_t)b->used;
      napi_adjust_external_memory(env, t->accounted, &ignored);
    }
    return;
  }
  free(t);
  /* Runtimes that forbid external buffers: a copy. */
  void *dst;
  if (napi_create_arraybuffer(env, b->used, &dst, &ab) == napi_ok) {
    memcpy(dst, b->data, b->used);
    args[0] = ab;
    fl_batch_put(p, b);
    napi_call_function(env, global, fn, 2, args, &result);
  } else {
    fl_batch_put(p, b);
  }
}

static const char *risk_names[64];
static pthread_once_t risk_names_once = PTHREAD_ONCE_INIT;
static void init_risk_names(void) {
  for (unsigned i = 0; i < 64; i++) risk_names[i] = fl_dpi_risk_name(i);
}

const char *const *fl_batch_risk_names(void) {
  pthread_once(&risk_names_once, init_risk_names);
  return risk_names;
}

size_t fl_batch_ndjson(const uint8_t *data, uint32_t count, char **buf, size_t *cap) {
  const char *const *names = fl_batch_risk_names();
  size_t max = fl_ndjson_max(names);
  size_t len = 0, off = 0;
  for (uint32_t i = 0; i < count; i++) {
    if (*cap - len < max) {
      size_t n = (*cap ? *cap * 2 : (size_t)1 << 20) + max;
      char *grown = realloc(*buf, n);
      if (!grown) return SIZE_MAX;
      *buf = grown;
      *cap = n;
    }
    const struct fl_rec *r = (const struct fl_rec *)(const void *)(data + off);
    len += fl_ndjson_record(r, names, *buf + len);
    off += r->size;
  }
  return len;
}

/* Writes all of buf to fd, waiting while a non-blocking fd (a pipe Node has set so) is full;
 * returns 0 or an errno. */
static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t w = write(fd, buf, len);
    if (w >= 0) {
      buf += w;
      len -= (size_t)w;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      struct pollfd p = {.fd = fd, .events = POLLOUT};
      if (poll(&p, 1, -1) < 0 && errno != EINTR) return errno;
    } else if (errno != EINTR) {
      return errno;
    }
  }
  return 0;
}

int fl_batch_call_js_ndjson(napi_env env, napi_value fn, struct fl_batch_pool *p, struct fl_batch *b, int fd,
                            char **scratch, size_t *scratch_cap) {
  size_t len = fl_batch_ndjson(fl_batch_bytes(b), b->count, scratch, scratch_cap);
  uint32_t count = b->count;
  fl_batch_put(p, b);
  if (len == SIZE_MAX) return ENOMEM;
  napi_value global, args[2], result;
  napi_get_global(env, &global);
  if (fd >= 0) {
    int e = write_all(fd, *scratch, len);
    if (e) return e;
    napi_get_null(env, &args[0]);
  } else if (napi_create_buffer_copy(env, len, *scratch, NULL, &args[0]) != napi_ok) {
    return ENOMEM;
  }
  napi_create_uint32(env, count, &args[1]);
  napi_call_function(env, global, fn, 2, args, &result);
  return 0;
}
