/* copyRanges: many small copies between two byte arrays in one call. The aggregator's flow
 * store keeps each record's encoding (a couple of hundred bytes) in its ring of recent flows;
 * copied one by one from JS that is a loop of 4-byte moves per record, and one N-API call per
 * record would cost more than the copy. So the store lists a batch's copies and hands them
 * over together (aggregator/src/state/flow-store.ts ByteCopier). */
#include "byte_copy.h"

#include "napi_typed.h"

#include <stdint.h>
#include <string.h>

/* copyRanges(src: Uint8Array, dst: Uint8Array, jobs: Int32Array, count): for each of `count`
 * triples (from, length, to) of jobs, src[from, from+length) to dst[to, to+length). A triple
 * that does not fit either array stops the copies there; returns how many were made. */
napi_value fl_napi_copy_ranges(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  void *src, *dst, *jobs;
  size_t src_len, dst_len, jobs_len;
  int32_t count;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4 ||
      !fl_typed_array(env, argv[0], napi_uint8_array, &src, &src_len) || !fl_typed_array(env, argv[1], napi_uint8_array, &dst, &dst_len) ||
      !fl_typed_array(env, argv[2], napi_int32_array, &jobs, &jobs_len) ||
      napi_get_value_int32(env, argv[3], &count) != napi_ok || count < 0 || (size_t)count > jobs_len / 3) {
    napi_throw_type_error(env, "FLOWLENS_NATIVE", "copyRanges(src: Uint8Array, dst: Uint8Array, jobs: Int32Array, count)");
    return NULL;
  }
  const int32_t *j = jobs;
  int32_t done = 0;
  for (; done < count; done++, j += 3) {
    int64_t from = j[0], len = j[1], to = j[2];
    if (from < 0 || len < 0 || to < 0 || (uint64_t)(from + len) > src_len || (uint64_t)(to + len) > dst_len) break;
    memcpy((uint8_t *)dst + to, (const uint8_t *)src + from, (size_t)len);
  }
  napi_value result;
  napi_create_int32(env, done, &result);
  return result;
}
