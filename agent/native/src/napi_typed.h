/* The one typed-array check every N-API entry point of the addon makes on its arguments. */
#ifndef FL_NAPI_TYPED_H
#define FL_NAPI_TYPED_H
#include <node_api.h>
#include <stdbool.h>

/* Whether v is a typed array of type `want`; if so its data and element count. */
static inline bool fl_typed_array(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  napi_typedarray_type type;
  return napi_get_typedarray_info(env, v, &type, len, data, NULL, NULL) == napi_ok && type == want;
}

#endif
