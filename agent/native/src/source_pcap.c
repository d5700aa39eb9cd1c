#include "source_pcap.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct fl_pcap {
  pcap_t *p;
  int linktype;
  char path[512];
};

static int supported_link(int dlt) {
  switch (dlt) {
    case DLT_EN10MB:
    case DLT_LINUX_SLL:
#ifdef DLT_LINUX_SLL2
    case DLT_LINUX_SLL2:
#endif
    case DLT_RAW:
    case 14:
    case 101:
    case DLT_NULL:
    case DLT_LOOP:
    case DLT_PPP:
    case 104: /* C_HDLC */
    case 192: /* PPI */
    case 228:
    case 229:
      return 1;
    default:
      return 0;
  }
}

struct fl_pcap *fl_pcap_open(const char *path, const char *bpf, char *err, size_t errlen) {
  char perr[PCAP_ERRBUF_SIZE] = "";
  struct stat st;
  if (stat(path, &st) != 0) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return NULL;
  }
  if (S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "%s: is a directory, not a capture file", path);
    return NULL;
  }
  pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, perr);
  if (!p) {
    /* libpcap says "unknown file format" for anything that is not pcap/pcapng. */
    snprintf(err, errlen, "%s: not a readable pcap/pcapng capture (%s)", path, perr);
    return NULL;
  }
  int dlt = pcap_datalink(p);
  int lt = dlt;
  if (!supported_link(dlt)) {
    snprintf(err, errlen, "%s: link type %s (%d) is not supported", path, pcap_datalink_val_to_name(dlt) ? pcap_datalink_val_to_name(dlt) : "?", dlt);
    pcap_close(p);
    return NULL;
  }
  if (bpf && *bpf) {
    struct bpf_program prog;
    if (pcap_compile(p, &prog, bpf, 1, PCAP_NETMASK_UNKNOWN) != 0) {
      snprintf(err, errlen, "bad BPF filter '%s': %s", bpf, pcap_geterr(p));
      pcap_close(p);
      return NULL;
    }
    int rc = pcap_setfilter(p, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
      snprintf(err, errlen, "BPF filter '%s': %s", bpf, pcap_geterr(p));
      pcap_close(p);
      return NULL;
    }
  }
  struct fl_pcap *s = calloc(1, sizeof(*s));
  if (!s) {
    pcap_close(p);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  s->p = p;
  s->linktype = lt;
  snprintf(s->path, sizeof(s->path), "%s", path);
  return s;
}

int fl_pcap_linktype(const struct fl_pcap *s) { return s->linktype; }

int fl_pcap_run(struct fl_pcap *s, fl_pcap_packet_fn cb, void *ctx, volatile int *stop, char *err, size_t errlen) {
  struct pcap_pkthdr *h;
  const u_char *data;
  struct fl_packet pkt = {.linktype = s->linktype, .ifindex = 0};
  for (;;) {
    if (stop && *stop) return 0;
    int rc = pcap_next_ex(s->p, &h, &data);
    if (rc == 1) {
      pkt.ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
      pkt.caplen = h->caplen;
      pkt.wirelen = h->len;
      pkt.data = data;
      cb(ctx, &pkt);
    } else if (rc == PCAP_ERROR_BREAK) {
      return 0;
    } else {
      snprintf(err, errlen, "%s: %s", s->path, pcap_geterr(s->p));
      return -1;
    }
  }
}

void fl_pcap_close(struct fl_pcap *s) {
  if (!s) return;
  pcap_close(s->p);
  free(s);
}
