/* libFuzzer target over the collector's record encoder (flow_encode.c): records whose numbers
 * are any doubles (NaN, infinities, fractions, beyond 2^64) and whose address offsets point
 * anywhere, into a source of any size, must be written inside the room the aggregator gives
 * them (FL_ENCODE_FIXED_MAX plus the strings per record), every reported range inside what was
 * written, and a Community ID computed from the tuple is whole within its record. That the
 * bytes are the JS encoder's is flow-records.test.ts's job. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow_encode.h"

#define MAX_RECORDS 16
#define STRINGS 256
static double nums[MAX_RECORDS * E_NUMS];
static int32_t meta[MAX_RECORDS * M_FIELDS];
static int32_t report[MAX_RECORDS * X_FIELDS];
static int hashed[MAX_RECORDS];
static uint8_t strings[STRINGS];
static uint8_t out[MAX_RECORDS * (FL_ENCODE_FIXED_MAX + 3 * STRINGS) + 64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  int32_t count = data[0] % MAX_RECORDS + 1;
  int ipv6 = data[1] & 1;
  data += 2;
  size -= 2;
  size_t need_nums = sizeof(double) * E_NUMS, need_meta = sizeof(int32_t) * M_FIELDS;
  int32_t n = 0;
  size_t room = 0;
  for (; n < count && size >= need_nums + need_meta; n++) {
    memcpy(nums + (size_t)n * E_NUMS, data, need_nums);
    int32_t *m = meta + (size_t)n * M_FIELDS;
    memcpy(m, data + need_nums, need_meta);
    /* Strings as the aggregator lays them out (inside `strings`); addresses left as they came. */
    m[M_IPV6] = ipv6;
    /* A quarter of the records have their Community ID computed from the tuple (the ports
     * packed in M_CID as they came), which takes up to 32 bytes of room. */
    hashed[n] = ((uint32_t)m[M_CID_LEN] & 3) == 0;
    for (int s = M_L7; s <= M_EXPORTER; s += 2) {
      uint32_t at = (uint32_t)m[s] % STRINGS, len = (uint32_t)m[s + 1] % (STRINGS - at + 1);
      m[s] = (int32_t)at;
      m[s + 1] = (int32_t)len;
      room += len;
    }
    if (hashed[n]) {
      room -= (size_t)m[M_CID_LEN];
      memcpy(&m[M_CID], data + need_nums + sizeof(int32_t) * M_CID, sizeof(int32_t));
      m[M_CID_LEN] = FL_CID_FROM_TUPLE;
      room += 32;
    }
    room += FL_ENCODE_FIXED_MAX;
    data += need_nums + need_meta;
    size -= need_nums + need_meta;
  }
  if (n == 0) return 0;
  /* What is left is the source the addresses are read from. */
  size_t pos = size % 7;
  int64_t end = fl_encode_flows(out, pos + room, pos, data, size, strings, STRINGS, nums, meta, n, report);
  if (end < 0) abort(); /* the room is what the aggregator reserves: it must always suffice */
  if ((size_t)end > pos + room) abort();
  int32_t last = (int32_t)pos;
  for (int32_t k = 0; k < n; k++) {
    const int32_t *r = report + (size_t)k * X_FIELDS;
    if (r[X_START] != last || r[X_END] < r[X_START] || r[X_END] > end) abort();
    if (r[X_SRC] < r[X_START] || r[X_SRC_END] < r[X_SRC] || r[X_SRC_END] > r[X_END]) abort();
    if (r[X_DST] < r[X_START] || r[X_DST_END] < r[X_DST] || r[X_DST_END] > r[X_END]) abort();
    if (r[X_CID] >= 0 && (r[X_CID] < r[X_START] || r[X_CID] > r[X_END])) abort();
    int32_t cid_len = meta[(size_t)k * M_FIELDS + M_CID_LEN];
    if (hashed[k] && (cid_len < 0 || cid_len > 31)) abort();
    if (r[X_CID] >= 0 && r[X_CID] + cid_len > r[X_END]) abort();
    last = r[X_END];
  }
  if (last != end) abort();
  return 0;
}
