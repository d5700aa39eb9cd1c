/* Manual/CI check for source_afpacket: capture on an interface for a while and print counts.
 *
 *   afpacket_test [opts] IFNAME [BPF] [SECONDS]      capture (BPF "" or "-" = none, default 3 s)
 *   afpacket_test -I COUNT [-v VID] IFNAME           inject COUNT 802.1Q-tagged ICMP echo
 *                                                    requests 10.231.250.2 -> 10.231.250.1
 * Capture options:
 *   -f N    N sources in N threads sharing one fanout group (PACKET_FANOUT_HASH|DEFRAG)
 *   -g ID   fanout group id (default 4242)
 *   -s LEN  snaplen      -b BYTES block size   -n N block count   -t MS block timeout
 *   -d MS   don't poll for the first MS milliseconds (lets the ring overflow)
 *   -p      promiscuous
 * Output: an "open" line, the first packets' lengths, per-thread lines with -f, then
 *   packets=N drops=N kernel_packets=N freeze=N vlan8100=N vlan100=N caplen_max=N ...
 * Exit: 0 ok, 2 open failed (message on stdout), 3 poll failed (message on stdout).
 * Build: gcc -O2 -Wall -Wextra -Werror -std=gnu11 -pthread -I../src afpacket_test.c
 *        ../src/source_afpacket.c -lpcap
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "source_afpacket.h"

#define MAX_THREADS 16
#define MAX_FLOWS 64
#define FIRST_N 5

struct flow {
  uint32_t a, b; /* lower / higher IPv4 address (host order) */
  uint16_t id;   /* ICMP echo identifier */
  uint64_t req, rep;
};

struct worker {
  int idx;
  struct fl_afp *src;
  int linktype;
  uint64_t packets, vlan8100, vlan_match, caplen_max, wirelen_max, lat_sum, lat_max;
  uint64_t bytes;
  struct flow flows[MAX_FLOWS];
  int nflows;
  int failed;
  char err[512];
  pthread_t th;
};

static atomic_int g_first_idx;
static uint32_t g_first_cap[FIRST_N], g_first_wire[FIRST_N];
static atomic_int g_stop;
static int g_vid = 100;
static int g_delay_ms;
static int g_block_timeout_ms = 10;

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

static void track_icmp(struct worker *w, const uint8_t *ip, uint32_t len) {
  if (len < 20 || (ip[0] >> 4) != 4) return;
  uint32_t ihl = (uint32_t)(ip[0] & 15) * 4;
  if (ihl < 20 || len < ihl + 8 || ip[9] != 1) return;
  if (((ip[6] & 0x1f) << 8 | ip[7]) != 0) return; /* not the first fragment */
  const uint8_t *ic = ip + ihl;
  if (ic[0] != 8 && ic[0] != 0) return;
  uint32_t src, dst;
  memcpy(&src, ip + 12, 4);
  memcpy(&dst, ip + 16, 4);
  src = ntohl(src);
  dst = ntohl(dst);
  uint32_t a = src < dst ? src : dst, b = src < dst ? dst : src;
  uint16_t id = (uint16_t)(ic[4] << 8 | ic[5]);
  struct flow *f = NULL;
  for (int i = 0; i < w->nflows; i++)
    if (w->flows[i].a == a && w->flows[i].b == b && w->flows[i].id == id) f = &w->flows[i];
  if (!f) {
    if (w->nflows == MAX_FLOWS) return;
    f = &w->flows[w->nflows++];
    f->a = a;
    f->b = b;
    f->id = id;
  }
  if (ic[0] == 8) f->req++;
  else f->rep++;
}

static void on_packet(void *ctx, const struct fl_packet *p) {
  struct worker *w = ctx;
  w->packets++;
  w->bytes += p->caplen;
  if (p->caplen > w->caplen_max) w->caplen_max = p->caplen;
  if (p->wirelen > w->wirelen_max) w->wirelen_max = p->wirelen;
  uint64_t now = now_us();
  uint64_t lat = now > p->ts_us ? now - p->ts_us : 0;
  w->lat_sum += lat;
  if (lat > w->lat_max) w->lat_max = lat;
  int i = atomic_fetch_add(&g_first_idx, 1);
  if (i < FIRST_N) {
    g_first_cap[i] = p->caplen;
    g_first_wire[i] = p->wirelen;
  }
  const uint8_t *d = p->data;
  uint32_t off = 0;
  if (p->linktype == 1) {
    if (p->caplen < 14) return;
    off = 12;
    if (d[12] == 0x81 && d[13] == 0x00) {
      w->vlan8100++;
      if (p->caplen >= 16 && (((d[14] & 0x0f) << 8) | d[15]) == g_vid) w->vlan_match++;
    }
    while (off + 4 <= p->caplen &&
           ((d[off] == 0x81 && d[off + 1] == 0x00) || (d[off] == 0x88 && d[off + 1] == 0xa8)))
      off += 4;
    if (off + 2 > p->caplen || d[off] != 0x08 || d[off + 1] != 0x00) return;
    off += 2;
  }
  track_icmp(w, d + off, p->caplen - off);
}

static void *worker_main(void *arg) {
  struct worker *w = arg;
  if (g_delay_ms) sleep_ms(g_delay_ms);
  while (!atomic_load(&g_stop)) {
    if (fl_afp_poll(w->src, 100, on_packet, w, w->err, sizeof w->err) < 0) {
      w->failed = 1;
      return NULL;
    }
  }
  /* Traffic is over: collect the last partly filled block (retired after the block timeout). */
  uint64_t end = now_us() + (uint64_t)(3 * g_block_timeout_ms + 20) * 1000u;
  while (now_us() < end) {
    if (fl_afp_poll(w->src, 5, on_packet, w, w->err, sizeof w->err) < 0) {
      w->failed = 1;
      return NULL;
    }
  }
  return NULL;
}

static uint16_t csum16(const uint8_t *p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += (uint32_t)p[n - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

/* Sends COUNT tagged frames; used where the kernel has no 8021q (no VLAN subinterfaces). */
static int inject(const char *ifname, int count) {
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    perror("socket");
    return 1;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
  if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
    perror("SIOCGIFINDEX");
    close(fd);
    return 1;
  }
  int ifindex = ifr.ifr_ifindex;
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
    perror("SIOCGIFHWADDR");
    close(fd);
    return 1;
  }
  uint8_t f[14 + 4 + 84];
  memset(f, 0, sizeof f);
  memset(f, 0xff, 6);
  memcpy(f + 6, ifr.ifr_hwaddr.sa_data, 6);
  f[12] = 0x81;
  f[13] = 0x00;
  uint16_t tci = (uint16_t)((3 << 13) | (g_vid & 0x0fff));
  f[14] = (uint8_t)(tci >> 8);
  f[15] = (uint8_t)tci;
  f[16] = 0x08;
  f[17] = 0x00;
  uint8_t *ip = f + 18;
  struct sockaddr_ll to;
  memset(&to, 0, sizeof to);
  to.sll_family = AF_PACKET;
  to.sll_ifindex = ifindex;
  to.sll_halen = 6;
  memset(to.sll_addr, 0xff, 6);
  for (int i = 0; i < count; i++) {
    memset(ip, 0, 84);
    ip[0] = 0x45;
    ip[3] = 84;
    ip[4] = (uint8_t)(i >> 8);
    ip[5] = (uint8_t)i;
    ip[6] = 0x40;
    ip[8] = 64;
    ip[9] = 1;
    const uint8_t srcip[4] = {10, 231, 250, 2}, dstip[4] = {10, 231, 250, 1};
    memcpy(ip + 12, srcip, 4);
    memcpy(ip + 16, dstip, 4);
    uint16_t c = csum16(ip, 20);
    ip[10] = (uint8_t)(c >> 8);
    ip[11] = (uint8_t)c;
    uint8_t *ic = ip + 20;
    ic[0] = 8;
    ic[4] = 0x42;
    ic[5] = 0x42;
    ic[6] = (uint8_t)(i >> 8);
    ic[7] = (uint8_t)i;
    for (int k = 8; k < 64; k++) ic[k] = (uint8_t)k;
    c = csum16(ic, 64);
    ic[2] = (uint8_t)(c >> 8);
    ic[3] = (uint8_t)c;
    if (sendto(fd, f, sizeof f, 0, (struct sockaddr *)&to, sizeof to) != (ssize_t)sizeof f) {
      perror("sendto");
      close(fd);
      return 1;
    }
    sleep_ms(10);
  }
  close(fd);
  printf("injected=%d vid=%d\n", count, g_vid);
  return 0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: afpacket_test [-f N] [-g ID] [-s LEN] [-b BYTES] [-n N] [-t MS] [-d MS] [-p]"
          " IFNAME [BPF] [SECONDS]\n"
          "       afpacket_test -I COUNT [-v VID] IFNAME\n");
  exit(64);
}

int main(int argc, char **argv) {
  struct fl_afp_config cfg;
  memset(&cfg, 0, sizeof cfg);
  int nthreads = 1, group = 4242, inject_count = 0;
  int opt;
  while ((opt = getopt(argc, argv, "+f:g:s:b:n:t:d:pI:v:")) != -1) {
    switch (opt) {
      case 'f': nthreads = atoi(optarg); break;
      case 'g': group = atoi(optarg); break;
      case 's': cfg.snaplen = (uint32_t)strtoul(optarg, NULL, 0); break;
      case 'b': cfg.block_size = (uint32_t)strtoul(optarg, NULL, 0); break;
      case 'n': cfg.block_count = (uint32_t)strtoul(optarg, NULL, 0); break;
      case 't': cfg.block_timeout_ms = (uint32_t)strtoul(optarg, NULL, 0); break;
      case 'd': g_delay_ms = atoi(optarg); break;
      case 'p': cfg.promisc = 1; break;
      case 'I': inject_count = atoi(optarg); break;
      case 'v': g_vid = atoi(optarg); break;
      default: usage();
    }
  }
  if (optind >= argc) usage();
  const char *ifname = argv[optind];
  if (inject_count > 0) return inject(ifname, inject_count);

  const char *bpf = optind + 1 < argc ? argv[optind + 1] : NULL;
  if (bpf && (!bpf[0] || strcmp(bpf, "-") == 0)) bpf = NULL;
  double seconds = optind + 2 < argc ? atof(argv[optind + 2]) : 3.0;
  if (nthreads < 1 || nthreads > MAX_THREADS) usage();
  if (cfg.block_timeout_ms) g_block_timeout_ms = (int)cfg.block_timeout_ms;
  cfg.ifname = ifname;
  cfg.bpf = bpf;
  cfg.fanout_group_id = nthreads > 1 ? group : 0;
  setvbuf(stdout, NULL, _IOLBF, 0);

  static struct worker w[MAX_THREADS];
  char err[512];
  for (int i = 0; i < nthreads; i++) {
    w[i].idx = i;
    w[i].src = fl_afp_open(&cfg, err, sizeof err);
    if (!w[i].src) {
      printf("open failed: %s\n", err);
      for (int j = 0; j < i; j++) fl_afp_close(w[j].src);
      return 2;
    }
    w[i].linktype = fl_afp_linktype(w[i].src);
  }
  printf("open ifname=%s ifindex=%u linktype=%d threads=%d fanout=%d bpf=\"%s\" snaplen=%u\n",
         ifname, fl_afp_ifindex(w[0].src), w[0].linktype, nthreads, cfg.fanout_group_id,
         bpf ? bpf : "", cfg.snaplen);
  printf("ready\n"); /* the test script starts its traffic after this line */

  for (int i = 0; i < nthreads; i++) pthread_create(&w[i].th, NULL, worker_main, &w[i]);
  /* Exercise fl_afp_stats concurrently with fl_afp_poll, as the probe's stats thread does. */
  uint64_t deadline = now_us() + (uint64_t)(seconds * 1e6);
  struct fl_afp_stats st;
  while (now_us() < deadline) {
    for (int i = 0; i < nthreads; i++) fl_afp_stats(w[i].src, &st);
    sleep_ms(20);
  }
  atomic_store(&g_stop, 1);
  for (int i = 0; i < nthreads; i++) pthread_join(w[i].th, NULL);

  uint64_t packets = 0, drops = 0, kpackets = 0, freeze = 0, vlan = 0, vmatch = 0;
  uint64_t capmax = 0, wiremax = 0, latsum = 0, latmax = 0;
  int failed = 0, used = 0;
  for (int i = 0; i < nthreads; i++) {
    if (fl_afp_stats(w[i].src, &st) < 0) {
      printf("stats failed: %s\n", strerror(errno));
      failed = 1;
    }
    if (w[i].failed) {
      printf("poll failed (thread %d): %s\n", i, w[i].err);
      failed = 1;
    }
    packets += w[i].packets;
    drops += st.drops;
    kpackets += st.packets;
    freeze += st.freeze_count;
    vlan += w[i].vlan8100;
    vmatch += w[i].vlan_match;
    if (w[i].caplen_max > capmax) capmax = w[i].caplen_max;
    if (w[i].wirelen_max > wiremax) wiremax = w[i].wirelen_max;
    latsum += w[i].lat_sum;
    if (w[i].lat_max > latmax) latmax = w[i].lat_max;
    if (w[i].packets) used++;
    if (nthreads > 1)
      printf("thread=%d packets=%llu kernel_packets=%llu drops=%llu flows=%d\n", i,
             (unsigned long long)w[i].packets, (unsigned long long)st.packets,
             (unsigned long long)st.drops, w[i].nflows);
  }
  int nfirst = atomic_load(&g_first_idx);
  if (nfirst > FIRST_N) nfirst = FIRST_N;
  printf("first:");
  for (int i = 0; i < nfirst; i++) printf(" %u/%u", g_first_cap[i], g_first_wire[i]);
  printf("   (caplen/wirelen)\n");

  /* Flows: an echo flow (address pair + identifier) must be seen by exactly one thread, with
   * its requests and its replies. */
  int nflows = 0, split = 0;
  uint64_t icmp = 0;
  for (int i = 0; i < nthreads; i++) {
    for (int k = 0; k < w[i].nflows; k++) {
      const struct flow *f = &w[i].flows[k];
      icmp += f->req + f->rep;
      int first = 1;
      for (int j = 0; j < i && first; j++)
        for (int m = 0; m < w[j].nflows; m++)
          if (w[j].flows[m].a == f->a && w[j].flows[m].b == f->b && w[j].flows[m].id == f->id)
            first = 0;
      if (!first) {
        split++;
        continue;
      }
      nflows++;
      for (int j = i + 1; j < nthreads; j++)
        for (int m = 0; m < w[j].nflows; m++)
          if (w[j].flows[m].a == f->a && w[j].flows[m].b == f->b && w[j].flows[m].id == f->id)
            split++;
      struct in_addr ia = {htonl(f->a)}, ib = {htonl(f->b)};
      char sa[16], sb[16];
      inet_ntop(AF_INET, &ia, sa, sizeof sa);
      inet_ntop(AF_INET, &ib, sb, sizeof sb);
      printf("flow %s<->%s id=%u thread=%d req=%llu rep=%llu\n", sa, sb, f->id, i,
             (unsigned long long)f->req, (unsigned long long)f->rep);
    }
  }

  printf("packets=%llu drops=%llu kernel_packets=%llu freeze=%llu vlan8100=%llu vlan%d=%llu "
         "caplen_max=%llu wirelen_max=%llu lat_avg_us=%llu lat_max_us=%llu icmp_echo=%llu "
         "flows=%d split_flows=%d threads_used=%d\n",
         (unsigned long long)packets, (unsigned long long)drops, (unsigned long long)kpackets,
         (unsigned long long)freeze, (unsigned long long)vlan, g_vid, (unsigned long long)vmatch,
         (unsigned long long)capmax, (unsigned long long)wiremax,
         (unsigned long long)(packets ? latsum / packets : 0), (unsigned long long)latmax,
         (unsigned long long)icmp, nflows, split, used);
  for (int i = 0; i < nthreads; i++) fl_afp_close(w[i].src);
  return failed ? 3 : 0;
}
