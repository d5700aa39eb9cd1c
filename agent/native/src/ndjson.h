/* Flow records as NDJSON, byte for byte what the JS path prints: BatchDecoder (records.ts)
 * decodes a record, `flowlens pcap` (cli/src/commands/pcap.ts, toRecord) reorders it and
 * JSON.stringify prints it. Formatting ~200k records a second in JS was most of what
 * `flowlens pcap` cost; here it is a fraction of the flow engine's time. */
#ifndef FL_NDJSON_H
#define FL_NDJSON_H
#include <stddef.h>
#include <stdint.h>
#include "flow_out.h"

/* Risk names by bit (64 entries, "" for none), as the addon publishes them to JS. */
typedef const char *const fl_risk_names[64];

/* Room one record's line can need at most, with these risk names. */
size_t fl_ndjson_max(fl_risk_names names);

/* Writes the NDJSON line of a serialized record (its strings follow it), newline included, at
 * out (fl_ndjson_max bytes of room); returns its length. */
size_t fl_ndjson_record(const struct fl_rec *r, fl_risk_names names, char *out);

/* Writes a string as JSON.stringify(new TextDecoder().decode(bytes)) would: UTF-8 decoded the
 * WHATWG way (a leading BOM dropped, each maximal invalid subpart replaced by U+FFFD), quoted
 * and escaped, as UTF-8. Returns the end of what was written (at most 2 + 6 * n bytes). */
char *fl_json_string(char *out, const uint8_t *s, size_t n);

/* Writes a number as JS's Number#toString prints an integer-valued double: exact below 2^53,
 * the shortest digits that read back to the same double above. */
char *fl_json_uint(char *out, double v);

/* Checks that `bytes` hold `count` well-formed serialized records (sizes add up, strings no
 * longer than fl_str_max), as fl_ndjson_record needs; returns 0 if so. */
int fl_rec_check(const uint8_t *data, size_t bytes, uint32_t count);

#endif
