#ifndef FL_BYTE_COPY_H
#define FL_BYTE_COPY_H
#include <node_api.h>

/* copyRanges(src, dst, jobs, count): many small copies in one call (see byte_copy.c). */
napi_value fl_napi_copy_ranges(napi_env env, napi_callback_info info);

#endif
