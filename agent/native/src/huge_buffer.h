#ifndef FL_HUGE_BUFFER_H
#define FL_HUGE_BUFFER_H
#include <node_api.h>

/* hugeBuffer(bytes: number): ArrayBuffer — zeroed, 2 MiB aligned, advised to huge pages. */
napi_value fl_napi_huge_buffer(napi_env env, napi_callback_info info);

#endif
