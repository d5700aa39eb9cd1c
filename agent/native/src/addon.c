/* N-API surface of the flow engine. Packet loops run on their own threads; JS sees finished
 * flows in batches (an ArrayBuffer of serialized records, flow_out.h, decoded in
 * agent/src/engine; or for `flowlens pcap` their NDJSON, printed here) and a final stats
 * object. Nothing per packet crosses into JS. */
#define _GNU_SOURCE /* strerrorname_np */
#define NAPI_VERSION 8
#include <node_api.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "batch.h"
#include "dpi.h"
#include "flowtable.h"
#include "header_napi.h"
#include "byte_copy.h"
#include "collector_decode_napi.h"
#include "flow_encode_napi.h"
#include "flow_batch_napi.h"
#include "host_resolve.h"
#include "udp_receiver.h"
#include "huge_buffer.h"
#include "live.h"
#include "ndjson.h"
#include "source_pcap.h"

#define CHECK(env, call)                                                   \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error((env), "FLOWLENS_NATIVE", "N-API call failed: " #call); \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

enum msg_kind { MSG_BATCH = 1, MSG_DONE = 2 };

struct job;
struct msg {
  enum msg_kind kind;
  struct fl_batch *batch;
  struct job *job;
};

struct job {
  napi_threadsafe_function tsfn;
  napi_ref on_batch, on_done;
  pthread_t thread;
  struct fl_table_config tcfg;
  struct fl_pcap **files;
  int nfiles;
  struct fl_batch_pool *pool;
  struct fl_batch *cur;
  int ndjson;          /* hand JS NDJSON text instead of records */
  int out_fd;          /* with ndjson: write the text here instead (-1: hand it to JS) */
  int out_errno;       /* writing the text failed: the rest is dropped and reading stops */
  char *scratch;       /* NDJSON formatting buffer (JS thread) */
  size_t scratch_cap;
  volatile int stop;
  int failed;
  char err[1024];
  struct fl_table_stats stats;
  struct fl_dpi_stats dpi_stats;
  uint64_t elapsed_ns, cpu_ns, first_ts_us, last_ts_us;
  struct fl_table *table;
  uint64_t last_expire_s;
};

/* ---- worker thread ---- */

static void send_batch(struct job *j) {
  if (!j->cur || j->cur->count == 0) return;
  struct msg *m = malloc(sizeof(*m));
  if (!m) return;
  m->kind = MSG_BATCH;
  m->batch = j->cur;
  m->job = j;
  j->cur = NULL;
  /* Blocking: a slow consumer slows the reader instead of growing an unbounded queue. */
  if (napi_call_threadsafe_function(j->tsfn, m, napi_tsfn_blocking) != napi_ok) {
    fl_batch_put(j->pool, m->batch);
    free(m);
  }
}

static void on_flow(void *ctx, const struct fl_flow_out *rec) {
  struct job *j = ctx;
  if (!j->cur) j->cur = fl_batch_get(j->pool);
  if (!j->cur) return; /* out of memory: the flow is lost, and counted as exported anyway */
  if (fl_batch_add(j->cur, rec)) send_batch(j);
}

static void on_packet(void *ctx, const struct fl_packet *p) {
  struct job *j = ctx;
  if (!j->first_ts_us) j->first_ts_us = p->ts_us;
  if (p->ts_us > j->last_ts_us) j->last_ts_us = p->ts_us;
  fl_table_packet(j->table, p);
  uint64_t s = p->ts_us / 1000000u;
  if (s != j->last_expire_s) { /* timeouts advance with packet time, once per captured second */
    j->last_expire_s = s;
    fl_table_expire(j->table, p->ts_us);
  }
}

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The reader thread's own CPU time: what the engine costs, whatever else the machine runs. */
static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *pcap_thread(void *arg) {
  struct job *j = arg;
  uint64_t t0 = mono_ns();
  j->table = fl_table_new(&j->tcfg, on_flow, j);
  if (!j->table) {
    j->failed = 1;
    snprintf(j->err, sizeof(j->err), "cannot allocate the flow table (maxFlows %u)", j->tcfg.max_flows);
  } else {
    for (int i = 0; i < j->nfiles && !j->stop; i++) {
      if (fl_pcap_run(j->files[i], on_packet, j, &j->stop, j->err, sizeof(j->err)) != 0) {
        j->failed = 1;
        break;
      }
    }
    fl_table_flush(j->table, FL_END_EOF);
    send_batch(j);
    j->stats = *fl_table_stats(j->table);
    memset(&j->dpi_stats, 0, sizeof(j->dpi_stats));
    fl_table_free(j->table);
    j->table = NULL;
  }
  j->elapsed_ns = mono_ns() - t0;
  j->cpu_ns = thread_cpu_ns();
  struct msg *m = malloc(sizeof(*m));
  if (m) {
    m->kind = MSG_DONE;
    m->batch = NULL;
    m->job = j;
    napi_call_threadsafe_function(j->tsfn, m, napi_tsfn_blocking);
  }
  napi_release_threadsafe_function(j->tsfn, napi_tsfn_release);
  return NULL;
}

/* ---- main thread ---- */

static napi_value make_stats(napi_env env, struct job *j) {
  napi_value o, v, errs;
  napi_create_object(env, &o);
#define SETN(name, val)                         \
  napi_create_double(env, (double)(val), &v); \
  napi_set_named_property(env, o, name, v)
  SETN("packets", j->stats.packets);
  SETN("bytes", j->stats.bytes);
  SETN("ipPackets", j->stats.ip_packets);
  SETN("flowsCreated", j->stats.flows_created);
  SETN("flowsExported", j->stats.flows_exported);
  SETN("flowsEvicted", j->stats.flows_evicted);
  SETN("sampledOut", j->stats.sampled_out);
  SETN("elapsedMs", (double)j->elapsed_ns / 1e6);
  SETN("cpuMs", (double)j->cpu_ns / 1e6);
  SETN("firstPacketUs", j->first_ts_us);
  SETN("lastPacketUs", j->last_ts_us);
#undef SETN
  napi_create_object(env, &errs);
  for (int r = 1; r < FL_DEC__COUNT; r++) {
    if (!j->stats.decode_errors[r]) continue;
    napi_create_double(env, (double)j->stats.decode_errors[r], &v);
    napi_set_named_property(env, errs, fl_decode_result_names[r], v);
  }
  napi_set_named_property(env, o, "decodeErrors", errs);
  if (j->out_errno) {
    napi_value oe;
    napi_create_object(env, &oe);
    const char *code = strerrorname_np(j->out_errno);
    napi_create_string_utf8(env, code ? code : "EIO", NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, oe, "code", v);
    napi_create_string_utf8(env, strerror(j->out_errno), NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, oe, "message", v);
    napi_set_named_property(env, o, "outputError", oe);
  }
  return o;
}

static void job_free(napi_env env, struct job *j) {
  if (j->on_batch) napi_delete_reference(env, j->on_batch);
  if (j->on_done) napi_delete_reference(env, j->on_done);
  for (int i = 0; i < j->nfiles; i++) fl_pcap_close(j->files[i]);
  free(j->files);
  if (j->pool) {
    fl_batch_put(j->pool, j->cur);
    fl_batch_pool_free(j->pool);
  } else {
    free(j->cur);
  }
  free(j->scratch);
  free(j);
}

static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)js_cb;
  (void)context;
  struct msg *m = data;
  if (!m) return;
  struct job *j = m->job;
  if (!env) { /* environment shutting down */
    if (m->batch) free(m->batch);
    free(m);
    return;
  }
  napi_value global, fn, args[2], result;
  napi_get_global(env, &global);
  if (m->kind == MSG_BATCH) {
    napi_get_reference_value(env, j->on_batch, &fn);
    if (!j->ndjson) {
      fl_batch_call_js(env, fn, j->pool, m->batch);
    } else if (j->out_errno) {
      fl_batch_put(j->pool, m->batch);
    } else {
      int e = fl_batch_call_js_ndjson(env, fn, j->pool, m->batch, j->out_fd, &j->scratch, &j->scratch_cap);
      if (e) { /* nowhere to put flows: stop reading */
        j->out_errno = e;
        j->stop = 1;
      }
    }
  } else {
    pthread_join(j->thread, NULL);
    if (j->failed) {
      napi_create_string_utf8(env, j->err, NAPI_AUTO_LENGTH, &args[0]);
    } else {
      napi_get_null(env, &args[0]);
    }
    args[1] = make_stats(env, j);
    napi_get_reference_value(env, j->on_done, &fn);
    napi_call_function(env, global, fn, 2, args, &result);
    job_free(env, j);
  }
  free(m);
}

static int get_u32(napi_env env, napi_value obj, const char *name, uint32_t def, uint32_t *out) {
  napi_value v;
  bool has;
  *out = def;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has) return 0;
  napi_get_named_property(env, obj, name, &v);
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_undefined) return 0;
  if (t != napi_number) return -1;
  double d;
  napi_get_value_double(env, v, &d);
  if (!(d >= 0 && d <= 4294967295.0)) return -1;
  *out = (uint32_t)d;
  return 0;
}

static char *get_str(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (s) napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

static napi_value throw_code(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
  return NULL;
}

/* readPcap(options, onBatch(buffer, count), onDone(error|null, stats)) -> handle
 * options: { files: string[], bpf?: string, idleTimeoutMs, activeTimeoutMs, lingerMs, maxFlows,
 *            dpi: boolean, sampling, batchSize, output?: "records" | "ndjson", fd?: number }
 * onBatch gets an ArrayBuffer of serialized records valid during the call only, or with
 * output "ndjson" a Buffer of their NDJSON lines, or with an fd too null: the lines went there
 * (from the JS thread, so the reader thread never waits on the consumer; a write error is
 * stats.outputError and ends reading). */
static napi_value read_pcap(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_code(env, "ERR_INVALID_ARG", "readPcap(options, onBatch, onDone)");
  napi_value opts = argv[0], files_v, v;
  struct job *j = calloc(1, sizeof(*j));
  if (!j) return throw_code(env, "ENOMEM", "out of memory");
  uint32_t idle_ms, active_ms, linger_ms, sampling, batch;
  if (get_u32(env, opts, "idleTimeoutMs", 30000, &idle_ms) || get_u32(env, opts, "activeTimeoutMs", 300000, &active_ms) ||
      get_u32(env, opts, "lingerMs", 2000, &linger_ms) || get_u32(env, opts, "maxFlows", 1000000, &j->tcfg.max_flows) ||
      get_u32(env, opts, "sampling", 1, &sampling) || get_u32(env, opts, "batchSize", 1024, &batch)) {
    free(j);
    return throw_code(env, "ERR_INVALID_ARG", "readPcap: numeric options must be non-negative 32-bit numbers");
  }
  if (j->tcfg.max_flows == 0 || batch == 0 || sampling == 0) {
    free(j);
    return throw_code(env, "ERR_INVALID_ARG", "readPcap: maxFlows, batchSize and sampling must be at least 1");
  }
  j->tcfg.idle_timeout_us = (uint64_t)idle_ms * 1000;
  j->tcfg.active_timeout_us = (uint64_t)active_ms * 1000;
  j->tcfg.linger_us = (uint64_t)linger_ms * 1000;
  j->tcfg.sampling = sampling;
  j->pool = fl_batch_pool_new(batch);
  if (!j->pool) {
    free(j);
    return throw_code(env, "ENOMEM", "out of memory");
  }
  bool dpi = true, has;
  napi_has_named_property(env, opts, "dpi", &has);
  if (has) {
    napi_get_named_property(env, opts, "dpi", &v);
    napi_get_value_bool(env, v, &dpi);
  }
  j->tcfg.dpi = dpi;

  napi_has_named_property(env, opts, "output", &has);
  if (has) {
    napi_get_named_property(env, opts, "output", &v);
    napi_valuetype t;
    napi_typeof(env, v, &t);
    char *out = t == napi_string ? get_str(env, v) : NULL;
    int ok = t == napi_undefined || (out && (!strcmp(out, "records") || !strcmp(out, "ndjson")));
    j->ndjson = out && !strcmp(out, "ndjson");
    free(out);
    if (!ok) {
      job_free(env, j);
      return throw_code(env, "ERR_INVALID_ARG", "readPcap: options.output must be \"records\" or \"ndjson\"");
    }
  }
  uint32_t fd;
  if (get_u32(env, opts, "fd", UINT32_MAX, &fd) || (fd != UINT32_MAX && (!j->ndjson || fd > INT32_MAX))) {
    job_free(env, j);
    return throw_code(env, "ERR_INVALID_ARG", "readPcap: options.fd must be a file descriptor, with output \"ndjson\"");
  }
  j->out_fd = fd == UINT32_MAX ? -1 : (int)fd;
  if (j->out_fd >= 0) {
    /* A pipe holds 64 KiB by default: each batch of text (~0.5 MB) would take a dozen wake-ups
     * of the reader and of us. 1 MiB is what an unprivileged process may ask for by default. */
    struct stat st;
    if (fstat(j->out_fd, &st) == 0 && S_ISFIFO(st.st_mode)) fcntl(j->out_fd, F_SETPIPE_SZ, 1 << 20);
  }

  char *bpf = NULL;
  napi_has_named_property(env, opts, "bpf", &has);
  if (has) {
    napi_get_named_property(env, opts, "bpf", &v);
    napi_valuetype t;
    napi_typeof(env, v, &t);
    if (t == napi_string) bpf = get_str(env, v);
  }
  bool is_array = false;
  if (napi_get_named_property(env, opts, "files", &files_v) != napi_ok || napi_is_array(env, files_v, &is_array) != napi_ok || !is_array) {
    free(bpf);
    job_free(env, j);
    return throw_code(env, "ERR_INVALID_ARG", "readPcap: options.files must be an array of paths");
  }
  uint32_t n;
  napi_get_array_length(env, files_v, &n);
  j->files = calloc(n ? n : 1, sizeof(*j->files));
  char err[1024];
  for (uint32_t i = 0; i < n; i++) {
    napi_get_element(env, files_v, i, &v);
    char *path = get_str(env, v);
    struct fl_pcap *s = path ? fl_pcap_open(path, bpf, err, sizeof(err)) : NULL;
    free(path);
    if (!s) {
      free(bpf);
      job_free(env, j);
      return throw_code(env, "BAD_CAPTURE", err);
    }
    j->files[j->nfiles++] = s;
  }
  free(bpf);

  CHECK(env, napi_create_reference(env, argv[1], 1, &j->on_batch));
  CHECK(env, napi_create_reference(env, argv[2], 1, &j->on_done));
  napi_value name;
  napi_create_string_utf8(env, "flowlens.readPcap", NAPI_AUTO_LENGTH, &name);
  CHECK(env, napi_create_threadsafe_function(env, NULL, NULL, name, 4, 1, NULL, NULL, NULL, call_js, &j->tsfn));
  if (pthread_create(&j->thread, NULL, pcap_thread, j) != 0) {
    napi_release_threadsafe_function(j->tsfn, napi_tsfn_abort);
    job_free(env, j);
    return throw_code(env, "ERR_THREAD", "readPcap: cannot start the reader thread");
  }
  napi_value undef;
  napi_get_undefined(env, &undef);
  return undef;
}

/* Field offsets of struct fl_rec and the order of the strings after it, so the JS decoder never
 * hard-codes the layout. */
static napi_value flow_layout(napi_env env) {
  napi_value o, offs, v, strs;
  napi_create_object(env, &o);
  napi_create_object(env, &offs);
#define OFF(js, field)                                                    \
  napi_create_uint32(env, (uint32_t)offsetof(struct fl_rec, field), &v); \
  napi_set_named_property(env, offs, js, v)
  OFF("src", src);
  OFF("dst", dst);
  OFF("firstUs", first_us);
  OFF("lastUs", last_us);
  OFF("s2dPkts", s2d_pkts);
  OFF("s2dBytes", s2d_bytes);
  OFF("d2sPkts", d2s_pkts);
  OFF("d2sBytes", d2s_bytes);
  OFF("s2dWire", s2d_wire);
  OFF("d2sWire", d2s_wire);
  OFF("cliNwLatUs", cli_nw_lat_us);
  OFF("srvNwLatUs", srv_nw_lat_us);
  OFF("applLatUs", appl_lat_us);
  OFF("risks", risks);
  OFF("s2dRetx", s2d_retx);
  OFF("d2sRetx", d2s_retx);
  OFF("s2dOoo", s2d_ooo);
  OFF("d2sOoo", d2s_ooo);
  OFF("sampling", sampling);
  OFF("ifindex", ifindex);
  OFF("size", size);
  OFF("sport", sport);
  OFF("dport", dport);
  OFF("vlan", vlan);
  OFF("proto", proto);
  OFF("ipVersion", ip_version);
  OFF("s2dFlags", s2d_flags);
  OFF("d2sFlags", d2s_flags);
  OFF("endReason", end_reason);
  OFF("tunnel", tunnel);
  OFF("dnsRcode", dns_rcode);
  OFF("dpiDone", dpi_done);
  OFF("strLen", str_len);
#undef OFF
  napi_set_named_property(env, o, "offsets", offs);
  napi_create_uint32(env, (uint32_t)sizeof(struct fl_rec), &v);
  napi_set_named_property(env, o, "fixedSize", v);
  static const char *const names[FL_STR__COUNT] = {
      [FL_STR_L7] = "l7",       [FL_STR_CATEGORY] = "category", [FL_STR_HOST] = "host",
      [FL_STR_URL] = "url",     [FL_STR_USER_AGENT] = "userAgent", [FL_STR_SNI] = "sni",
      [FL_STR_DNS_QUERY] = "dnsQuery", [FL_STR_JA3C] = "ja3c",   [FL_STR_COMMUNITY_ID] = "communityId",
  };
  napi_create_array_with_length(env, FL_STR__COUNT, &strs);
  for (uint32_t i = 0; i < FL_STR__COUNT; i++) {
    napi_create_string_utf8(env, names[i], NAPI_AUTO_LENGTH, &v);
    napi_set_element(env, strs, i, v);
  }
  napi_set_named_property(env, o, "strings", strs);
  return o;
}

/* formatNdjson(buffer, count) -> Buffer: the NDJSON lines of a batch's records, as `flowlens
 * pcap` prints them (for tests, and for callers that hold records already). */
static napi_value format_ndjson(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *data;
  size_t bytes;
  uint32_t count;
  bool is_ab = false;
  if (argc < 2 || napi_is_arraybuffer(env, argv[0], &is_ab) != napi_ok || !is_ab ||
      napi_get_arraybuffer_info(env, argv[0], &data, &bytes) != napi_ok ||
      napi_get_value_uint32(env, argv[1], &count) != napi_ok)
    return throw_code(env, "ERR_INVALID_ARG", "formatNdjson(buffer: ArrayBuffer, count: number)");
  /* Records are read in place as structs: from a copy when the buffer is not aligned for them. */
  uint8_t *copy = NULL;
  if ((uintptr_t)data % 8) {
    copy = malloc(bytes ? bytes : 1);
    if (!copy) return throw_code(env, "ENOMEM", "out of memory");
    memcpy(copy, data, bytes);
    data = copy;
  }
  if (fl_rec_check(data, bytes, count) != 0) {
    free(copy);
    return throw_code(env, "ERR_INVALID_ARG", "formatNdjson: the buffer does not hold that many well-formed records");
  }
  char *text = NULL;
  size_t cap = 0;
  size_t len = fl_batch_ndjson(data, count, &text, &cap);
  if (len == SIZE_MAX) {
    free(text);
    free(copy);
    return throw_code(env, "ENOMEM", "out of memory");
  }
  napi_status st = napi_create_buffer_copy(env, len, text ? text : "", NULL, &out);
  free(text);
  free(copy);
  if (st != napi_ok) return throw_code(env, "ENOMEM", "out of memory");
  return out;
}

static napi_value risk_names(napi_env env) {
  napi_value arr, v;
  napi_create_array(env, &arr);
  for (unsigned i = 0; i < 64; i++) {
    napi_create_string_utf8(env, fl_dpi_risk_name(i), NAPI_AUTO_LENGTH, &v);
    napi_set_element(env, arr, i, v);
  }
  return arr;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "readPcap", NAPI_AUTO_LENGTH, read_pcap, NULL, &fn);
  napi_set_named_property(env, exports, "readPcap", fn);
  napi_create_function(env, "startLive", NAPI_AUTO_LENGTH, fl_live_start, NULL, &fn);
  napi_set_named_property(env, exports, "startLive", fn);
  napi_create_function(env, "formatNdjson", NAPI_AUTO_LENGTH, format_ndjson, NULL, &fn);
  napi_set_named_property(env, exports, "formatNdjson", fn);
  napi_create_function(env, "decodeHeaders", NAPI_AUTO_LENGTH, fl_napi_decode_headers, NULL, &fn);
  napi_set_named_property(env, exports, "decodeHeaders", fn);
  napi_create_function(env, "hugeBuffer", NAPI_AUTO_LENGTH, fl_napi_huge_buffer, NULL, &fn);
  napi_set_named_property(env, exports, "hugeBuffer", fn);
  napi_create_function(env, "hostResolver", NAPI_AUTO_LENGTH, fl_napi_host_resolver, NULL, &fn);
  napi_set_named_property(env, exports, "hostResolver", fn);
  napi_create_function(env, "decodeFlowBatch", NAPI_AUTO_LENGTH, fl_napi_decode_flow_batch, NULL, &fn);
  napi_set_named_property(env, exports, "decodeFlowBatch", fn);
  napi_set_named_property(env, exports, "flowBatchLayout", fl_napi_flow_batch_layout(env));
  napi_create_function(env, "copyRanges", NAPI_AUTO_LENGTH, fl_napi_copy_ranges, NULL, &fn);
  napi_set_named_property(env, exports, "copyRanges", fn);
  napi_create_function(env, "encodeCollected", NAPI_AUTO_LENGTH, fl_napi_encode_collected, NULL, &fn);
  napi_set_named_property(env, exports, "encodeCollected", fn);
  napi_create_function(env, "udpReceiver", NAPI_AUTO_LENGTH, fl_napi_udp_receiver, NULL, &fn);
  napi_set_named_property(env, exports, "udpReceiver", fn);
  napi_set_named_property(env, exports, "collectedLayout", fl_napi_collected_layout(env));
  napi_create_function(env, "decodeSet", NAPI_AUTO_LENGTH, fl_napi_decode_set, NULL, &fn);
  napi_set_named_property(env, exports, "decodeSet", fn);
  napi_create_function(env, "decodeKindOk", NAPI_AUTO_LENGTH, fl_napi_decode_kind_ok, NULL, &fn);
  napi_set_named_property(env, exports, "decodeKindOk", fn);
  napi_set_named_property(env, exports, "collectorKinds", fl_napi_collector_kinds(env));
  napi_set_named_property(env, exports, "headerLayout", fl_napi_header_layout(env));
  napi_set_named_property(env, exports, "flowLayout", flow_layout(env));
  napi_set_named_property(env, exports, "riskNames", risk_names(env));
  return exports;
}
