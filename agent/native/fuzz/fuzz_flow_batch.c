/* libFuzzer target over the aggregator's native FlowBatch reader (flow_batch.c): any bytes
 * either give up, or yield records whose byte ranges all lie inside the input, in order.
 * Whether the values are the right ones is the aggregator's batch-decoder test's job (against
 * ts-proto's decoder); this one is about never reading or writing out of bounds. */
#include <stdint.h>
#include <stdlib.h>

#include "flow_batch.h"
#include "flow_batch_layout.h"

#define CAPACITY 64
static double nums[CAPACITY * FB_NUMS];
static int32_t offs[CAPACITY * FB_OFFS];
static int32_t head[FB_HEAD];

static void check_range(const int32_t *o, int at, size_t size) {
  if (o[at] < 0) return;
  if ((size_t)o[at + 1] > size || o[at + 1] < o[at]) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* A capacity from the first byte, so that "too many" is reached too. */
  size_t capacity = size > 0 ? (size_t)(data[0] % CAPACITY) + 1 : CAPACITY;
  int n = fl_flow_batch_decode(data, size, nums, offs, capacity, head);
  if (n == FB_GIVE_UP || n == FB_TOO_MANY) return 0;
  if (n < 0 || (size_t)n > capacity) abort();
  if (head[FB_H_AGENT] >= 0 && (size_t)head[FB_H_AGENT] + (size_t)head[FB_H_AGENT_LEN] > size) abort();
  int32_t last_end = 0;
  for (int i = 0; i < n; i++) {
    const int32_t *o = offs + i * FB_OFFS;
    if (o[FB_O_START] < last_end || o[FB_O_END] < o[FB_O_START] || (size_t)o[FB_O_END] > size) abort();
    last_end = o[FB_O_END];
    check_range(o, FB_O_SRC_ADDR, size);
    check_range(o, FB_O_DST_ADDR, size);
    check_range(o, FB_O_L7, size);
    check_range(o, FB_O_L7_CATEGORY, size);
    check_range(o, FB_O_COMMUNITY_ID, size);
    check_range(o, FB_O_EXPORTER, size);
    if (o[FB_O_INFO] >= 0 && (size_t)o[FB_O_INFO] + (size_t)o[FB_O_INFO_LEN] > size) abort();
    if (o[FB_O_RISKS] < 0) abort();
  }
  return 0;
}
