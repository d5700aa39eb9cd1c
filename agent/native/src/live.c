/* Live capture: one worker thread per (interface, fanout member), each with its own AF_PACKET
 * ring, flow table and nDPI module, sharing one thread-safe function to JS. */
#define NAPI_VERSION 8
#include <node_api.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "flowtable.h"
#include "live.h"
#include "source_afpacket.h"

#define MAX_WORKERS 64

struct live;

struct worker {
  struct live *live;
  pthread_t thread;
  struct fl_afp *src;
  struct fl_table *table;
  struct fl_batch *cur;
  char ifname[64];
  uint64_t last_flush_us;
  /* Published once a second (and at the end) for stats() on the JS thread. */
  pthread_mutex_t lock;
  struct fl_table_stats stats;
  char err[256];
  int failed;
};

struct live {
  napi_threadsafe_function tsfn;
  napi_ref on_batch, on_done, self;
  struct fl_table_config tcfg;
  uint32_t batch_size;
  struct fl_batch_pool *pool; /* shared by the workers */
  int nworkers;
  int running;
  volatile int stop;
  struct worker workers[MAX_WORKERS];
};

struct live_msg {
  int done;
  struct fl_batch *batch;
  struct live *live;
};

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void send_batch(struct worker *w) {
  if (!w->cur || w->cur->count == 0) return;
  struct live_msg *m = malloc(sizeof(*m));
  if (!m) return;
  m->done = 0;
  m->batch = w->cur;
  m->live = w->live;
  w->cur = NULL;
  if (napi_call_threadsafe_function(w->live->tsfn, m, napi_tsfn_blocking) != napi_ok) {
    fl_batch_put(w->live->pool, m->batch);
    free(m);
  }
}

static void on_flow(void *ctx, const struct fl_flow_out *rec) {
  struct worker *w = ctx;
  if (!w->cur) w->cur = fl_batch_get(w->live->pool);
  if (!w->cur) return;
  if (fl_batch_add(w->cur, rec)) send_batch(w);
}

static void on_packet(void *ctx, const struct fl_packet *p) { fl_table_packet(((struct worker *)ctx)->table, p); }

static void publish(struct worker *w) {
  pthread_mutex_lock(&w->lock);
  w->stats = *fl_table_stats(w->table);
  pthread_mutex_unlock(&w->lock);
}

static void *worker_main(void *arg) {
  struct worker *w = arg;
  struct live *l = w->live;
  char err[256];
  while (!l->stop) {
    /* A short poll: expiry and partial batches must move even when the link is quiet. */
    if (fl_afp_poll(w->src, 100, on_packet, w, err, sizeof(err)) < 0) {
      pthread_mutex_lock(&w->lock);
      snprintf(w->err, sizeof(w->err), "%s", err);
      w->failed = 1;
      pthread_mutex_unlock(&w->lock);
      break;
    }
    uint64_t now = now_us();
    if (now - w->last_flush_us >= 1000000u) {
      fl_table_expire(w->table, now);
      send_batch(w);
      publish(w);
      w->last_flush_us = now;
    }
  }
  fl_table_flush(w->table, FL_END_EOF);
  send_batch(w);
  publish(w);
  return NULL;
}

static void live_free(napi_env env, struct live *l) {
  for (int i = 0; i < l->nworkers; i++) {
    struct worker *w = &l->workers[i];
    fl_table_free(w->table);
    fl_afp_close(w->src);
    free(w->cur);
    pthread_mutex_destroy(&w->lock);
  }
  if (l->on_batch) napi_delete_reference(env, l->on_batch);
  if (l->on_done) napi_delete_reference(env, l->on_done);
  fl_batch_pool_free(l->pool);
  free(l);
}

static napi_value stats_object(napi_env env, struct live *l) {
  napi_value arr, o, v, errs;
  napi_create_array(env, &arr);
  for (int i = 0; i < l->nworkers; i++) {
    struct worker *w = &l->workers[i];
    struct fl_table_stats s;
    struct fl_afp_stats k = {0};
    pthread_mutex_lock(&w->lock);
    s = w->stats;
    pthread_mutex_unlock(&w->lock);
    if (w->src) fl_afp_stats(w->src, &k);
    napi_create_object(env, &o);
    napi_create_string_utf8(env, w->ifname, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, o, "interface", v);
#define SETN(name, val)                         \
  napi_create_double(env, (double)(val), &v); \
  napi_set_named_property(env, o, name, v)
    SETN("worker", i);
    SETN("packets", s.packets);
    SETN("bytes", s.bytes);
    SETN("ipPackets", s.ip_packets);
    SETN("flowsCreated", s.flows_created);
    SETN("flowsExported", s.flows_exported);
    SETN("flowsEvicted", s.flows_evicted);
    SETN("flowsActive", s.flows_active);
    SETN("kernelPackets", k.packets);
    SETN("kernelDrops", k.drops);
    SETN("kernelFreezes", k.freeze_count);
#undef SETN
    napi_create_object(env, &errs);
    for (int r = 1; r < FL_DEC__COUNT; r++) {
      if (!s.decode_errors[r]) continue;
      napi_create_double(env, (double)s.decode_errors[r], &v);
      napi_set_named_property(env, errs, fl_decode_result_names[r], v);
    }
    napi_set_named_property(env, o, "decodeErrors", errs);
    if (w->failed) {
      napi_create_string_utf8(env, w->err, NAPI_AUTO_LENGTH, &v);
      napi_set_named_property(env, o, "error", v);
    }
    napi_set_element(env, arr, (uint32_t)i, o);
  }
  return arr;
}

static void *joiner(void *arg) {
  struct live *l = arg;
  for (int i = 0; i < l->nworkers; i++) pthread_join(l->workers[i].thread, NULL);
  struct live_msg *m = malloc(sizeof(*m));
  if (m) {
    m->done = 1;
    m->batch = NULL;
    m->live = l;
    napi_call_threadsafe_function(l->tsfn, m, napi_tsfn_blocking);
  }
  napi_release_threadsafe_function(l->tsfn, napi_tsfn_release);
  return NULL;
}

static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)js_cb;
  (void)context;
  struct live_msg *m = data;
  if (!m) return;
  struct live *l = m->live;
  if (!env) {
    free(m->batch);
    free(m);
    return;
  }
  napi_value global, fn, args[2], result;
  napi_get_global(env, &global);
  if (!m->done) {
    napi_get_reference_value(env, l->on_batch, &fn);
    fl_batch_call_js(env, fn, l->pool, m->batch);
  } else {
    napi_get_null(env, &args[0]);
    for (int i = 0; i < l->nworkers; i++) {
      if (l->workers[i].failed) {
        napi_create_string_utf8(env, l->workers[i].err, NAPI_AUTO_LENGTH, &args[0]);
        break;
      }
    }
    args[1] = stats_object(env, l);
    napi_get_reference_value(env, l->on_done, &fn);
    l->running = 0;
    napi_call_function(env, global, fn, 2, args, &result);
    if (l->self) {
      /* The handle may outlive us: it now points at nothing. */
      napi_value self;
      if (napi_get_reference_value(env, l->self, &self) == napi_ok && self) {
        void *old;
        napi_remove_wrap(env, self, &old);
      }
      napi_delete_reference(env, l->self);
    }
    live_free(env, l);
  }
  free(m);
}

static napi_value handle_stop(napi_env env, napi_callback_info info) {
  napi_value self;
  struct live *l = NULL;
  napi_get_cb_info(env, info, NULL, NULL, &self, NULL);
  if (napi_unwrap(env, self, (void **)&l) == napi_ok && l) l->stop = 1;
  napi_value undef;
  napi_get_undefined(env, &undef);
  return undef;
}

static napi_value handle_stats(napi_env env, napi_callback_info info) {
  napi_value self;
  struct live *l = NULL;
  napi_get_cb_info(env, info, NULL, NULL, &self, NULL);
  if (napi_unwrap(env, self, (void **)&l) != napi_ok || !l) {
    napi_value arr;
    napi_create_array(env, &arr);
    return arr;
  }
  return stats_object(env, l);
}

static int get_u32(napi_env env, napi_value obj, const char *name, uint32_t def, uint32_t *out) {
  napi_value v;
  bool has = false;
  *out = def;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has) return 0;
  napi_get_named_property(env, obj, name, &v);
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_undefined) return 0;
  double d;
  if (t != napi_number || napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0 && d <= 4294967295.0)) return -1;
  *out = (uint32_t)d;
  return 0;
}

static int get_string(napi_env env, napi_value obj, const char *name, char *buf, size_t cap) {
  napi_value v;
  bool has = false;
  buf[0] = '\0';
  if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has) return 0;
  napi_get_named_property(env, obj, name, &v);
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_undefined || t == napi_null) return 0;
  if (t != napi_string) return -1;
  size_t len;
  napi_get_value_string_utf8(env, v, buf, cap, &len);
  return len + 1 >= cap ? -1 : 0;
}

/* startLive({ interfaces: string[], workers, bpf, promisc, blockSize, blockCount, blockTimeoutMs,
 *             snaplen, idleTimeoutMs, activeTimeoutMs, lingerMs, maxFlows, dpi, sampling,
 *             batchSize }, onBatch, onDone) -> { stop(), stats() } */
napi_value fl_live_start(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) {
    napi_throw_error(env, "ERR_INVALID_ARG", "startLive(options, onBatch, onDone)");
    return NULL;
  }
  napi_value opts = argv[0];
  struct live *l = calloc(1, sizeof(*l));
  if (!l) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  uint32_t idle_ms, active_ms, linger_ms, sampling, workers, block_size, block_count, block_tov, snaplen, promisc = 0;
  char bpf[4096];
  int bad = get_u32(env, opts, "idleTimeoutMs", 30000, &idle_ms) | get_u32(env, opts, "activeTimeoutMs", 300000, &active_ms) |
            get_u32(env, opts, "lingerMs", 2000, &linger_ms) | get_u32(env, opts, "maxFlows", 1000000, &l->tcfg.max_flows) |
            get_u32(env, opts, "sampling", 1, &sampling) | get_u32(env, opts, "batchSize", 256, &l->batch_size) |
            get_u32(env, opts, "workers", 1, &workers) | get_u32(env, opts, "blockSize", 0, &block_size) |
            get_u32(env, opts, "blockCount", 0, &block_count) | get_u32(env, opts, "blockTimeoutMs", 0, &block_tov) |
            get_u32(env, opts, "snaplen", 0, &snaplen) | get_string(env, opts, "bpf", bpf, sizeof(bpf));
  bool b = false, has = false;
  napi_value v;
  napi_has_named_property(env, opts, "promisc", &has);
  if (has && napi_get_named_property(env, opts, "promisc", &v) == napi_ok && napi_get_value_bool(env, v, &b) == napi_ok) promisc = b;
  bool dpi = true;
  napi_has_named_property(env, opts, "dpi", &has);
  if (has && napi_get_named_property(env, opts, "dpi", &v) == napi_ok) napi_get_value_bool(env, v, &dpi);
  napi_value ifs;
  bool is_array = false;
  uint32_t nifs = 0;
  if (napi_get_named_property(env, opts, "interfaces", &ifs) != napi_ok || napi_is_array(env, ifs, &is_array) != napi_ok || !is_array) bad = 1;
  else napi_get_array_length(env, ifs, &nifs);
  if (bad || nifs == 0 || workers == 0 || l->batch_size == 0 || l->tcfg.max_flows == 0 || sampling == 0 ||
      nifs * workers > MAX_WORKERS) {
    free(l);
    napi_throw_error(env, "ERR_INVALID_ARG",
                     "startLive: interfaces must be a non-empty array of names, workers, batchSize, maxFlows and sampling >= 1, at most 64 workers in all");
    return NULL;
  }
  l->tcfg.idle_timeout_us = (uint64_t)idle_ms * 1000;
  l->tcfg.active_timeout_us = (uint64_t)active_ms * 1000;
  l->tcfg.linger_us = (uint64_t)linger_ms * 1000;
  l->tcfg.sampling = sampling;
  l->tcfg.dpi = dpi;
  l->pool = fl_batch_pool_new(l->batch_size);
  if (!l->pool) {
    free(l);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  /* Split the table bound across workers: maxFlows is per process. */
  uint32_t per_worker = l->tcfg.max_flows / (nifs * workers);
  if (per_worker == 0) per_worker = 1;

  char err[512] = "";
  for (uint32_t i = 0; i < nifs && !err[0]; i++) {
    char ifname[64];
    napi_value e;
    napi_get_element(env, ifs, i, &e);
    size_t len = 0;
    if (napi_get_value_string_utf8(env, e, ifname, sizeof(ifname), &len) != napi_ok || len == 0 || len >= sizeof(ifname) - 1) {
      snprintf(err, sizeof(err), "startLive: interface %u is not a valid name", i);
      break;
    }
    /* Fanout ids are per network namespace: derive one per interface from pid and position. */
    int group = workers > 1 ? (int)(((uint32_t)getpid() * 31u + i) % 65535u) + 1 : 0;
    for (uint32_t k = 0; k < workers; k++) {
      struct worker *w = &l->workers[l->nworkers];
      pthread_mutex_init(&w->lock, NULL);
      w->live = l;
      snprintf(w->ifname, sizeof(w->ifname), "%s", ifname);
      struct fl_afp_config c = {
          .ifname = ifname,
          .block_size = block_size,
          .block_count = block_count,
          .block_timeout_ms = block_tov,
          .promisc = (int)promisc,
          .fanout_group_id = group,
          .bpf = bpf[0] ? bpf : NULL,
          .snaplen = snaplen,
      };
      l->nworkers++;
      w->src = fl_afp_open(&c, err, sizeof(err));
      if (!w->src) break;
      struct fl_table_config tc = l->tcfg;
      tc.max_flows = per_worker;
      w->table = fl_table_new(&tc, on_flow, w);
      if (!w->table) {
        snprintf(err, sizeof(err), "startLive: cannot allocate a flow table of %u flows", per_worker);
        break;
      }
    }
  }
  if (err[0]) {
    live_free(env, l);
    napi_throw_error(env, "CAPTURE_OPEN", err);
    return NULL;
  }
  napi_create_reference(env, argv[1], 1, &l->on_batch);
  napi_create_reference(env, argv[2], 1, &l->on_done);
  napi_value name;
  napi_create_string_utf8(env, "flowlens.live", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, NULL, NULL, name, 16, 1, NULL, NULL, NULL, call_js, &l->tsfn) != napi_ok) {
    live_free(env, l);
    napi_throw_error(env, "ERR_NAPI", "startLive: cannot create the thread-safe function");
    return NULL;
  }
  l->running = 1;
  uint64_t t = now_us();
  for (int i = 0; i < l->nworkers; i++) {
    l->workers[i].last_flush_us = t;
    pthread_create(&l->workers[i].thread, NULL, worker_main, &l->workers[i]);
  }
  pthread_t j;
  pthread_create(&j, NULL, joiner, l);
  pthread_detach(j);

  napi_value handle, fn;
  napi_create_object(env, &handle);
  napi_wrap(env, handle, l, NULL, NULL, NULL);
  napi_create_reference(env, handle, 1, &l->self);
  napi_create_function(env, "stop", NAPI_AUTO_LENGTH, handle_stop, NULL, &fn);
  napi_set_named_property(env, handle, "stop", fn);
  napi_create_function(env, "stats", NAPI_AUTO_LENGTH, handle_stats, NULL, &fn);
  napi_set_named_property(env, handle, "stats", fn);
  return handle;
}
