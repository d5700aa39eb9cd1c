#ifndef FL_COLLECTOR_DECODE_NAPI_H
#define FL_COLLECTOR_DECODE_NAPI_H
#include <node_api.h>

/* decodeSet(msg, start, end, plan, nfields, recLen, ctx, nums, meta, oneWay, row, maxRows, out) (see
 * collector_decode.c). */
napi_value fl_napi_decode_set(napi_env env, napi_callback_info info);
/* decodeKindOk(kind, len). */
napi_value fl_napi_decode_kind_ok(napi_env env, napi_callback_info info);
/* collectorKinds: the kind numbers and context indexes JS uses, checked at load. */
napi_value fl_napi_collector_kinds(napi_env env);

#endif
