/* libFuzzer target over the collector's set decoder (collector_decode.c): any plan of kinds and
 * lengths fl_decode_kind_ok accepts, any context and any record bytes must decode within the
 * set, never reading past it, each flow's addresses inside the message, and never more rows
 * than asked. That the flows are the JS decoder's is native-set.test.ts's job. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector_decode.h"
#include "flow_encode.h"

#define MAX_ROWS 8
#define MAX_FIELDS 24
static double nums[MAX_ROWS * E_NUMS];
static int32_t meta[MAX_ROWS * M_FIELDS];
static uint8_t one_way[MAX_ROWS];
static int32_t plan[2 * MAX_FIELDS];
static double ctx[C_FIELDS];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  int32_t nfields = data[0] % MAX_FIELDS + 1, max_rows = data[1] % (MAX_ROWS + 1);
  uint8_t ctx_bits = data[2];
  data += 3;
  size -= 3;
  int32_t n = 0, rec_len = 0;
  for (; n < nfields && size >= 2; data += 2, size -= 2) {
    int32_t kind = data[0] % K_KINDS, len = data[1] % 20;
    if (!fl_decode_kind_ok(kind, len)) continue;
    plan[2 * n] = kind;
    plan[2 * n + 1] = len;
    rec_len += len;
    n++;
  }
  if (n == 0 || rec_len == 0) return 0;
  /* Contexts of either protocol, with and without Community IDs and sampling. */
  ctx[C_EXPORT_MS] = 1700000000000.0;
  ctx[C_SYS_UPTIME_MS] = ctx_bits & 1 ? 123456.0 : -1;
  ctx[C_SYSTEM_INIT_MS] = ctx_bits & 2 ? 1600000000000.0 : -1;
  ctx[C_RATE] = ctx_bits & 4 ? 1000 : 1;
  ctx[C_COMMUNITY_ID] = (ctx_bits >> 3) & 1;
  ctx[C_VERSION] = ctx_bits & 16 ? 10 : 9;
  const uint8_t *msg = data;
  int32_t start = (int32_t)(size % 5), end = (int32_t)size;
  if (start > end) return 0;
  int32_t out[O_FIELDS];
  int32_t rows = fl_decode_set(msg, size, start, end, plan, n, rec_len, ctx, nums, meta, one_way, max_rows, out);
  if (rows < 0 || rows > max_rows) abort();
  if (out[O_NEXT] < start || out[O_NEXT] > end || (out[O_NEXT] - start) % rec_len != 0) abort();
  for (int32_t k = 0; k < rows; k++) {
    const int32_t *m = meta + (size_t)k * M_FIELDS;
    int32_t alen = m[M_IPV6] ? 16 : 4;
    for (int s = M_SRC; s <= M_DST; s++)
      if (m[s] >= 0 && (m[s] < start || m[s] + alen > end)) abort();
    if (m[M_SRC] < 0 && m[M_DST] < 0) abort(); /* a flow has an address */
  }
  return 0;
}
