/* encodeCollected and collectedLayout: the N-API side of flow_encode.c. */
#include "flow_encode_napi.h"

#include "flow_encode.h"
#include "napi_typed.h"

#include <stdint.h>

/* encodeCollected(out: Uint8Array, pos, src: Uint8Array, strings: Uint8Array, nums: Float64Array,
 * meta: Int32Array, count, report: Int32Array): the end of the encodings written at out[pos..],
 * or -1 when a string is outside `strings` or out has no room (an address outside src is
 * written as the unspecified one). */
napi_value fl_napi_encode_collected(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  void *out, *src, *strings, *nums, *meta, *report;
  size_t out_len, src_len, strings_len, nums_len, meta_len, report_len;
  int64_t pos = 0;
  int32_t count = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 8 ||
      !fl_typed_array(env, argv[0], napi_uint8_array, &out, &out_len) || napi_get_value_int64(env, argv[1], &pos) != napi_ok ||
      !fl_typed_array(env, argv[2], napi_uint8_array, &src, &src_len) ||
      !fl_typed_array(env, argv[3], napi_uint8_array, &strings, &strings_len) ||
      !fl_typed_array(env, argv[4], napi_float64_array, &nums, &nums_len) ||
      !fl_typed_array(env, argv[5], napi_int32_array, &meta, &meta_len) || napi_get_value_int32(env, argv[6], &count) != napi_ok ||
      !fl_typed_array(env, argv[7], napi_int32_array, &report, &report_len)) {
    napi_throw_type_error(env, "FLOWLENS_NATIVE",
                          "encodeCollected(out: Uint8Array, pos, src: Uint8Array, strings: Uint8Array, nums: Float64Array, "
                          "meta: Int32Array, count, report: Int32Array)");
    return NULL;
  }
  if (count < 0 || (size_t)count > nums_len / E_NUMS || (size_t)count > meta_len / M_FIELDS ||
      (size_t)count > report_len / X_FIELDS || pos < 0 || (uint64_t)pos > out_len || out_len > INT32_MAX) {
    napi_throw_range_error(env, "FLOWLENS_NATIVE", "encodeCollected: count or pos outside the arrays");
    return NULL;
  }
  int64_t end = fl_encode_flows(out, out_len, (size_t)pos, src, src_len, strings, strings_len, nums, meta, count, report);
  napi_value result;
  napi_create_int64(env, end, &result);
  return result;
}

static const char *const num_names[E_NUMS] = {
    "srcPort", "dstPort", "proto", "ipVersion", "vlan", "firstSeen", "lastSeen", "s2dPackets", "s2dBytes", "d2sPackets",
    "d2sBytes", "srcFlags", "dstFlags", "endReason", "domain", "exportVersion", "samplingRate", "rawPackets", "rawBytes",
    "inIf", "outIf"};
static const char *const meta_names[M_FIELDS] = {"src", "dst", "ipv6", "l7", "l7Len", "cid", "cidLen", "exporter", "exporterLen"};
static const char *const report_names[X_FIELDS] = {"start", "end", "srcStart", "srcEnd", "dstStart", "dstEnd", "cidStart"};

static napi_value names_object(napi_env env, const char *const *names, int n) {
  napi_value o, v;
  napi_create_object(env, &o);
  for (int i = 0; i < n; i++) {
    napi_create_int32(env, i, &v);
    napi_set_named_property(env, o, names[i], v);
  }
  return o;
}

/* collectedLayout: { nums, meta, report: name -> index, fixedMax }, checked by the aggregator's
 * constants at load. */
napi_value fl_napi_collected_layout(napi_env env) {
  napi_value o, v;
  napi_create_object(env, &o);
  napi_set_named_property(env, o, "nums", names_object(env, num_names, E_NUMS));
  napi_set_named_property(env, o, "meta", names_object(env, meta_names, M_FIELDS));
  napi_set_named_property(env, o, "report", names_object(env, report_names, X_FIELDS));
  napi_create_int32(env, FL_ENCODE_FIXED_MAX, &v);
  napi_set_named_property(env, o, "fixedMax", v);
  napi_create_int32(env, FL_CID_FROM_TUPLE, &v);
  napi_set_named_property(env, o, "cidFromTuple", v);
  return o;
}
