/* Live source: AF_PACKET + TPACKET_V3 RX ring. See source_afpacket.h.
 *
 * Setup order (each step matters):
 *   1. socket(AF_PACKET, SOCK_RAW, 0): protocol 0 registers no packet hook, so the socket
 *      receives nothing until bind() names a protocol. Nothing can reach it unfiltered.
 *   2. PACKET_VERSION = TPACKET_V3, then PACKET_RESERVE (4 bytes of headroom in front of every
 *      frame, used to re-insert VLAN tags in place), both before PACKET_RX_RING.
 *   3. SO_ATTACH_FILTER before bind(): the compiled expression, or, when joining a fanout
 *      group, a reject-all program (see 7).
 *   4. PACKET_RX_RING (tpacket_req3, tp_sizeof_priv 0) and mmap.
 *   5. bind(ifindex, ETH_P_ALL): capture starts here.
 *   6. PACKET_ADD_MEMBERSHIP PACKET_MR_PROMISC.
 *   7. PACKET_FANOUT. The kernel only accepts it on a bound socket, and between bind() and the
 *      join a socket would see *every* packet of the interface (duplicates across workers).
 *      The reject-all program attached in 3 closes that window; the real program replaces it
 *      (atomically) once the socket is in the group.
 * libpcap drains packets that were queued before the filter (recv() until EAGAIN). That is not
 * needed here: thanks to 1 and 3 no packet can enter the ring before its final filter (and a
 * recv() drain would not touch the ring anyway: ring sockets do not queue on sk_receive_queue).
 *
 * Walking the ring: blocks are handed to user space in order; block_status has TP_STATUS_USER
 * set once the kernel has closed the block (full, or tp_retire_blk_tov expired with at least
 * one packet in it: empty blocks are never retired). We read it with acquire semantics, walk
 * num_pkts packets through tp_next_offset, then store TP_STATUS_KERNEL with release semantics.
 * When the kernel wraps around onto a block we still own it "freezes" the queue and drops
 * (counted in tp_drops / tp_freeze_q_cnt) until we give that block back.
 */
#define _GNU_SOURCE
#include "source_afpacket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif
#ifndef TP_STATUS_VLAN_TPID_VALID
#define TP_STATUS_VLAN_TPID_VALID (1 << 6)
#endif

#define AFP_DEFAULT_BLOCK_SIZE (1u << 20)
#define AFP_DEFAULT_BLOCK_COUNT 64u
#define AFP_DEFAULT_FRAME_SIZE 2048u
#define AFP_DEFAULT_TIMEOUT_MS 10u
#define AFP_VLAN_TAG_LEN 4u
#define AFP_ETH_TYPE_OFF 12u /* where the tag goes: after the two MAC addresses */
#define AFP_MAX_SNAPLEN 262144u
/* Bytes of the frame slot used by the kernel before the packet: tpacket3_hdr + sockaddr_ll. */
#define AFP_HDR_END (TPACKET_ALIGN(sizeof(struct tpacket3_hdr)) + sizeof(struct sockaddr_ll))
/* How long one poll() may sleep while the interface is down, so that we notice its removal. */
#define AFP_NETDOWN_RECHECK_MS 100

struct fl_afp {
  int fd;
  int linktype;
  int arphrd;
  uint32_t ifindex;
  char ifname[IFNAMSIZ];

  uint8_t *map; /* block_count * block_size bytes shared with the kernel */
  size_t map_len;
  uint32_t block_size;
  uint32_t block_count;
  uint32_t cur; /* next block we expect the kernel to hand over */

  uint32_t snaplen;  /* 0 = unlimited */
  int skip_outgoing; /* loopback without PACKET_IGNORE_OUTGOING: drop the outgoing copies */
  int netdown;       /* saw ENETDOWN; check whether the interface still exists */

  uint8_t *scratch; /* VLAN re-insertion when the frame has no headroom (not expected) */
  size_t scratch_len;

  pthread_mutex_t stats_lock;
  struct fl_afp_stats stats;
};

static void set_err(char *err, size_t errlen, const char *ifname, int errnum, const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));

static void set_err(char *err, size_t errlen, const char *ifname, int errnum, const char *fmt,
                    ...) {
  if (!err || errlen == 0) return;
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (errnum) {
    char ebuf[128];
    const char *etxt = strerror_r(errnum, ebuf, sizeof ebuf); /* GNU variant */
    snprintf(err, errlen, "afpacket %s: %s: %s", ifname ? ifname : "?", msg, etxt);
  } else {
    snprintf(err, errlen, "afpacket %s: %s", ifname ? ifname : "?", msg);
  }
}

static int is_pow2(uint32_t v) { return v && !(v & (v - 1)); }

/* ---- filter ---------------------------------------------------------------------------- */

/* pcap_compile() is documented thread-safe since libpcap 1.8, but older builds used a global
 * parser; opening sources is rare, so serialise it anyway. */
static pthread_mutex_t g_compile_lock = PTHREAD_MUTEX_INITIALIZER;

/* Compiles `expr` for link type `dlt` (offsets as the kernel sees the frame: SOCK_RAW gives
 * the link-layer header for Ethernet/loopback, the IP header for ARPHRD_NONE) and returns a
 * malloc'd kernel program. The accept value is the snaplen, so the kernel truncates in the
 * ring. With no expression but a snaplen, the program is a single `ret #snaplen`.
 *
 * VLAN caveat: the kernel moves an 802.1Q tag out of the frame (into skb metadata) before any
 * packet socket sees it, and the filter runs on that untagged frame. A program compiled for an
 * offline handle looks for the tag at offset 12, so `vlan` / `vlan 100` never match such
 * frames, and `icmp` or `host X` match tagged traffic as if it were untagged. (An activated
 * libpcap handle would emit SKF_AD_VLAN_TAG_PRESENT loads for `vlan`; pcap_open_dead can't.)
 * Flows are still labelled correctly because the tag is re-inserted before the decoder. */
static int compile_filter(const char *expr, int dlt, uint32_t snaplen, struct sock_fprog *out,
                          char *msg, size_t msglen) {
  memset(out, 0, sizeof *out);
  if (!expr || !*expr) {
    struct sock_filter *ins = malloc(sizeof *ins);
    if (!ins) {
      snprintf(msg, msglen, "out of memory");
      return -1;
    }
    ins[0] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, snaplen);
    out->len = 1;
    out->filter = ins;
    return 0;
  }
  pthread_mutex_lock(&g_compile_lock);
  int rc = -1;
  pcap_t *p = pcap_open_dead(dlt, (int)(snaplen ? snaplen : AFP_MAX_SNAPLEN));
  if (!p) {
    snprintf(msg, msglen, "pcap_open_dead(linktype %d) failed", dlt);
    goto out;
  }
  struct bpf_program bp;
  if (pcap_compile(p, &bp, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
    snprintf(msg, msglen, "bad filter \"%s\": %s", expr, pcap_geterr(p));
    goto out_close;
  }
  if (bp.bf_len == 0 || bp.bf_len > BPF_MAXINSNS) {
    snprintf(msg, msglen, "filter \"%s\" compiles to %u instructions (kernel limit %d)", expr,
             bp.bf_len, BPF_MAXINSNS);
    goto out_free;
  }
  struct sock_filter *ins = malloc(sizeof *ins * bp.bf_len);
  if (!ins) {
    snprintf(msg, msglen, "out of memory");
    goto out_free;
  }
  for (u_int i = 0; i < bp.bf_len; i++) {
    ins[i].code = bp.bf_insns[i].code;
    ins[i].jt = bp.bf_insns[i].jt;
    ins[i].jf = bp.bf_insns[i].jf;
    ins[i].k = bp.bf_insns[i].k;
  }
  out->len = (unsigned short)bp.bf_len;
  out->filter = ins;
  rc = 0;
out_free:
  pcap_freecode(&bp);
out_close:
  pcap_close(p);
out:
  pthread_mutex_unlock(&g_compile_lock);
  return rc;
}

/* ---- open / close ---------------------------------------------------------------------- */

static int linktype_for_arphrd(int arphrd) {
  switch (arphrd) {
    case ARPHRD_ETHER:
    case ARPHRD_LOOPBACK: /* Linux loopback carries a fake (all-zero) Ethernet header */
      return FL_DLT_EN10MB;
    case ARPHRD_NONE: /* tun in IFF_TUN mode, wireguard: the frame starts at the IP header */
      return FL_DLT_RAW;
    default:
      return -1;
  }
}

void fl_afp_close(struct fl_afp *s) {
  if (!s) return;
  if (s->map) munmap(s->map, s->map_len);
  if (s->fd >= 0) close(s->fd); /* also tears down the ring, the fanout membership and promisc */
  free(s->scratch);
  pthread_mutex_destroy(&s->stats_lock);
  free(s);
}

struct fl_afp *fl_afp_open(const struct fl_afp_config *cfg, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!cfg || !cfg->ifname || !cfg->ifname[0]) {
    set_err(err, errlen, "", 0, "no interface name given");
    return NULL;
  }
  const char *ifn = cfg->ifname;
  if (strlen(ifn) >= IFNAMSIZ) {
    set_err(err, errlen, ifn, 0, "interface name longer than %d bytes", IFNAMSIZ - 1);
    return NULL;
  }

  uint32_t block_size = cfg->block_size ? cfg->block_size : AFP_DEFAULT_BLOCK_SIZE;
  uint32_t block_count = cfg->block_count ? cfg->block_count : AFP_DEFAULT_BLOCK_COUNT;
  uint32_t frame_size = cfg->frame_size ? cfg->frame_size : AFP_DEFAULT_FRAME_SIZE;
  uint32_t tmo = cfg->block_timeout_ms ? cfg->block_timeout_ms : AFP_DEFAULT_TIMEOUT_MS;
  long page = sysconf(_SC_PAGESIZE);
  if (page <= 0) page = 4096;
  if (!is_pow2(block_size) || block_size < (uint32_t)page) {
    set_err(err, errlen, ifn, 0, "block_size %u must be a power of two >= the page size (%ld)",
            block_size, page);
    return NULL;
  }
  uint32_t min_frame = (uint32_t)TPACKET_ALIGN(AFP_HDR_END + AFP_VLAN_TAG_LEN);
  if (frame_size < min_frame || frame_size % TPACKET_ALIGNMENT || frame_size > block_size ||
      block_size % frame_size) {
    set_err(err, errlen, ifn, 0,
            "frame_size %u must be a multiple of %d, >= %u and divide block_size %u", frame_size,
            TPACKET_ALIGNMENT, min_frame, block_size);
    return NULL;
  }
  if (block_count > UINT_MAX / block_size) {
    set_err(err, errlen, ifn, 0, "ring of %u x %u bytes is too large", block_count, block_size);
    return NULL;
  }
  if (cfg->snaplen > AFP_MAX_SNAPLEN) {
    set_err(err, errlen, ifn, 0, "snaplen %u above the maximum %u (0 = whole frame)",
            cfg->snaplen, AFP_MAX_SNAPLEN);
    return NULL;
  }
  if (cfg->fanout_group_id < 0 || cfg->fanout_group_id > 0xffff) {
    set_err(err, errlen, ifn, 0, "fanout_group_id %d out of range 0..65535",
            cfg->fanout_group_id);
    return NULL;
  }

  struct fl_afp *s = calloc(1, sizeof *s);
  if (!s) {
    set_err(err, errlen, ifn, ENOMEM, "allocating the source");
    return NULL;
  }
  s->fd = -1;
  pthread_mutex_init(&s->stats_lock, NULL);
  memcpy(s->ifname, ifn, strlen(ifn) + 1);
  s->block_size = block_size;
  s->block_count = block_count;
  s->snaplen = cfg->snaplen;
  struct sock_fprog prog = {0, NULL};
  int have_prog = 0;

  s->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (s->fd < 0) {
    int e = errno;
    set_err(err, errlen, ifn, e, "socket(AF_PACKET, SOCK_RAW)%s",
            (e == EPERM || e == EACCES) ? " (needs CAP_NET_RAW)" : "");
    goto fail;
  }

  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, ifn, strlen(ifn) + 1);
  if (ioctl(s->fd, SIOCGIFINDEX, &ifr) < 0) {
    set_err(err, errlen, ifn, errno, "looking up the interface (SIOCGIFINDEX)");
    goto fail;
  }
  s->ifindex = (uint32_t)ifr.ifr_ifindex;
  if (ioctl(s->fd, SIOCGIFHWADDR, &ifr) < 0) {
    set_err(err, errlen, ifn, errno, "reading the hardware type (SIOCGIFHWADDR)");
    goto fail;
  }
  s->arphrd = ifr.ifr_hwaddr.sa_family;
  s->linktype = linktype_for_arphrd(s->arphrd);
  if (s->linktype < 0) {
    set_err(err, errlen, ifn, 0,
            "unsupported link type ARPHRD %d (supported: Ethernet, loopback, raw IP/tun)",
            s->arphrd);
    goto fail;
  }

  int v = TPACKET_V3;
  if (setsockopt(s->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof v) < 0) {
    set_err(err, errlen, ifn, errno, "setting PACKET_VERSION TPACKET_V3");
    goto fail;
  }
  if (s->linktype == FL_DLT_EN10MB) {
    unsigned int reserve = AFP_VLAN_TAG_LEN;
    if (setsockopt(s->fd, SOL_PACKET, PACKET_RESERVE, &reserve, sizeof reserve) < 0) {
      set_err(err, errlen, ifn, errno, "setting PACKET_RESERVE");
      goto fail;
    }
  }
  if (s->arphrd == ARPHRD_LOOPBACK) {
    /* Every loopback packet passes the tap twice: on transmit (PACKET_OUTGOING) and on
     * receive. Keep one copy, like libpcap. Kernels < 4.20 lack the option: filter here. */
    int one = 1;
    if (setsockopt(s->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0)
      s->skip_outgoing = 1;
  }

  /* Filter (and/or snaplen), attached before bind. */
  if ((cfg->bpf && cfg->bpf[0]) || cfg->snaplen) {
    char msg[PCAP_ERRBUF_SIZE + 128];
    if (compile_filter(cfg->bpf, s->linktype, cfg->snaplen, &prog, msg, sizeof msg) < 0) {
      set_err(err, errlen, ifn, 0, "%s", msg);
      goto fail;
    }
    have_prog = 1;
  }
  struct sock_filter reject_all_ins = BPF_STMT(BPF_RET | BPF_K, 0);
  struct sock_fprog reject_all = {1, &reject_all_ins};
  if (cfg->fanout_group_id) {
    if (setsockopt(s->fd, SOL_SOCKET, SO_ATTACH_FILTER, &reject_all, sizeof reject_all) < 0) {
      set_err(err, errlen, ifn, errno, "attaching the startup reject-all filter");
      goto fail;
    }
  } else if (have_prog) {
    if (setsockopt(s->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) {
      set_err(err, errlen, ifn, errno, "attaching the filter (SO_ATTACH_FILTER)");
      goto fail;
    }
  }

  struct tpacket_req3 req;
  memset(&req, 0, sizeof req);
  req.tp_block_size = block_size;
  req.tp_block_nr = block_count;
  req.tp_frame_size = frame_size;
  req.tp_frame_nr = (block_size / frame_size) * block_count;
  req.tp_retire_blk_tov = tmo;
  req.tp_sizeof_priv = 0;
  req.tp_feature_req_word = 0;
  if (setsockopt(s->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) {
    int e = errno;
    set_err(err, errlen, ifn, e, "creating the RX ring (%u blocks x %u bytes)%s", block_count,
            block_size, e == ENOMEM ? "; use fewer or smaller blocks" : "");
    goto fail;
  }
  s->map_len = (size_t)block_size * block_count;
  void *m = mmap(NULL, s->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
  if (m == MAP_FAILED) {
    set_err(err, errlen, ifn, errno, "mapping the RX ring (%zu bytes)", s->map_len);
    goto fail;
  }
  s->map = m;

  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = (int)s->ifindex;
  if (bind(s->fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
    set_err(err, errlen, ifn, errno, "bind");
    goto fail;
  }
  int soerr = 0;
  socklen_t soerrlen = sizeof soerr;
  if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &soerrlen) < 0) {
    set_err(err, errlen, ifn, errno, "reading SO_ERROR after bind");
    goto fail;
  }
  if (soerr == ENETDOWN) {
    /* Interface exists but is down. The kernel hooks the socket in when it comes up. */
    if (cfg->fanout_group_id) {
      set_err(err, errlen, ifn, ENETDOWN,
              "interface is down; the kernel only lets a running socket join fanout group %d",
              cfg->fanout_group_id);
      goto fail;
    }
    s->netdown = 1;
  } else if (soerr) {
    set_err(err, errlen, ifn, soerr, "bind");
    goto fail;
  }

  if (cfg->promisc) {
    struct packet_mreq mr;
    memset(&mr, 0, sizeof mr);
    mr.mr_ifindex = (int)s->ifindex;
    mr.mr_type = PACKET_MR_PROMISC;
    if (setsockopt(s->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0) {
      set_err(err, errlen, ifn, errno, "enabling promiscuous mode");
      goto fail;
    }
  }

  if (cfg->fanout_group_id) {
    /* The kernel reads an int: id in the low 16 bits, mode | flags in the high 16. Built
     * unsigned because FLAG_DEFRAG (0x8000) << 16 overflows a signed int. */
    uint32_t fo = ((uint32_t)cfg->fanout_group_id & 0xffffu) |
                  ((uint32_t)(PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16);
    if (setsockopt(s->fd, SOL_PACKET, PACKET_FANOUT, &fo, sizeof fo) < 0) {
      int e = errno;
      set_err(err, errlen, ifn, e, "joining fanout group %d%s", cfg->fanout_group_id,
              e == EINVAL ? " (group exists with another mode or on another interface?)"
              : e == ENOSPC ? " (group full)"
                            : "");
      goto fail;
    }
    if (have_prog) {
      if (setsockopt(s->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) {
        set_err(err, errlen, ifn, errno, "attaching the filter (SO_ATTACH_FILTER)");
        goto fail;
      }
    } else {
      int dummy = 0;
      if (setsockopt(s->fd, SOL_SOCKET, SO_DETACH_FILTER, &dummy, sizeof dummy) < 0) {
        set_err(err, errlen, ifn, errno, "removing the startup reject-all filter");
        goto fail;
      }
    }
  }
  free(prog.filter);
  prog.filter = NULL;

  if (s->linktype == FL_DLT_EN10MB) {
    s->scratch_len = (size_t)(s->snaplen ? s->snaplen : block_size) + AFP_VLAN_TAG_LEN;
    s->scratch = malloc(s->scratch_len); /* untouched unless a frame lacks headroom */
    if (!s->scratch) {
      set_err(err, errlen, ifn, ENOMEM, "allocating the VLAN scratch buffer");
      goto fail;
    }
  }
  return s;

fail:
  free(prog.filter);
  fl_afp_close(s);
  return NULL;
}

int fl_afp_fd(const struct fl_afp *s) { return s ? s->fd : -1; }
int fl_afp_linktype(const struct fl_afp *s) { return s ? s->linktype : -1; }
uint32_t fl_afp_ifindex(const struct fl_afp *s) { return s ? s->ifindex : 0; }

/* ---- stats ----------------------------------------------------------------------------- */

int fl_afp_stats(struct fl_afp *s, struct fl_afp_stats *out) {
  if (!s || !out) {
    errno = EINVAL;
    return -1;
  }
  struct tpacket_stats_v3 st;
  memset(&st, 0, sizeof st);
  socklen_t len = sizeof st;
  pthread_mutex_lock(&s->stats_lock);
  if (getsockopt(s->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0) {
    int e = errno;
    pthread_mutex_unlock(&s->stats_lock);
    errno = e;
    return -1;
  }
  /* The kernel zeroes its counters on every read; tp_packets already includes tp_drops. */
  s->stats.packets += st.tp_packets;
  s->stats.drops += st.tp_drops;
  s->stats.freeze_count += st.tp_freeze_q_cnt;
  *out = s->stats;
  pthread_mutex_unlock(&s->stats_lock);
  return 0;
}

/* ---- receive --------------------------------------------------------------------------- */

static inline struct tpacket_block_desc *afp_block(const struct fl_afp *s, uint32_t i) {
  return (struct tpacket_block_desc *)(s->map + (size_t)i * s->block_size);
}

static inline int afp_block_ready(struct tpacket_block_desc *bd) {
  return (__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) != 0;
}

static inline void afp_block_release(struct tpacket_block_desc *bd) {
  __atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
}

/* After ENETDOWN: -1 if the interface is gone (the socket is dead for good), 1 if it is up
 * again, 0 if it still exists but is down. */
static int afp_check_iface(struct fl_afp *s, char *err, size_t errlen) {
  struct sockaddr_ll sll;
  socklen_t len = sizeof sll;
  memset(&sll, 0, sizeof sll);
  if (getsockname(s->fd, (struct sockaddr *)&sll, &len) == 0 && sll.sll_ifindex == -1) {
    set_err(err, errlen, s->ifname, 0, "interface disappeared (index %u)", s->ifindex);
    return -1;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, s->ifname, sizeof s->ifname);
  if (ioctl(s->fd, SIOCGIFINDEX, &ifr) < 0 || (uint32_t)ifr.ifr_ifindex != s->ifindex) {
    set_err(err, errlen, s->ifname, 0, "interface disappeared (index %u)", s->ifindex);
    return -1;
  }
  if (ioctl(s->fd, SIOCGIFFLAGS, &ifr) < 0) {
    int e = errno;
    if (e == ENODEV || e == ENXIO) {
      set_err(err, errlen, s->ifname, 0, "interface disappeared (index %u)", s->ifindex);
      return -1;
    }
    set_err(err, errlen, s->ifname, e, "reading interface flags");
    return -1;
  }
  return (ifr.ifr_flags & IFF_UP) ? 1 : 0;
}

/* Delivers every packet of one block. -1 with err set if the block is inconsistent. */
static int afp_walk_block(struct fl_afp *s, struct tpacket_block_desc *bd, fl_packet_fn cb,
                          void *ctx, int *delivered, char *err, size_t errlen) {
  uint8_t *const base = (uint8_t *)bd;
  const uint32_t bsz = s->block_size;
  const uint32_t num = bd->hdr.bh1.num_pkts;
  uint32_t off = bd->hdr.bh1.offset_to_first_pkt;
  struct fl_packet pkt;
  memset(&pkt, 0, sizeof pkt); /* fields packet.h may grow stay zero */
  pkt.linktype = s->linktype;
  pkt.ifindex = s->ifindex;

  for (uint32_t i = 0; i < num; i++) {
    if (off < sizeof(struct tpacket_block_desc) || off > bsz - sizeof(struct tpacket3_hdr)) {
      set_err(err, errlen, s->ifname, 0, "corrupt ring block: packet %u of %u at offset %u", i,
              num, off);
      return -1;
    }
    struct tpacket3_hdr *h = (struct tpacket3_hdr *)(base + off);
    const uint32_t mac = h->tp_mac, snap = h->tp_snaplen;
    if (mac < AFP_HDR_END || mac > bsz - off || snap > bsz - off - mac) {
      set_err(err, errlen, s->ifname, 0,
              "corrupt ring block: packet at offset %u has mac %u + snaplen %u > block %u", off,
              mac, snap, bsz);
      return -1;
    }

    int skip = 0;
    if (s->skip_outgoing) {
      const struct sockaddr_ll *sll =
          (const struct sockaddr_ll *)((uint8_t *)h + TPACKET_ALIGN(sizeof *h));
      skip = sll->sll_pkttype == PACKET_OUTGOING;
    }
    if (!skip) {
      uint8_t *data = (uint8_t *)h + mac;
      uint32_t caplen = snap, wirelen = h->tp_len;
      const uint32_t status = h->tp_status;
      if (s->linktype == FL_DLT_EN10MB &&
          ((status & TP_STATUS_VLAN_VALID) || h->hv1.tp_vlan_tci != 0) &&
          caplen >= AFP_ETH_TYPE_OFF) {
        /* The kernel stripped the outer tag into tp_vlan_tci/tpid. Put it back after the
         * MAC addresses. Normally in place: PACKET_RESERVE left >= 4 bytes in front of the
         * frame, so slide the 12 address bytes down (as libpcap does). */
        const uint16_t tci = h->hv1.tp_vlan_tci;
        const uint16_t tpid = ((status & TP_STATUS_VLAN_TPID_VALID) && h->hv1.tp_vlan_tpid)
                                  ? h->hv1.tp_vlan_tpid
                                  : ETH_P_8021Q;
        uint8_t *dst;
#ifndef FL_AFP_FORCE_VLAN_COPY
        if (mac >= AFP_HDR_END + AFP_VLAN_TAG_LEN) {
          dst = data - AFP_VLAN_TAG_LEN;
          memmove(dst, data, AFP_ETH_TYPE_OFF);
        } else
#endif
        {
          if (caplen > s->scratch_len - AFP_VLAN_TAG_LEN)
            caplen = (uint32_t)(s->scratch_len - AFP_VLAN_TAG_LEN);
          dst = s->scratch;
          memcpy(dst, data, AFP_ETH_TYPE_OFF);
          memcpy(dst + AFP_ETH_TYPE_OFF + AFP_VLAN_TAG_LEN, data + AFP_ETH_TYPE_OFF,
                 caplen - AFP_ETH_TYPE_OFF);
        }
        dst[AFP_ETH_TYPE_OFF + 0] = (uint8_t)(tpid >> 8);
        dst[AFP_ETH_TYPE_OFF + 1] = (uint8_t)tpid;
        dst[AFP_ETH_TYPE_OFF + 2] = (uint8_t)(tci >> 8);
        dst[AFP_ETH_TYPE_OFF + 3] = (uint8_t)tci;
        data = dst;
        caplen += AFP_VLAN_TAG_LEN;
        wirelen += AFP_VLAN_TAG_LEN;
        if (s->snaplen && caplen > s->snaplen) caplen = s->snaplen;
      }
      pkt.ts_us = (uint64_t)h->tp_sec * 1000000u + h->tp_nsec / 1000u;
      pkt.caplen = caplen;
      pkt.wirelen = wirelen;
      pkt.data = data;
      cb(ctx, &pkt);
      (*delivered)++;
    }

    if (i + 1 < num) {
      if (h->tp_next_offset == 0) {
        set_err(err, errlen, s->ifname, 0,
                "corrupt ring block: packet %u of %u has no next offset", i, num);
        return -1;
      }
      off += h->tp_next_offset;
    }
  }
  return 0;
}

int fl_afp_poll(struct fl_afp *s, int timeout_ms, fl_packet_fn cb, void *ctx, char *err,
                size_t errlen) {
  if (!s || !cb) {
    set_err(err, errlen, s ? s->ifname : "", EINVAL, "fl_afp_poll");
    return -1;
  }

  if (!afp_block_ready(afp_block(s, s->cur))) {
    if (s->netdown) {
      int up = afp_check_iface(s, err, errlen);
      if (up < 0) return -1;
      if (up) s->netdown = 0;
      else if (timeout_ms < 0 || timeout_ms > AFP_NETDOWN_RECHECK_MS)
        timeout_ms = AFP_NETDOWN_RECHECK_MS;
    }
    struct pollfd pfd = {.fd = s->fd, .events = POLLIN, .revents = 0};
    int r = poll(&pfd, 1, timeout_ms);
    if (r < 0) {
      if (errno == EINTR) return 0;
      set_err(err, errlen, s->ifname, errno, "poll");
      return -1;
    }
    if (r == 0) return 0;
    if (pfd.revents & POLLNVAL) {
      set_err(err, errlen, s->ifname, EBADF, "poll on a closed socket");
      return -1;
    }
    if (pfd.revents & (POLLERR | POLLHUP)) {
      int soerr = 0;
      socklen_t len = sizeof soerr;
      if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) soerr = errno;
      if (soerr == ENETDOWN) {
        /* Interface went down or is being removed. Blocks already closed stay readable. */
        s->netdown = 1;
        if (afp_check_iface(s, err, errlen) < 0) return -1;
      } else if (soerr) {
        set_err(err, errlen, s->ifname, soerr, "socket error");
        return -1;
      }
    }
  }

  int delivered = 0;
  for (uint32_t n = 0; n < s->block_count; n++) {
    struct tpacket_block_desc *bd = afp_block(s, s->cur);
    if (!afp_block_ready(bd)) break;
    int rc = afp_walk_block(s, bd, cb, ctx, &delivered, err, errlen);
    afp_block_release(bd);
    s->cur = (s->cur + 1 == s->block_count) ? 0 : s->cur + 1;
    if (rc < 0) return -1;
  }
  return delivered;
}
