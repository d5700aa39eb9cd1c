#include "source_pcap.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Classic pcap files are read here in 64 KiB chunks with one pread each, and packets are
 * handed on from the chunk in place; pcapng and anything else goes through libpcap. A BPF filter
 * then runs in libpcap's interpreter via pcap_offline_filter.
 * Why chunks: libpcap's fread per packet cost a fifth of the engine's time; a read-only mapping
 * of the file was no better, its page faults and TLB misses (worse in a virtual machine) stalling
 * the reader on every packet. A chunk that stays in the CPU cache, filled by one copy, costs
 * less than either, and memory stays flat however large the file. */
#define CHUNK ((size_t)64 << 10)
#define MAX_CAPLEN 262144u

struct fl_pcap {
  pcap_t *p;            /* reader (libpcap mode) or a dead handle for BPF (chunked mode) */
  int linktype;
  char path[512];
  int chunked;          /* chunked mode (else libpcap reads) */
  int fd;               /* chunked mode, while running (files are not held open before) */
  char *file;           /* chunked mode: the path to open (path[] is for messages, maybe cut) */
  uint64_t file_len;    /* chunked mode: the size when opened, as far as it is read */
  int swapped, nanos;
  struct bpf_program prog;
  int has_prog;
};

static uint32_t rd32(const uint8_t *p, int swapped) {
  uint32_t v;
  memcpy(&v, p, 4);
  return swapped ? __builtin_bswap32(v) : v;
}

/* Opens a classic pcap for chunked reading; 0 if it is not one (the caller falls back to
 * libpcap). */
static int open_classic(struct fl_pcap *s, const char *path, const char *bpf, char *err, size_t errlen) {
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
  close(fd);
  s->file = strdup(path);
  if (!s->file) {
    snprintf(err, errlen, "%s: out of memory", path);
    return -1;
  }
  s->chunked = 1;
  s->file_len = (uint64_t)st.st_size;
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
  ms->fd = -1;
  int classic = open_classic(ms, path, bpf, err, errlen);
  if (classic != 0) {
    if (classic < 0 || !supported_link(ms->linktype)) {
      if (classic > 0) {
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
  s->fd = -1;
  s->linktype = lt;
  snprintf(s->path, sizeof(s->path), "%s", path);
  return s;
}

int fl_pcap_linktype(const struct fl_pcap *s) { return s->linktype; }

struct chunk {
  uint8_t *buf;
  size_t cap;
  uint64_t base; /* file offset of buf[0] */
  size_t len;    /* bytes in buf */
  size_t at;     /* read cursor */
  int eof;       /* nothing more to read: the file as it was when opened is all in */
};

/* Keeps what is left after the cursor and reads after it until the buffer is full. */
static int refill(struct fl_pcap *s, struct chunk *c, char *err, size_t errlen) {
  memmove(c->buf, c->buf + c->at, c->len - c->at);
  c->base += c->at;
  c->len -= c->at;
  c->at = 0;
  while (c->len < c->cap) {
    uint64_t pos = c->base + c->len;
    if (pos >= s->file_len) {
      c->eof = 1;
      break;
    }
    size_t want = c->cap - c->len;
    if (s->file_len - pos < want) want = (size_t)(s->file_len - pos);
    ssize_t r = pread(s->fd, c->buf + c->len, want, (off_t)pos);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      snprintf(err, errlen, "%s: %s", s->path, strerror(errno));
      return -1;
    }
    if (r == 0) { /* the file shrank since it was opened */
      c->eof = 1;
      break;
    }
    c->len += (size_t)r;
  }
  return 0;
}

static int run_chunked(struct fl_pcap *s, fl_pcap_packet_fn cb, void *ctx, volatile int *stop, char *err, size_t errlen) {
  struct fl_packet pkt = {.linktype = s->linktype, .ifindex = 0};
  /* Room for a chunk after the largest record that can be left over from the previous one. */
  struct chunk c = {.cap = CHUNK + 16 + MAX_CAPLEN, .base = 24};
  c.buf = malloc(c.cap);
  if (!c.buf) {
    snprintf(err, errlen, "%s: out of memory", s->path);
    return -1;
  }
  s->fd = open(s->file, O_RDONLY | O_CLOEXEC);
  if (s->fd < 0) {
    snprintf(err, errlen, "%s: %s", s->path, strerror(errno));
    free(c.buf);
    return -1;
  }
  posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  int rc = 0;
  uint32_t n = 0;
  for (;;) {
    if ((++n & 0xfff) == 0 && stop && *stop) break;
    size_t left = c.len - c.at;
    if (left < 16 && !c.eof) {
      if ((rc = refill(s, &c, err, errlen)) != 0) break;
      continue;
    }
    if (left == 0) break; /* the end, on a record boundary */
    if (left < 16) {
      snprintf(err, errlen, "%s: truncated dump file; tried to read 16 header bytes, only got %zu", s->path, left);
      rc = -1;
      break;
    }
    const uint8_t *h = c.buf + c.at;
    uint32_t sec = rd32(h, s->swapped), frac = rd32(h + 4, s->swapped);
    uint32_t incl = rd32(h + 8, s->swapped), orig = rd32(h + 12, s->swapped);
    if (incl > MAX_CAPLEN) {
      snprintf(err, errlen, "%s: corrupt record at offset %llu: captured length %u is larger than any snapshot length", s->path,
               (unsigned long long)(c.base + c.at), incl);
      rc = -1;
      break;
    }
    if (left - 16 < incl) {
      if (!c.eof) { /* after a refill the whole record is in */
        if ((rc = refill(s, &c, err, errlen)) != 0) break;
        continue;
      }
      snprintf(err, errlen, "%s: truncated dump file; tried to read %u captured bytes, only got %zu", s->path, incl, left - 16);
      rc = -1;
      break;
    }
    pkt.ts_us = (uint64_t)sec * 1000000u + (s->nanos ? frac / 1000u : frac);
    pkt.caplen = incl;
    pkt.wirelen = orig < incl ? incl : orig;
    pkt.data = h + 16;
    c.at += 16 + (size_t)incl;
    if (s->has_prog) {
      struct pcap_pkthdr ph = {.caplen = incl, .len = pkt.wirelen};
      if (!pcap_offline_filter(&s->prog, &ph, pkt.data)) continue;
    }
    cb(ctx, &pkt);
  }
  free(c.buf);
  close(s->fd);
  s->fd = -1;
  return rc;
}

int fl_pcap_run(struct fl_pcap *s, fl_pcap_packet_fn cb, void *ctx, volatile int *stop, char *err, size_t errlen) {
  if (s->chunked) return run_chunked(s, cb, ctx, stop, err, errlen);
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
  if (s->fd >= 0) close(s->fd);
  free(s->file);
  if (s->p) pcap_close(s->p);
  free(s);
}
