#ifndef FL_HOST_RESOLVE_H
#define FL_HOST_RESOLVE_H
#include <node_api.h>

/* hostResolver(layout, table, lruPrev, lruNext, ctl, addrs, apps, slots): a resolve(index,
 * batch, from, to, now) function for the aggregator's host table (see host_resolve.c). */
napi_value fl_napi_host_resolver(napi_env env, napi_callback_info info);

#endif
