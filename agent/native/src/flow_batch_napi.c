/* The JS side of flow_batch.c: decodeFlowBatch and the layout the JS decoder reads. */

#include "flow_batch.h"
#include "flow_batch_napi.h"
#include "napi_typed.h"
#include "flow_batch_layout.h"

napi_value fl_napi_decode_flow_batch(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  void *batch, *nums, *offs, *head;
  size_t batch_len, nums_len, offs_len, head_len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4 ||
      !fl_typed_array(env, argv[0], napi_uint8_array, &batch, &batch_len) ||
      !fl_typed_array(env, argv[1], napi_float64_array, &nums, &nums_len) ||
      !fl_typed_array(env, argv[2], napi_int32_array, &offs, &offs_len) ||
      !fl_typed_array(env, argv[3], napi_int32_array, &head, &head_len) || head_len < FB_HEAD) {
    napi_throw_type_error(env, "FLOWLENS_NATIVE",
                          "decodeFlowBatch(batch: Uint8Array, nums: Float64Array, offs: Int32Array, head: Int32Array)");
    return NULL;
  }
  size_t capacity = nums_len / FB_NUMS;
  if (offs_len / FB_OFFS < capacity) capacity = offs_len / FB_OFFS;
  napi_value result;
  napi_create_int32(env, fl_flow_batch_decode(batch, batch_len, nums, offs, capacity, head), &result);
  return result;
}

static void set_int(napi_env env, napi_value o, const char *name, int v) {
  napi_value n;
  napi_create_int32(env, v, &n);
  napi_set_named_property(env, o, name, n);
}

napi_value fl_napi_flow_batch_layout(napi_env env) {
  napi_value o;
  napi_create_object(env, &o);
  set_int(env, o, "nums", FB_NUMS);
  set_int(env, o, "offs", FB_OFFS);
  set_int(env, o, "head", FB_HEAD);
  set_int(env, o, "giveUp", FB_GIVE_UP);
  set_int(env, o, "tooMany", FB_TOO_MANY);
#define FB_SET_N(name) set_int(env, o, "N_" #name, FB_N_##name);
#define FB_SET_O(name) set_int(env, o, "O_" #name, FB_O_##name);
#define FB_SET_H(name) set_int(env, o, "H_" #name, FB_H_##name);
  FB_NUM_FIELDS(FB_SET_N)
  FB_OFF_FIELDS(FB_SET_O)
  FB_HEAD_FIELDS(FB_SET_H)
  return o;
}
