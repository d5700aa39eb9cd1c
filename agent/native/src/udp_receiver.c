/* udpReceiver(options, onBatch): a UDP socket read in batches for the collector. Node's dgram
 * makes an ArrayBuffer, a Buffer, an rinfo object and a JS call for every datagram, about
 * 2.7 us of CPU each: as much as decoding and counting a whole sFlow datagram of 8 samples. Here
 * the socket is polled on the event loop's thread (uv_poll) and each wake-up reads up to
 * `slots` datagrams with one recvmmsg() into a reused arena, then calls onBatch(count) once;
 * JS reads the datagrams from the arena before returning (the next batch overwrites them).
 *
 * Per datagram i: its bytes at arena[i * slotBytes, + lens[i]), lens[i] = -1 when it was longer
 * than a slot (truncated: JS counts it, the bytes are not handed on); its source in
 * sources[i * 20, + 20): family (4 or 6), the port (big-endian, 2 bytes), a pad byte, then the
 * 4 or 16 address bytes. All three arrays come from JS, are checked once, and are referenced for
 * as long as the receiver is open. */
#define _GNU_SOURCE /* recvmmsg */
#include "udp_receiver.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define SOURCE_BYTES 20
#define MAX_SLOTS 1024
/* Batches read per wake-up before the loop gets its turn (timers, HTTP) back. */
#define BATCHES_PER_WAKE 8

typedef struct {
  napi_env env;
  uv_poll_t poll;
  int fd;
  int open;
  uint8_t *arena;
  size_t slot_bytes;
  int32_t *lens;
  uint8_t *sources;
  uint32_t slots;
  struct mmsghdr *msgs;
  struct iovec *iov;
  struct sockaddr_storage *addrs;
  napi_ref on_batch;
  napi_ref arrays[3];
  napi_ref self;
  napi_async_context async;
  double read_errors;
} receiver;

static void free_receiver(uv_handle_t *h) {
  receiver *r = h->data;
  free(r->msgs);
  free(r->iov);
  free(r->addrs);
  free(r);
}

/* Stops polling and closes the socket; the struct goes when libuv is done with the handle. */
static void shut(receiver *r, int from_cleanup) {
  if (!r->open) return;
  r->open = 0;
  uv_poll_stop(&r->poll);
  close(r->fd);
  if (!from_cleanup) {
    for (int i = 0; i < 3; i++) napi_delete_reference(r->env, r->arrays[i]);
    napi_delete_reference(r->env, r->on_batch);
    napi_delete_reference(r->env, r->self);
    napi_async_destroy(r->env, r->async);
  }
  uv_close((uv_handle_t *)&r->poll, free_receiver);
}

static void cleanup_hook(void *arg) { shut(arg, 1); }

static void on_readable(uv_poll_t *h, int status, int events) {
  receiver *r = h->data;
  if (!r->open || status < 0) return;
  napi_env env = r->env;
  for (int b = 0; b < BATCHES_PER_WAKE && r->open; b++) {
    for (uint32_t i = 0; i < r->slots; i++) {
      r->msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
      r->msgs[i].msg_hdr.msg_flags = 0;
      r->msgs[i].msg_len = 0;
    }
    int n = recvmmsg(r->fd, r->msgs, r->slots, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) r->read_errors++;
      return;
    }
    if (n == 0) return;
    for (int i = 0; i < n; i++) {
      struct msghdr *m = &r->msgs[i].msg_hdr;
      r->lens[i] = (m->msg_flags & MSG_TRUNC) ? -1 : (int32_t)r->msgs[i].msg_len;
      uint8_t *s = r->sources + (size_t)i * SOURCE_BYTES;
      memset(s, 0, SOURCE_BYTES);
      const struct sockaddr_storage *a = &r->addrs[i];
      if (a->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)a;
        s[0] = 4;
        memcpy(s + 1, &v4->sin_port, 2);
        memcpy(s + 4, &v4->sin_addr, 4);
      } else if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)a;
        s[0] = 6;
        memcpy(s + 1, &v6->sin6_port, 2);
        memcpy(s + 4, &v6->sin6_addr, 16);
      }
    }
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return;
    napi_value fn, self, arg, result;
    if (napi_get_reference_value(env, r->on_batch, &fn) == napi_ok &&
        napi_get_reference_value(env, r->self, &self) == napi_ok && napi_create_int32(env, n, &arg) == napi_ok) {
      /* As Node's own callbacks: async context, microtasks run after, an exception reported. */
      if (napi_make_callback(env, r->async, self, fn, 1, &arg, &result) != napi_ok) {
        bool pending = false;
        napi_is_exception_pending(env, &pending);
        if (pending) {
          napi_value err;
          napi_get_and_clear_last_exception(env, &err);
          napi_fatal_exception(env, err);
        }
      }
    }
    napi_close_handle_scope(env, scope);
    if ((uint32_t)n < r->slots) return; /* drained */
  }
}

/* close(): the socket closed and the object detached from the struct, which libuv frees once
 * it is done with the handle; calling it again, or readErrors() after it, is harmless. */
static napi_value close_fn(napi_env env, napi_callback_info info) {
  napi_value self;
  receiver *r = NULL;
  if (napi_get_cb_info(env, info, NULL, NULL, &self, NULL) == napi_ok && napi_unwrap(env, self, (void **)&r) == napi_ok &&
      r != NULL && r->open) {
    napi_remove_env_cleanup_hook(env, cleanup_hook, r);
    napi_remove_wrap(env, self, NULL);
    shut(r, 0);
  }
  return NULL;
}

static napi_value read_errors_fn(napi_env env, napi_callback_info info) {
  napi_value self, v;
  receiver *r = NULL;
  double n = 0;
  if (napi_get_cb_info(env, info, NULL, NULL, &self, NULL) == napi_ok && napi_unwrap(env, self, (void **)&r) == napi_ok &&
      r != NULL)
    n = r->read_errors;
  napi_create_double(env, n, &v);
  return v;
}

static int typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  napi_typedarray_type t;
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  return napi_get_typedarray_info(env, v, &t, len, data, NULL, NULL) == napi_ok && t == want;
}

static napi_value get(napi_env env, napi_value o, const char *name) {
  napi_value v = NULL;
  napi_get_named_property(env, o, name, &v);
  return v;
}

static napi_value fail(napi_env env, const char *msg, int err) {
  char text[256];
  if (err != 0) snprintf(text, sizeof text, "udpReceiver: %s: %s", msg, strerror(err));
  else snprintf(text, sizeof text, "udpReceiver: %s", msg);
  /* The errno's name as the code (EADDRINUSE, EACCES, ...), as Node's own socket errors have. */
  const char *code = err != 0 ? strerrorname_np(err) : NULL;
  napi_throw_error(env, code != NULL ? code : "FLOWLENS_NATIVE", text);
  return NULL;
}

/* udpReceiver({family, address, port, recvBufferBytes, arena, slotBytes, lens, sources}, onBatch):
 * {port, recvBufferBytes, close(), readErrors()} */
napi_value fl_napi_udp_receiver(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2)
    return fail(env, "(options, onBatch) expected", 0);
  napi_valuetype t;
  if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) return fail(env, "onBatch must be a function", 0);
  napi_value o = argv[0];
  int32_t family = 0, port = -1, rcvbuf = 0, slot_bytes = 0;
  napi_get_value_int32(env, get(env, o, "family"), &family);
  napi_get_value_int32(env, get(env, o, "port"), &port);
  napi_get_value_int32(env, get(env, o, "recvBufferBytes"), &rcvbuf);
  napi_get_value_int32(env, get(env, o, "slotBytes"), &slot_bytes);
  napi_value vaddr = get(env, o, "address"), varena = get(env, o, "arena"), vlens = get(env, o, "lens"),
             vsrc = get(env, o, "sources");
  void *addr = NULL, *arena = NULL, *lens = NULL, *sources = NULL;
  size_t addr_len = 0, arena_len = 0, lens_len = 0, sources_len = 0;
  if ((family != 4 && family != 6) || port < 0 || port > 65535 || rcvbuf < 0 || slot_bytes < 1 || slot_bytes > 65536)
    return fail(env, "family 4|6, port 0-65535, recvBufferBytes >= 0, slotBytes 1-65536 expected", 0);
  if (!typed(env, vaddr, napi_uint8_array, &addr, &addr_len) || addr_len != (family == 4 ? 4u : 16u))
    return fail(env, "address must be a Uint8Array of 4 (IPv4) or 16 (IPv6) bytes", 0);
  if (!typed(env, vlens, napi_int32_array, &lens, &lens_len) || lens_len < 1 || lens_len > MAX_SLOTS)
    return fail(env, "lens must be an Int32Array of 1 to 1024 slots", 0);
  if (!typed(env, varena, napi_uint8_array, &arena, &arena_len) || arena_len < lens_len * (size_t)slot_bytes)
    return fail(env, "arena must be a Uint8Array of slots * slotBytes", 0);
  if (!typed(env, vsrc, napi_uint8_array, &sources, &sources_len) || sources_len < lens_len * SOURCE_BYTES)
    return fail(env, "sources must be a Uint8Array of slots * 20 bytes", 0);

  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(env, "socket", errno);
  if (family == 6) {
    int off = 0; /* both IPv4 and IPv6 on an IPv6 socket, as dgram's ipv6Only: false */
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  }
  if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0) {
    int e = errno;
    close(fd);
    return fail(env, "SO_RCVBUF", e);
  }
  struct sockaddr_storage bind_addr;
  socklen_t bind_len;
  memset(&bind_addr, 0, sizeof bind_addr);
  if (family == 4) {
    struct sockaddr_in *a = (struct sockaddr_in *)&bind_addr;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    memcpy(&a->sin_addr, addr, 4);
    bind_len = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&bind_addr;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    memcpy(&a->sin6_addr, addr, 16);
    bind_len = sizeof *a;
  }
  if (bind(fd, (struct sockaddr *)&bind_addr, bind_len) != 0) {
    int e = errno;
    close(fd);
    return fail(env, "bind", e);
  }
  socklen_t got_len = sizeof bind_addr;
  getsockname(fd, (struct sockaddr *)&bind_addr, &got_len);
  int bound_port =
      ntohs(family == 4 ? ((struct sockaddr_in *)&bind_addr)->sin_port : ((struct sockaddr_in6 *)&bind_addr)->sin6_port);
  int kept = 0;
  socklen_t kept_len = sizeof kept;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kept, &kept_len);

  uv_loop_t *loop = NULL;
  receiver *r = calloc(1, sizeof *r);
  if (r != NULL) {
    r->msgs = calloc(lens_len, sizeof *r->msgs);
    r->iov = calloc(lens_len, sizeof *r->iov);
    r->addrs = calloc(lens_len, sizeof *r->addrs);
  }
  if (r == NULL || r->msgs == NULL || r->iov == NULL || r->addrs == NULL || napi_get_uv_event_loop(env, &loop) != napi_ok ||
      uv_poll_init(loop, &r->poll, fd) != 0) {
    if (r != NULL) {
      free(r->msgs);
      free(r->iov);
      free(r->addrs);
      free(r);
    }
    close(fd);
    return fail(env, "out of memory or no event loop", 0);
  }
  r->env = env;
  r->fd = fd;
  r->open = 1;
  r->poll.data = r;
  r->arena = arena;
  r->slot_bytes = (size_t)slot_bytes;
  r->lens = lens;
  r->sources = sources;
  r->slots = (uint32_t)lens_len;
  for (uint32_t i = 0; i < r->slots; i++) {
    r->iov[i].iov_base = r->arena + (size_t)i * r->slot_bytes;
    r->iov[i].iov_len = r->slot_bytes;
    r->msgs[i].msg_hdr.msg_iov = &r->iov[i];
    r->msgs[i].msg_hdr.msg_iovlen = 1;
    r->msgs[i].msg_hdr.msg_name = &r->addrs[i];
  }

  napi_value self, fn, name, v;
  napi_create_object(env, &self);
  napi_wrap(env, self, r, NULL, NULL, NULL);
  napi_create_reference(env, self, 1, &r->self);
  napi_create_reference(env, argv[1], 1, &r->on_batch);
  napi_create_reference(env, varena, 1, &r->arrays[0]);
  napi_create_reference(env, vlens, 1, &r->arrays[1]);
  napi_create_reference(env, vsrc, 1, &r->arrays[2]);
  napi_create_string_utf8(env, "flowlens:udpReceiver", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &r->async);
  napi_add_env_cleanup_hook(env, cleanup_hook, r);
  napi_create_function(env, "close", NAPI_AUTO_LENGTH, close_fn, NULL, &fn);
  napi_set_named_property(env, self, "close", fn);
  napi_create_function(env, "readErrors", NAPI_AUTO_LENGTH, read_errors_fn, NULL, &fn);
  napi_set_named_property(env, self, "readErrors", fn);
  napi_create_int32(env, bound_port, &v);
  napi_set_named_property(env, self, "port", v);
  napi_create_int32(env, kept, &v);
  napi_set_named_property(env, self, "recvBufferBytes", v);
  uv_poll_start(&r->poll, UV_READABLE, on_readable);
  return self;
}
