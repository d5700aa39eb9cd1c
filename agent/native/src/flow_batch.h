#ifndef FL_FLOW_BATCH_H
#define FL_FLOW_BATCH_H
#include <stddef.h>
#include <stdint.h>

/* Reads a FlowBatch's records into nums (FB_NUMS doubles each) and offs (FB_OFFS int32s each),
 * at most `capacity` of them, and the batch's own fields into head (FB_HEAD int32s). Returns
 * the number of records, FB_TOO_MANY, or FB_GIVE_UP where only the JS decoder can say what the
 * batch is (see flow_batch.c). */
int fl_flow_batch_decode(const uint8_t *buf, size_t len, double *nums, int32_t *offs, size_t capacity,
                         int32_t *head);

#endif
