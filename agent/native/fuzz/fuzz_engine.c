/* libFuzzer target over the decoder and the flow table (DPI on: nDPI sees whatever we pass it,
 * so a bad length from us shows up here too).
 * Input: byte 0 picks the link type; then packets, each [u16 big-endian length][bytes]. Packets
 * are 1 ms apart so timeouts, lingers and fragment lifetimes all get exercised. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flowtable.h"

static const int linktypes[] = {FL_DLT_EN10MB, FL_DLT_LINUX_SLL, FL_DLT_LINUX_SLL2, FL_DLT_RAW, FL_DLT_NULL, FL_DLT_PPP};

/* The Makefile's fuzz target lists the engine sources it links; the NDJSON formatter joins them
 * here, so every record the fuzzed table emits is also serialized and printed under ASan. */
#include "../src/dpi.h"
#include "../src/ndjson.c"

static uint64_t emitted;
static const char *risk_names[64];
static _Alignas(8) uint8_t rec_buf[FL_REC_MAX];
static char *line;

static void sink(void *ctx, const struct fl_flow_out *rec) {
  (void)ctx;
  if (!line) {
    for (unsigned i = 0; i < 64; i++) risk_names[i] = fl_dpi_risk_name(i);
    line = malloc(fl_ndjson_max(risk_names));
    if (!line) abort();
  }
  size_t size = fl_rec_write(rec_buf, rec);
  if (size > FL_REC_MAX || fl_rec_check(rec_buf, size, 1) != 0) abort();
  size_t n = fl_ndjson_record((const struct fl_rec *)(const void *)rec_buf, risk_names, line);
  if (n > fl_ndjson_max(risk_names) || line[n - 1] != '\n') abort();
  emitted += rec->rec.s2d_pkts + rec->rec.d2s_pkts + n;
}

/* nDPI's set-up takes tens of milliseconds: one table for the whole run, emptied after every
 * input, with packet time moving forward across inputs. */
static struct fl_table *table;
static uint64_t ts = 1700000000000000ull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  static const struct fl_table_config cfg = {
      .max_flows = 64,
      .idle_timeout_us = 5000,
      .active_timeout_us = 20000,
      .linger_us = 2000,
      .sampling = 1,
      .dpi = 1,
  };
  if (!table) table = fl_table_new(&cfg, sink, NULL);
  struct fl_table *t = table;
  if (!t) return 0;
  int lt = linktypes[data[0] % (sizeof(linktypes) / sizeof(linktypes[0]))];
  size_t off = 1;
  while (off + 2 <= size) {
    size_t len = (size_t)data[off] << 8 | data[off + 1];
    off += 2;
    if (len > size - off) len = size - off;
    /* A private copy of exactly `len` bytes: any read past caplen is a heap overflow ASan sees. */
    uint8_t *pkt = __builtin_alloca(len ? len : 1);
    memcpy(pkt, data + off, len);
    struct fl_packet p = {.ts_us = ts, .caplen = (uint32_t)len, .wirelen = (uint32_t)len + (data[0] & 0x40 ? 100 : 0), .linktype = lt, .data = pkt};
    fl_table_packet(t, &p);
    ts += 1000;
    if ((ts / 1000) % 7 == 0) fl_table_expire(t, ts);
    off += len;
  }
  fl_table_flush(t, FL_END_EOF);
  ts += 60ull * 1000000; /* past every timeout before the next input */
  fl_table_expire(t, ts);
  return 0;
}
