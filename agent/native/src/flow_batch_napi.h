#ifndef FL_FLOW_BATCH_NAPI_H
#define FL_FLOW_BATCH_NAPI_H
#include <node_api.h>

/* decodeFlowBatch(batch: Uint8Array, nums: Float64Array, offs: Int32Array, head: Int32Array). */
napi_value fl_napi_decode_flow_batch(napi_env env, napi_callback_info info);
/* flowBatchLayout: { nums, offs, head, giveUp, tooMany, N_*, O_*, H_* }. */
napi_value fl_napi_flow_batch_layout(napi_env env);

#endif
