/* N-API surface of header_out.h: decodeHeaders() and its layout. */
#ifndef FL_HEADER_NAPI_H
#define FL_HEADER_NAPI_H
#include <node_api.h>

napi_value fl_napi_decode_headers(napi_env env, napi_callback_info info);
napi_value fl_napi_header_layout(napi_env env);

#endif
