/* decodeHeaders(): many sampled headers of one datagram through the probe's decoder in one call,
 * results written into a caller-owned buffer, so the collector's hot path allocates nothing and
 * crosses into C once per datagram, not once per sample. */
#define NAPI_VERSION 8
#include "header_napi.h"
#include "napi_typed.h"

#include <stddef.h>
#include <string.h>

#include "header_out.h"

static napi_value throw_arg(napi_env env, const char *msg) {
  napi_throw_error(env, "ERR_INVALID_ARG", msg);
  return NULL;
}

/* decodeHeaders(data: Uint8Array, jobs: Uint32Array, count: number, out: Uint8Array) -> number
 * jobs holds `count` triples (offset into data, length, DLT link type); record i of out
 * (headerLayout.size bytes each) receives the decode of data[offset, offset+length). Returns how
 * many decoded to FL_DEC_OK. A job outside data is the caller's bug: it throws. */
napi_value fl_napi_decode_headers(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4)
    return throw_arg(env, "decodeHeaders(data: Uint8Array, jobs: Uint32Array, count: number, out: Uint8Array)");
  void *data, *jobs_v, *out_v;
  size_t data_len, jobs_len, out_len;
  uint32_t count;
  if (!fl_typed_array(env, argv[0], napi_uint8_array, &data, &data_len) ||
      !fl_typed_array(env, argv[1], napi_uint32_array, &jobs_v, &jobs_len) ||
      napi_get_value_uint32(env, argv[2], &count) != napi_ok || !fl_typed_array(env, argv[3], napi_uint8_array, &out_v, &out_len))
    return throw_arg(env, "decodeHeaders(data: Uint8Array, jobs: Uint32Array, count: number, out: Uint8Array)");
  if ((size_t)count * 3 > jobs_len || (size_t)count * sizeof(struct fl_header_out) > out_len)
    return throw_arg(env, "decodeHeaders: jobs or out is too small for count");
  const uint32_t *jobs = jobs_v;
  uint8_t *out = out_v;
  uint32_t ok = 0;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t off = jobs[3 * i], len = jobs[3 * i + 1];
    if (off > data_len || len > data_len - off) return throw_arg(env, "decodeHeaders: a job lies outside data");
    struct fl_header_out h;
    if (fl_header_decode((const uint8_t *)data + off, len, (int)jobs[3 * i + 2], &h) == FL_DEC_OK) ok++;
    /* out need not be aligned for the struct: copy it in. */
    memcpy(out + (size_t)i * sizeof(h), &h, sizeof(h));
  }
  napi_value r;
  napi_create_uint32(env, ok, &r);
  return r;
}

/* { size, offsets: {field: byte offset}, results: [name of each enum fl_decode_result] } */
napi_value fl_napi_header_layout(napi_env env) {
  napi_value o, offs, v, names;
  napi_create_object(env, &o);
  napi_create_object(env, &offs);
#define OFF(js, field)                                                           \
  napi_create_uint32(env, (uint32_t)offsetof(struct fl_header_out, field), &v); \
  napi_set_named_property(env, offs, js, v)
  OFF("src", src);
  OFF("dst", dst);
  OFF("ipLen", ip_len);
  OFF("l2Len", l2_len);
  OFF("sport", sport);
  OFF("dport", dport);
  OFF("vlan", vlan);
  OFF("result", result);
  OFF("ipVersion", ip_version);
  OFF("proto", proto);
  OFF("tcpFlags", tcp_flags);
  OFF("tunnel", tunnel);
  OFF("hasL4", has_l4);
  OFF("isFragment", is_fragment);
#undef OFF
  napi_set_named_property(env, o, "offsets", offs);
  napi_create_uint32(env, (uint32_t)sizeof(struct fl_header_out), &v);
  napi_set_named_property(env, o, "size", v);
  napi_create_array_with_length(env, FL_DEC__COUNT, &names);
  for (uint32_t i = 0; i < FL_DEC__COUNT; i++) {
    napi_create_string_utf8(env, fl_decode_result_names[i], NAPI_AUTO_LENGTH, &v);
    napi_set_element(env, names, i, v);
  }
  napi_set_named_property(env, o, "results", names);
  return o;
}
