#ifndef FL_LIVE_H
#define FL_LIVE_H
#include <node_api.h>
napi_value fl_live_start(napi_env env, napi_callback_info info);
#endif
