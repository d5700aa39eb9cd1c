/* Finished flows leave a worker thread in batches: a worker fills one, hands it to JS through a
 * thread-safe function and starts the next. JS owns a handed-over batch until it is collected. */
#ifndef FL_BATCH_H
#define FL_BATCH_H
#include <stdint.h>
#include "flow_out.h"

struct fl_batch {
  uint32_t count, cap;
  struct fl_flow_out recs[];
};

#endif
