/* Live source: AF_PACKET socket with a TPACKET_V3 (block-based, mmap'd) RX ring.
 *
 * One struct fl_afp per worker thread. Linux only.
 *
 * Behaviour worth knowing (details in source_afpacket.c):
 *  - Both directions are captured: packets the node sends (PACKET_OUTGOING) are kept, so a
 *    flow seen on one interface shows requests and replies. Exception: on a loopback
 *    interface every packet would appear twice (once outgoing, once incoming), so outgoing
 *    copies are suppressed there (PACKET_IGNORE_OUTGOING, as libpcap does in userland).
 *  - 802.1Q/802.1ad tags that the kernel moved out of the frame (TP_STATUS_VLAN_VALID) are
 *    put back at offset 12, so the decoder sees the frame as it was on the wire; caplen and
 *    wirelen grow by 4 like libpcap's.
 *  - The optional BPF filter runs in the kernel on the frame *without* that tag, i.e.
 *    `icmp` also matches VLAN-tagged ICMP, and the `vlan` primitive never matches an
 *    accelerated tag (see the comment above compile_filter()).
 *  - Packets are handed out in place from the ring: p->data is valid only during the
 *    callback. Nothing is allocated per packet.
 */
#ifndef FL_SOURCE_AFPACKET_H
#define FL_SOURCE_AFPACKET_H
#include <stddef.h>
#include <stdint.h>
#include "packet.h"

struct fl_afp_config {
  const char *ifname;
  uint32_t block_size;       /* bytes, power of two multiple of the page size; default 1 MiB if 0 */
  uint32_t block_count;      /* default 64 if 0 */
  uint32_t frame_size;       /* tp_frame_size; default 2048 if 0. TPACKET_V3 packs variable-size
                                frames into blocks, the kernel only uses this to validate the
                                request (block_size must be a multiple of it). */
  uint32_t block_timeout_ms; /* tp_retire_blk_tov: a partly filled block is handed to user space
                                after this long; default 10 if 0 */
  int promisc;               /* PACKET_ADD_MEMBERSHIP PACKET_MR_PROMISC (dropped on close) */
  int fanout_group_id;       /* 0 = no fanout; else 1..65535: PACKET_FANOUT with
                                PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG. All workers of one
                                interface share the id; ids are per network namespace and must
                                differ between interfaces (and from other programs' groups).
                                The hash is symmetric: both directions of a flow go to the same
                                worker. DEFRAG: IPv4 fragments are reassembled before hashing and
                                the worker receives the reassembled datagram, not the fragments.
                                The interface must be up to join. */
  const char *bpf;           /* optional pcap-filter expression (NULL or "" = none), run in the
                                kernel */
  uint32_t snaplen;          /* 0 = whole frame; else 1..262144: the kernel truncates to this many
                                bytes in the ring (a re-inserted VLAN tag counts towards it) */
};

struct fl_afp_stats {
  uint64_t packets;      /* packets that passed the filter: delivered to the ring + drops */
  uint64_t drops;        /* passed the filter but the ring was full */
  uint64_t freeze_count; /* times the ring filled up (kernel "queue frozen") */
}; /* cumulative since open: the kernel resets PACKET_STATISTICS on each read, we accumulate */

typedef void (*fl_packet_fn)(void *ctx, const struct fl_packet *p);

struct fl_afp;

/* NULL + a message in err (interface name, the step that failed and the errno text). */
struct fl_afp *fl_afp_open(const struct fl_afp_config *cfg, char *err, size_t errlen);

/* Waits up to timeout_ms (0 = don't wait, <0 = forever) for a ready block, walks every ready
 * block (at most block_count per call), calls cb once per packet and returns the blocks to the
 * kernel. Returns the number of packets delivered (>= 0; 0 on timeout or EINTR) or -1 with
 * err set (socket error, interface removed, corrupt ring).
 * Call from one thread only; fl_afp_stats may run concurrently from another thread. */
int fl_afp_poll(struct fl_afp *s, int timeout_ms, fl_packet_fn cb, void *ctx, char *err,
                size_t errlen);

/* Cumulative counters. 0, or -1 with errno set. Thread-safe (but not against fl_afp_close). */
int fl_afp_stats(struct fl_afp *s, struct fl_afp_stats *out);

/* The packet socket (for an external poll/epoll loop: POLLIN means a block is ready). */
int fl_afp_fd(const struct fl_afp *s);

/* DLT_* link type of the packets (FL_DLT_EN10MB or FL_DLT_RAW) and the interface index. */
int fl_afp_linktype(const struct fl_afp *s);
uint32_t fl_afp_ifindex(const struct fl_afp *s);

void fl_afp_close(struct fl_afp *s);

#endif
