#ifndef FL_FLOW_ENCODE_NAPI_H
#define FL_FLOW_ENCODE_NAPI_H
#include <node_api.h>

/* encodeCollected(out, pos, src, strings, nums, meta, count, report) (see flow_encode.c). */
napi_value fl_napi_encode_collected(napi_env env, napi_callback_info info);
/* collectedLayout: the field indexes JS writes and reads, checked at load. */
napi_value fl_napi_collected_layout(napi_env env);

#endif
