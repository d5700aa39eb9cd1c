/* Offline source: pcap and pcapng files through libpcap. */
#ifndef FL_SOURCE_PCAP_H
#define FL_SOURCE_PCAP_H
#include <stddef.h>
#include "packet.h"

struct fl_pcap;
typedef void (*fl_pcap_packet_fn)(void *ctx, const struct fl_packet *p);

/* Opens a capture and compiles `bpf` (may be NULL). NULL + a one-line reason in err. */
struct fl_pcap *fl_pcap_open(const char *path, const char *bpf, char *err, size_t errlen);
/* Reads every packet. Returns 0 at the end of the file, -1 with err set if the file is
 * truncated or corrupt part-way (packets before that were delivered). */
int fl_pcap_run(struct fl_pcap *s, fl_pcap_packet_fn cb, void *ctx, volatile int *stop, char *err, size_t errlen);
int fl_pcap_linktype(const struct fl_pcap *s);
void fl_pcap_close(struct fl_pcap *s);

#endif
