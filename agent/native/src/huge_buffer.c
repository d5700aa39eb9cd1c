/* hugeBuffer(bytes): zeroed memory for a large table that is read at random (the aggregator's
 * host table and its index), aligned to 2 MiB and advised to transparent huge pages. At 100k
 * hosts every record touch is a TLB miss with 4 KiB pages, and on virtual machines a miss walks
 * two page tables; one 2 MiB page covers 512 times as much. Memory is still taken from the kernel
 * as it is first written, in 2 MiB steps where huge pages are granted, 4 KiB otherwise. */
#define _GNU_SOURCE
#include "huge_buffer.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

static void release(napi_env env, void *data, void *hint) {
  (void)env;
  munmap(data, (size_t)(uintptr_t)hint);
}

napi_value fl_napi_huge_buffer(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  double want = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_double(env, argv[0], &want) != napi_ok || !(want >= 1) || want > (double)(1ULL << 40)) {
    napi_throw_range_error(env, "FLOWLENS_NATIVE", "hugeBuffer(bytes): bytes must be from 1 to 2^40");
    return NULL;
  }
  size_t bytes = (size_t)want;
  size_t length = (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
  /* Over-allocate by one huge page and trim, so that the region starts on a 2 MiB boundary. */
  uint8_t *raw = mmap(NULL, length + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) {
    char msg[128];
    snprintf(msg, sizeof msg, "hugeBuffer(%zu): mmap: %s", bytes, strerror(errno));
    napi_throw_error(env, "FLOWLENS_NATIVE", msg);
    return NULL;
  }
  uint8_t *start = (uint8_t *)(((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
  if (start > raw) munmap(raw, (size_t)(start - raw));
  size_t tail = (size_t)((raw + length + HUGE_PAGE) - (start + length));
  if (tail > 0) munmap(start + length, tail);
  /* Advice only: without transparent huge pages the memory is ordinary pages. */
  (void)madvise(start, length, MADV_HUGEPAGE);
  napi_value ab;
  if (napi_create_external_arraybuffer(env, start, bytes, release, (void *)(uintptr_t)length, &ab) != napi_ok) {
    munmap(start, length);
    napi_throw_error(env, "FLOWLENS_NATIVE", "hugeBuffer: napi_create_external_arraybuffer failed");
    return NULL;
  }
  /* No napi_adjust_external_memory: V8 counts every ArrayBuffer's length, external ones too, in
   * the memory its collector heuristics weigh. */
  return ab;
}
