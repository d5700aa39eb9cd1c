/* decodeSet and collectorKinds: the N-API side of collector_decode.c. */
#include "collector_decode_napi.h"

#include "collector_decode.h"
#include "flow_encode.h"
#include "napi_typed.h"

#include <stdint.h>

/* decodeSet(msg: Uint8Array, start, end, plan: Int32Array, nfields, recLen, ctx: Float64Array,
 * nums: Float64Array, meta: Int32Array, oneWay: Uint8Array, row, maxRows, out: Int32Array): the
 * flows written from row `row` on (see fl_decode_set), or -1 for a plan it does not read. */
napi_value fl_napi_decode_set(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  void *msg, *plan, *ctx, *nums, *meta, *one_way, *out;
  size_t msg_len, plan_len, ctx_len, nums_len, meta_len, one_way_len, out_len;
  int32_t start = 0, end = 0, nfields = 0, rec_len = 0, row = 0, max_rows = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 13 ||
      !fl_typed_array(env, argv[0], napi_uint8_array, &msg, &msg_len) || napi_get_value_int32(env, argv[1], &start) != napi_ok ||
      napi_get_value_int32(env, argv[2], &end) != napi_ok || !fl_typed_array(env, argv[3], napi_int32_array, &plan, &plan_len) ||
      napi_get_value_int32(env, argv[4], &nfields) != napi_ok || napi_get_value_int32(env, argv[5], &rec_len) != napi_ok ||
      !fl_typed_array(env, argv[6], napi_float64_array, &ctx, &ctx_len) ||
      !fl_typed_array(env, argv[7], napi_float64_array, &nums, &nums_len) ||
      !fl_typed_array(env, argv[8], napi_int32_array, &meta, &meta_len) ||
      !fl_typed_array(env, argv[9], napi_uint8_array, &one_way, &one_way_len) ||
      napi_get_value_int32(env, argv[10], &row) != napi_ok || napi_get_value_int32(env, argv[11], &max_rows) != napi_ok ||
      !fl_typed_array(env, argv[12], napi_int32_array, &out, &out_len)) {
    napi_throw_type_error(env, "FLOWLENS_NATIVE",
                          "decodeSet(msg: Uint8Array, start, end, plan: Int32Array, nfields, recLen, ctx: Float64Array, "
                          "nums: Float64Array, meta: Int32Array, oneWay: Uint8Array, row, maxRows, out: Int32Array)");
    return NULL;
  }
  if (nfields < 0 || (size_t)nfields * 2 > plan_len || ctx_len < C_FIELDS || out_len < O_FIELDS || row < 0 || max_rows < 0 ||
      (size_t)row + (size_t)max_rows > nums_len / E_NUMS || (size_t)row + (size_t)max_rows > meta_len / M_FIELDS ||
      (size_t)row + (size_t)max_rows > one_way_len) {
    napi_throw_range_error(env, "FLOWLENS_NATIVE", "decodeSet: rows, plan or context outside their arrays");
    return NULL;
  }
  int32_t rows = fl_decode_set(msg, msg_len, start, end, plan, nfields, rec_len, ctx, (double *)nums + (size_t)row * E_NUMS,
                               (int32_t *)meta + (size_t)row * M_FIELDS, (uint8_t *)one_way + row, max_rows, out);
  napi_value result;
  napi_create_int32(env, rows, &result);
  return result;
}

static const struct {
  const char *name;
  int32_t kind;
} kind_names[] = {
    {"Skip", 0},
    {"Octets", 1},
    {"Packets", 2},
    {"PostOctets", 3},
    {"PostPackets", 4},
    {"TotalOctets", 5},
    {"TotalPackets", 6},
    {"InitiatorOctets", 7},
    {"InitiatorPackets", 8},
    {"ResponderOctets", 9},
    {"ResponderPackets", 10},
    {"RevOctets", 11},
    {"RevPackets", 12},
    {"RevTotalOctets", 13},
    {"RevTotalPackets", 14},
    {"RevTcpFlags", 15},
    {"Proto", 16},
    {"TcpFlags", 17},
    {"SrcPort", 18},
    {"DstPort", 19},
    {"SrcAddr4", 20},
    {"DstAddr4", 21},
    {"SrcAddr6", 22},
    {"DstAddr6", 23},
    {"InIf", 24},
    {"OutIf", 25},
    {"InPhysIf", 26},
    {"OutPhysIf", 27},
    {"Vlan", 28},
    {"Dot1qVlan", 29},
    {"IpVersion", 30},
    {"StartSysUptime", 31},
    {"EndSysUptime", 32},
    {"StartSeconds", 33},
    {"EndSeconds", 34},
    {"StartMillis", 35},
    {"EndMillis", 36},
    {"StartNtp", 37},
    {"EndNtp", 38},
    {"StartDeltaMicros", 39},
    {"EndDeltaMicros", 40},
    {"DurationMillis", 41},
    {"DurationMicros", 42},
    {"SystemInitMillis", 43},
    {"IcmpTypeCode4", 44},
    {"IcmpTypeCode6", 45},
    {"IcmpType", 46},
    {"IcmpCode", 47},
    {"EndReason", 48},
    {"BiflowDirection", 49},
    {"SamplingInterval", K_SAMPLING_INTERVAL},
    {"SamplerRandomInterval", K_SAMPLER_RANDOM_INTERVAL},
    {"SamplingPacketInterval", K_SAMPLING_PACKET_INTERVAL},
    {"SamplingPacketSpace", K_SAMPLING_PACKET_SPACE},
    {"SamplingSize", K_SAMPLING_SIZE},
    {"SamplingPopulation", K_SAMPLING_POPULATION},
    {"SamplingProbability", K_SAMPLING_PROBABILITY},
    {"TransportSrcPort", K_TRANSPORT_SRC_PORT},
    {"TransportDstPort", K_TRANSPORT_DST_PORT}};

/* decodeKindOk(kind, len): whether decodeSet reads a field of this kind and length. */
napi_value fl_napi_decode_kind_ok(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t kind = -1, len = -1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || napi_get_value_int32(env, argv[0], &kind) != napi_ok || napi_get_value_int32(env, argv[1], &len) != napi_ok) {
    napi_throw_type_error(env, "FLOWLENS_NATIVE", "decodeKindOk(kind, len)");
    return NULL;
  }
  napi_value result;
  napi_get_boolean(env, fl_decode_kind_ok(kind, len) != 0, &result);
  return result;
}

/* collectorKinds: { kinds: name -> number (the kinds decodeSet reads), ctx: name -> index, maxRate }, checked
 * against the aggregator's at load. */
napi_value fl_napi_collector_kinds(napi_env env) {
  napi_value o, kinds, ctx, v;
  napi_create_object(env, &o);
  napi_create_object(env, &kinds);
  for (size_t i = 0; i < sizeof kind_names / sizeof kind_names[0]; i++) {
    napi_create_int32(env, kind_names[i].kind, &v);
    napi_set_named_property(env, kinds, kind_names[i].name, v);
  }
  napi_set_named_property(env, o, "kinds", kinds);
  static const char *const ctx_names[] = {"exportMs", "sysUptimeMs", "systemInitMs", "rate", "communityId", "l7At",
                                          "l7Len", "exporterAt", "exporterLen", "domain", "version", "endReasons"};
  napi_create_object(env, &ctx);
  for (int i = 0; i <= C_END_REASONS; i++) {
    napi_create_int32(env, i, &v);
    napi_set_named_property(env, ctx, ctx_names[i], v);
  }
  napi_set_named_property(env, o, "ctx", ctx);
  napi_create_int32(env, C_FIELDS, &v);
  napi_set_named_property(env, o, "ctxFields", v);
  napi_create_double(env, MAX_RATE, &v);
  napi_set_named_property(env, o, "maxRate", v);
  return o;
}
