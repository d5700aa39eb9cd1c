#include "source_pcap.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Classic pcap files are read straight from a read-only mapping (no copy per packet, which was
 * a fifth of the engine's time through fread); pcapng and anything else goes through libpcap.
 * A BPF filter on a mapped file runs in libpcap's interpreter via pcap_offline_filter. */
struct fl_pcap {
  pcap_t *p;            /* reader (libpcap mode) or a dead handle for BPF (mapped mode) */
  int linktype;
  char path[512];
  const uint8_t *map;   /* mapped mode */
  size_t map_len;
  int swapped, nanos;
  struct bpf_program prog;
  int has_prog;
};

static uint32_t rd32(const uint8_t *p, int swapped) {
  uint32_t v;
  memcpy(&v, p, 4);
  return swapped ? __builtin_bswap32(v) : v;
}

/* Opens a classic pcap by mapping it; 0 if it is not one (the caller falls back to libpcap). */
static int open_mapped(struct fl_pcap *s, const char *path, const char *bpf, char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size < 24) {
    close(fd);
    return 0;
  }
  uint8_t hdr[24];
  if (pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr)) {
    close(fd);
    return 0;
  }
  uint32_t magic;
  memcpy(&magic, hdr, 4);
  int swapped, nanos;
  if (magic == 0xa1b2c3d4u) swapped = 0, nanos = 0;
  else if (magic == 0xd4c3b2a1u) swapped = 1, nanos = 0;
  else if (magic == 0xa1b23c4du) swapped = 0, nanos = 1;
  else if (magic == 0x4d3cb2a1u) swapped = 1, nanos = 1;
  else {
    close(fd);
    return 0;
  }
  void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return 0;
  madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
  s->map = m;
  s->map_len = (size_t)st.st_size;
  s->swapped = swapped;
  s->nanos = nanos;
  s->linktype = (int)(rd32(hdr + 20, swapped) & 0xffff); /* upper bits: FCS length flags */
  uint32_t snaplen = rd32(hdr + 16, swapped);
  if (snaplen == 0 || snaplen > 262144) snaplen = 262144;
  /* libpcap compiles for DLT_ numbers; LINKTYPE_RAW (101) is DLT_RAW there. */
  int dlt = s->linktype == 101 ? DLT_RAW : s->linktype;
  s->p = pcap_open_dead_with_tstamp_precision(dlt, (int)snaplen, PCAP_TSTAMP_PRECISION_MICRO);
  if (!s->p) {
    snprintf(err, errlen, "%s: out of memory", path);
    return -1;
  }
  if (bpf && *bpf) {
    if (pcap_compile(s->p, &s->prog, bpf, 1, PCAP_NETMASK_UNKNOWN) != 0) {
      snprintf(err, errlen, "bad BPF filter '%s': %s", bpf, pcap_geterr(s->p));
      return -1;
    }
    s->has_prog = 1;
  }
  return 1;
}

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
  struct fl_pcap *ms = calloc(1, sizeof(*ms));
  if (!ms) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  snprintf(ms->path, sizeof(ms->path), "%s", path);
  int mapped = open_mapped(ms, path, bpf, err, errlen);
  if (mapped != 0) {
    if (mapped < 0 || !supported_link(ms->linktype)) {
      if (mapped > 0) {
        snprintf(err, errlen, "%s: link type %s (%d) is not supported", path,
                 pcap_datalink_val_to_name(ms->linktype) ? pcap_datalink_val_to_name(ms->linktype) : "?", ms->linktype);
      }
      fl_pcap_close(ms);
      return NULL;
    }
    return ms;
  }
  free(ms);
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

static int run_mapped(struct fl_pcap *s, fl_pcap_packet_fn cb, void *ctx, volatile int *stop, char *err, size_t errlen) {
  struct fl_packet pkt = {.linktype = s->linktype, .ifindex = 0};
  size_t off = 24;
  size_t released = 0; /* mapped bytes already handed back */
  const size_t page = (size_t)sysconf(_SC_PAGESIZE), step = (size_t)2 << 20;
  uint32_t n = 0;
  while (off < s->map_len) {
    if (off - released >= step) {
      /* Pages behind the cursor are done with: drop them so a large file does not count
       * against the process's memory (RSS) as it is read. */
      size_t upto = (off - 65536) & ~(page - 1);
      if (upto > released) {
        madvise((void *)(s->map + released), upto - released, MADV_DONTNEED);
        released = upto;
      }
    }
    if ((++n & 0xfff) == 0 && stop && *stop) return 0;
    if (s->map_len - off < 16) {
      snprintf(err, errlen, "%s: truncated dump file; tried to read 16 header bytes, only got %zu", s->path, s->map_len - off);
      return -1;
    }
    const uint8_t *h = s->map + off;
    uint32_t sec = rd32(h, s->swapped), frac = rd32(h + 4, s->swapped);
    uint32_t incl = rd32(h + 8, s->swapped), orig = rd32(h + 12, s->swapped);
    if (incl > 262144) {
      snprintf(err, errlen, "%s: corrupt record at offset %zu: captured length %u is larger than any snapshot length", s->path, off, incl);
      return -1;
    }
    if (s->map_len - off - 16 < incl) {
      snprintf(err, errlen, "%s: truncated dump file; tried to read %u captured bytes, only got %zu", s->path, incl,
               s->map_len - off - 16);
      return -1;
    }
    pkt.ts_us = (uint64_t)sec * 1000000u + (s->nanos ? frac / 1000u : frac);
    pkt.caplen = incl;
    pkt.wirelen = orig < incl ? incl : orig;
    pkt.data = h + 16;
    off += 16 + (size_t)incl;
    if (s->has_prog) {
      struct pcap_pkthdr ph = {.caplen = incl, .len = pkt.wirelen};
      if (!pcap_offline_filter(&s->prog, &ph, pkt.data)) continue;
    }
    cb(ctx, &pkt);
  }
  return 0;
}

int fl_pcap_run(struct fl_pcap *s, fl_pcap_packet_fn cb, void *ctx, volatile int *stop, char *err, size_t errlen) {
  if (s->map) return run_mapped(s, cb, ctx, stop, err, errlen);
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
  if (s->has_prog) pcap_freecode(&s->prog);
  if (s->map) munmap((void *)s->map, s->map_len);
  if (s->p) pcap_close(s->p);
  free(s);
}
