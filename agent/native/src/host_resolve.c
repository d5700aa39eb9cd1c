/* hostResolver(memory): the aggregator's per-record host work for a group of flow records, in C:
 * resolve() looks the records' hosts up and marks them seen, account() counts the records in
 * them (counters, node, application and peer cells, local networks, top talkers), and the flow
 * key hash of records with a Community ID comes out of resolve() too.
 *
 * The table (aggregator/src/state/host-table.ts) is flat memory shared with JS: records of
 * layout.recordBytes, an open-addressing index of [hash, slot + 1] int32 pairs, and the LRU list
 * as two int32 arrays plus its head and tail in `ctl`. At 100k hosts nearly every record read
 * misses the CPU caches, and JS cannot issue a load without waiting for it; here each step of
 * the group's lookups (index entries, then records, then the cells the counting will read) is
 * prefetched for all records at once, so their misses overlap.
 *
 * Only the common cases are done here: known hosts with short ASCII keys, cells found or added
 * inline. Each function walks the group in order and stops at the first record that is anything
 * else; JS does that one (an insert, an eviction, a peer told apart by its address string) and
 * calls again for the rest, so the state changes exactly as if JS had done every record in
 * order. The layout comes from JS (HOST_LAYOUT) and is bounds-checked once; any inconsistency
 * between the arrays and the layout is a stop, never a read out of bounds. */
#include "host_resolve.h"
#include "napi_typed.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GROUP 256

/* Layout of a host record, as host-table.ts has it (HOST_LAYOUT, by these names). */
enum {
  L_RECORD_BYTES,
  L_KEY_BYTES,
  L_B_KEY,
  L_I_KEY_LEN,
  L_I_HASH,
  L_R_LAST_SEEN,
  L_B_APP_CELLS,
  L_B_PEER_CELLS,
  L_REGION_IDS,
  L_CELL_BYTES,
  L_INLINE_CELLS,
  L_I_APPS,
  L_I_PEERS,
  /* Counting (account()): */
  L_R_BYTES_SENT,
  L_R_BYTES_RCVD,
  L_R_PACKETS_SENT,
  L_R_PACKETS_RCVD,
  L_R_FLOWS_CLIENT,
  L_R_FLOWS_SERVER,
  L_R_RETRANSMITS,
  L_R_CLIENT_LAT_SUM,
  L_R_CLIENT_LAT_FLOWS,
  L_R_SERVER_LAT_SUM,
  L_R_SERVER_LAT_FLOWS,
  L_I_GEN,
  L_I_PEER0,
  L_R_APP0,
  L_R_PEER0,
  L_R_OTHER_APPS,
  L_R_OTHER_PEERS,
  L_I_APP0,
  L_I_PEER0_SLOT,
  L_I_PEER0_GEN,
  L_I_NODE0,
  L_CELL_SLOT,
  L_CELL_GEN,
  L_I_NET,
  L_I_SERIES,
  L_COUNT
};

/* What kind of field each layout entry is, for the bounds check: a float64 or int32 index into
 * the record (F, I), a byte offset or size (B). */
static const char layout_kind[L_COUNT] = {
    'B', 'B', 'B', 'I', 'I', 'F', 'B', 'B', 'B', 'B', 'B', 'I', 'I', /* lookups */
    'F', 'F', 'F', 'F', 'F', 'F', 'F', 'F', 'F', 'F', 'F', 'I', 'I', 'T', 'T', 'T', 'T', 'I', 'I', 'I', 'I', 'C', 'C', 'I', 'I',
};

static const char *const layout_names[L_COUNT] = {
    "recordBytes", "keyBytes",   "keyOffset",    "keyLengthInt",  "hashInt",  "lastSeenF64",  "appCellsOffset",
    "peerCellsOffset", "regionIdBytes", "cellBytes", "inlineCells", "appsInt", "peersInt",
    "bytesSentF64", "bytesRcvdF64", "packetsSentF64", "packetsRcvdF64", "flowsClientF64", "flowsServerF64",
    "retransmitsF64", "clientLatencySumF64", "clientLatencyFlowsF64", "serverLatencySumF64", "serverLatencyFlowsF64",
    "genInt", "peer0HashInt", "app0CountsF64", "peer0CountsF64", "otherAppsF64", "otherPeersF64", "app0Int",
    "peer0SlotInt", "peer0GenInt", "node0Int", "cellSlotInt", "cellGenInt", "netInt", "seriesInt",
};

/* ctl: [0] LRU head, [1] LRU tail, [2] slots in use (records that may be read). */
enum { C_HEAD, C_TAIL, C_USED, C_LEN };

typedef struct {
  int32_t layout[L_COUNT];
  uint8_t *table;
  size_t table_bytes;
  int32_t *lru_prev;
  int32_t *lru_next;
  size_t lru_len;
  int32_t *ctl;
  const int32_t *addrs; /* 4 per record: src start, src end, dst start, dst end (-1: not bytes) */
  const int32_t *apps;  /* application id per record (-1: unknown) */
  int32_t *slots;       /* out: 2 per record */
  const double *nums;   /* NUMS per record, for account() */
  int32_t *flags;       /* out of account(): per record, the NEW_* bits */
  size_t group_len;     /* records addrs, apps, slots, nums and flags have room for */
  int32_t cell_cap;     /* keys counted apart per host and list */
  /* Local networks' counters (NET_FIELDS each), by the index + 1 hosts hold in I_NET. */
  double *net_counters;
  size_t networks;
  /* Top talkers of the current bucket (state/top-talkers.ts): bytes and position in `touched`
   * per slot, the touched slots, and their count in talk_ctl[0]. */
  double *talk_bytes;
  int32_t *talk_idx;
  int32_t *touched;
  int32_t *talk_ctl;
  size_t talk_len;
  /* Per group record: the Community ID's bytes [start, end) in the batch (KEY_TUPLE: none, the
   * key is the 5-tuple and VLAN; -1: JS hashes), the tuple's numbers (src port, dst port,
   * protocol, VLAN), and out, the flow key hash the flow store files the record under
   * (KEY_NOT_HASHED: JS makes it). */
  const int32_t *key_ranges;
  const double *key_tuples;
  double *key_hashes;
  napi_ref refs[19];
} resolver;

#define N_REFS 19
#define KEY_TUPLE (-2)
#define MAX_COMMUNITY_ID 64
#define KEY_NOT_HASHED 4294967296.0

enum { NET_BYTES_SENT, NET_BYTES_RCVD, NET_PACKETS_SENT, NET_PACKETS_RCVD, NET_FLOWS, NET_FIELDS };

/* nums per record: src->dst bytes and packets, dst->src bytes and packets, new flow (0/1),
 * src and dst retransmissions, client and server latency to add (< 0: none). */
enum { N_S2D_BYTES, N_S2D_PACKETS, N_D2S_BYTES, N_D2S_PACKETS, N_NEW, N_SRC_RETR, N_DST_RETR, N_CLIENT_LAT, N_SERVER_LAT, NUMS };

/* flags: what JS completes after account() (the strings and objects C does not hold). */
enum { NEW_SRC_APP = 1, NEW_DST_APP = 2, NEW_SRC_PEER = 4, NEW_DST_PEER = 8, SRC_SERIES = 16, DST_SERIES = 32 };

static void resolver_free(napi_env env, void *data, void *hint) {
  (void)hint;
  resolver *r = data;
  for (int i = 0; i < N_REFS; i++)
    if (r->refs[i] != NULL) napi_delete_reference(env, r->refs[i]);
  free(r);
}

#define FNV_OFFSET 0x811c9dc5u
#define FNV_PRIME 0x01000193u

/* FNV-1a of p[0, n) continued from h; the bytes OR-ed into or_bits (an ASCII check). */
static inline uint32_t fnv1a_from(uint32_t h, const uint8_t *p, int32_t n, uint32_t *or_bits) {
  uint32_t o = 0;
  for (int32_t i = 0; i < n; i++) {
    o |= p[i];
    h = (h ^ p[i]) * FNV_PRIME;
  }
  *or_bits |= o;
  return h;
}

static inline uint32_t fnv1a(const uint8_t *p, int32_t n, uint32_t *or_bits) {
  return fnv1a_from(FNV_OFFSET, p, n, or_bits);
}

/* FNV-1a steps over the decimal digits of n, as `${n}` writes them (hashDecimal in flow-store.ts). */
static inline uint32_t fnv_decimal(uint32_t h, uint32_t n) {
  char digits[10];
  int len = 0;
  do {
    digits[len++] = (char)('0' + n % 10);
    n /= 10;
  } while (n > 0);
  while (len > 0) h = (h ^ (uint8_t)digits[--len]) * FNV_PRIME;
  return h;
}

/* flowKeyHash() of a record keyed by its 5-tuple and VLAN (tupleHash in flow-store.ts): FNV-1a of
 * "src|sport|dst|dport|proto|vlan"; KEY_NOT_HASHED when a number is not a uint32 or an address
 * byte is not ASCII, as there. */
static double tuple_hash(const uint8_t *batch, const int32_t *a, const double *t) {
  for (int i = 0; i < 4; i++)
    if (!(t[i] >= 0 && t[i] <= 4294967295.0 && t[i] == (double)(uint32_t)t[i])) return KEY_NOT_HASHED;
  uint32_t bits = 0;
  uint32_t h = fnv1a(batch + a[0], a[1] - a[0], &bits);
  h = fnv_decimal((h ^ '|') * FNV_PRIME, (uint32_t)t[0]);
  h = fnv1a_from((h ^ '|') * FNV_PRIME, batch + a[2], a[3] - a[2], &bits);
  h = fnv_decimal((h ^ '|') * FNV_PRIME, (uint32_t)t[1]);
  h = fnv_decimal((h ^ '|') * FNV_PRIME, (uint32_t)t[2]);
  h = fnv_decimal((h ^ '|') * FNV_PRIME, (uint32_t)t[3]);
  return bits < 0x80 ? (double)(int32_t)h : KEY_NOT_HASHED;
}

static inline void lru_unlink(resolver *r, int32_t s) {
  int32_t p = r->lru_prev[s];
  int32_t n = r->lru_next[s];
  if (p < 0) r->ctl[C_HEAD] = n;
  else r->lru_next[p] = n;
  if (n < 0) r->ctl[C_TAIL] = p;
  else r->lru_prev[n] = p;
}

static inline void lru_append(resolver *r, int32_t s) {
  int32_t tail = r->ctl[C_TAIL];
  r->lru_prev[s] = tail;
  r->lru_next[s] = -1;
  if (tail < 0) r->ctl[C_HEAD] = s;
  else r->lru_next[tail] = s;
  r->ctl[C_TAIL] = s;
}

/* The LRU links of a slot must be a list's: neighbours in range. */
static inline int links_ok(const resolver *r, int32_t s) {
  int32_t p = r->lru_prev[s];
  int32_t n = r->lru_next[s];
  return p >= -1 && n >= -1 && (p < 0 || (size_t)p < r->lru_len) && (n < 0 || (size_t)n < r->lru_len);
}

static inline void prefetch_cell_ids(const resolver *r, const uint8_t *rec, int32_t region, int32_t count, int32_t id) {
  const int32_t *ids = (const int32_t *)(rec + region);
  int32_t n = count - 1;
  int32_t inline_cells = r->layout[L_INLINE_CELLS];
  if (n > inline_cells) n = inline_cells;
  for (int32_t c = 0; c < n; c++) {
    if (ids[c] == id) {
      __builtin_prefetch(rec + region + r->layout[L_REGION_IDS] + c * r->layout[L_CELL_BYTES], 1);
      return;
    }
  }
  if (n >= 0 && n < inline_cells) __builtin_prefetch(rec + region + r->layout[L_REGION_IDS] + n * r->layout[L_CELL_BYTES], 1);
}

/* Whether slot s holds the key. */
static inline int key_at(const resolver *r, int32_t s, const uint8_t *key, int32_t len) {
  const uint8_t *rec = r->table + (size_t)s * (size_t)r->layout[L_RECORD_BYTES];
  return ((const int32_t *)rec)[r->layout[L_I_KEY_LEN]] == len && memcmp(rec + r->layout[L_B_KEY], key, (size_t)len) == 0;
}

/* The slot of a key in the index (linear probing from its home), or -1. At most every entry is
 * looked at: an index without an empty entry (never, unless corrupted) cannot loop forever. */
static int32_t probe(const resolver *r, const int32_t *index, uint32_t mask, int32_t used, uint32_t h, const uint8_t *key,
                     int32_t len) {
  for (uint32_t p = h & mask, n = 0; n <= mask; p = (p + 1) & mask, n++) {
    int32_t s1 = index[2 * p + 1];
    if (s1 == 0) return -1;
    if ((uint32_t)index[2 * p] != h) continue;
    int32_t s = s1 - 1;
    if (s < 0 || s >= used) return -1;
    if (key_at(r, s, key, len)) return s;
  }
  return -1;
}

/* resolve(index: Int32Array, batch: Uint8Array, from, to, now): number */
static napi_value resolve(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  resolver *r = NULL;
  int32_t from = 0, to = 0;
  double now = 0;
  napi_value result, self;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok || argc < 5 ||
      napi_unwrap(env, self, (void **)&r) != napi_ok || r == NULL ||
      napi_get_value_int32(env, argv[2], &from) != napi_ok || napi_get_value_int32(env, argv[3], &to) != napi_ok ||
      napi_get_value_double(env, argv[4], &now) != napi_ok) {
    napi_throw_type_error(env, "FLOWLENS_NATIVE", "resolver.resolve(index, batch, from, to, now): bad arguments");
    return NULL;
  }
  napi_typedarray_type type;
  size_t index_len = 0, batch_len = 0;
  void *index_data = NULL, *batch_data = NULL;
  if (napi_get_typedarray_info(env, argv[0], &type, &index_len, &index_data, NULL, NULL) != napi_ok ||
      type != napi_int32_array ||
      napi_get_typedarray_info(env, argv[1], &type, &batch_len, &batch_data, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    napi_throw_type_error(env, "FLOWLENS_NATIVE", "resolve: index must be an Int32Array, batch a Uint8Array");
    return NULL;
  }
  if (from < 0 || to < from || (size_t)to > r->group_len || to - from > MAX_GROUP) {
    napi_throw_range_error(env, "FLOWLENS_NATIVE", "resolve: records [from, to) out of the group arrays");
    return NULL;
  }
  const int32_t *index = index_data;
  const uint8_t *batch = batch_data;
  /* The flow key hash (flowKeyHash() in flow-store.ts) of records with an ASCII Community ID, or
   * with none and their addresses' bytes in the batch. */
  for (int32_t k = from; k < to; k++) {
    int32_t start = r->key_ranges[2 * k], end = r->key_ranges[2 * k + 1];
    double out = KEY_NOT_HASHED;
    const int32_t *a = r->addrs + 4 * k;
    if (start == KEY_TUPLE) {
      if (a[0] >= 0 && a[2] >= 0 && a[1] >= a[0] && a[3] >= a[2] && (size_t)a[1] <= batch_len && (size_t)a[3] <= batch_len)
        out = tuple_hash(batch, a, r->key_tuples + 4 * k);
    } else if (start >= 0 && end > start && end - start <= MAX_COMMUNITY_ID && (size_t)end <= batch_len) {
      uint32_t bits = 0;
      uint32_t h = fnv1a(batch + start, end - start, &bits);
      if (bits < 0x80) out = (double)(int32_t)h;
    }
    r->key_hashes[k] = out;
  }

  /* index_len is a power of two times 2 ([hash, slot + 1] pairs). */
  uint32_t entries = (uint32_t)(index_len / 2);
  if (entries == 0 || (entries & (entries - 1)) != 0) {
    napi_create_int32(env, from, &result);
    return result;
  }
  uint32_t mask = entries - 1;
  const int32_t *L = r->layout;
  const size_t rec_bytes = (size_t)L[L_RECORD_BYTES];
  const int32_t key_bytes = L[L_KEY_BYTES];
  int32_t used = r->ctl[C_USED];
  if (used < 0 || (size_t)used * rec_bytes > r->table_bytes || (size_t)used > r->lru_len) used = 0;

  int32_t n = to - from;
  uint32_t hash[2 * MAX_GROUP];
  int32_t slot[2 * MAX_GROUP];
  int32_t ok_to = n; /* records before this one have hashable keys */
  /* Step 1: hashes; their index entries prefetched. */
  for (int32_t k = 0; k < n; k++) {
    const int32_t *a = r->addrs + 4 * (from + k);
    int32_t s0 = a[0], s1 = a[1], d0 = a[2], d1 = a[3];
    if (s0 < 0 || d0 < 0 || s1 <= s0 || d1 <= d0 || s1 - s0 > key_bytes || d1 - d0 > key_bytes ||
        (size_t)s1 > batch_len || (size_t)d1 > batch_len) {
      ok_to = k;
      break;
    }
    uint32_t bits = 0;
    hash[2 * k] = fnv1a(batch + s0, s1 - s0, &bits);
    hash[2 * k + 1] = fnv1a(batch + d0, d1 - d0, &bits);
    if (bits >= 0x80) {
      ok_to = k;
      break;
    }
    __builtin_prefetch(index + 2 * (hash[2 * k] & mask));
    __builtin_prefetch(index + 2 * (hash[2 * k + 1] & mask));
  }
  /* Step 2: slots from the entries; the records' hot lines and cell ids prefetched. */
  for (int32_t j = 0; j < 2 * ok_to; j++) {
    /* The first entry with the key's hash: nearly always its host (step 4 checks the key). */
    int32_t s = -1;
    for (uint32_t p = hash[j] & mask, m = 0; m <= mask; p = (p + 1) & mask, m++) {
      if (index[2 * p + 1] == 0) break;
      if ((uint32_t)index[2 * p] == hash[j]) {
        s = index[2 * p + 1] - 1;
        break;
      }
    }
    if (s >= used) s = -1;
    slot[j] = s;
    if (s < 0) continue;
    const uint8_t *rec = r->table + (size_t)s * rec_bytes;
    for (int32_t b = 0; b < 320; b += 64) __builtin_prefetch(rec + b, 1);
    __builtin_prefetch(rec + L[L_B_APP_CELLS]);
    __builtin_prefetch(rec + L[L_B_PEER_CELLS]);
    __builtin_prefetch(rec + L[L_B_PEER_CELLS] + L[L_REGION_IDS] - 4);
    __builtin_prefetch(r->lru_prev + s, 1);
    __builtin_prefetch(r->lru_next + s, 1);
  }
  /* Step 3: the cells counting will read, and the LRU neighbours. */
  for (int32_t j = 0; j < 2 * ok_to; j++) {
    int32_t s = slot[j];
    int32_t peer = slot[j ^ 1];
    if (s < 0) continue;
    const uint8_t *rec = r->table + (size_t)s * rec_bytes;
    const int32_t *i32 = (const int32_t *)rec;
    if (peer >= 0) {
      int32_t app = r->apps[from + (j >> 1)];
      prefetch_cell_ids(r, rec, L[L_B_APP_CELLS], i32[L[L_I_APPS]], app);
      const int32_t *p32 = (const int32_t *)(r->table + (size_t)peer * rec_bytes);
      prefetch_cell_ids(r, rec, L[L_B_PEER_CELLS], i32[L[L_I_PEERS]], p32[L[L_I_HASH]]);
    }
    int32_t p = r->lru_prev[s], q = r->lru_next[s];
    if (p >= 0 && (size_t)p < r->lru_len) __builtin_prefetch(r->lru_next + p, 1);
    if (q >= 0 && (size_t)q < r->lru_len) __builtin_prefetch(r->lru_prev + q, 1);
  }
  /* Step 4: in order, each record's two hosts found (probing on from the home entry, as
   * HostTable.lookup() does) and marked seen; stop at the first that is not in the table. */
  int32_t k = 0;
  for (; k < ok_to; k++) {
    const int32_t *a = r->addrs + 4 * (from + k);
    int32_t found[2];
    for (int side = 0; side < 2; side++) {
      int32_t start = a[2 * side], len = a[2 * side + 1] - start;
      uint32_t h = hash[2 * k + side];
      int32_t s = slot[2 * k + side];
      if (s < 0 || !key_at(r, s, batch + start, len)) s = probe(r, index, mask, used, h, batch + start, len);
      found[side] = s;
    }
    if (found[0] < 0 || found[1] < 0 || !links_ok(r, found[0]) || !links_ok(r, found[1])) break;
    for (int side = 0; side < 2; side++) {
      int32_t s = found[side];
      ((double *)(r->table + (size_t)s * rec_bytes))[L[L_R_LAST_SEEN]] = now;
      if (s != r->ctl[C_TAIL]) {
        lru_unlink(r, s);
        lru_append(r, s);
      }
    }
    r->slots[2 * (from + k)] = found[0];
    r->slots[2 * (from + k) + 1] = found[1];
  }
  napi_create_int32(env, from + k, &result);
  return result;
}


/* What counting a key in a host's cells (HostTable.addApp/addPeer) will do. */
enum { PLAN_JS, PLAN_FIRST_NEW, PLAN_FIRST, PLAN_CELL, PLAN_CELL_NEW, PLAN_OTHER };

typedef struct {
  int kind;
  int32_t cell; /* for PLAN_CELL, PLAN_CELL_NEW */
} plan;

#define I32(rec) ((int32_t *)(rec))
#define F64(rec) ((double *)(rec))

/* Where `id` goes among a host's cells of `region` (the first key's fields given), or PLAN_JS
 * when only JS can tell: a peer that may be the same host in another slot (told by its address
 * string), or keys beyond the inline cells in a pool block. */
static plan plan_cells(const resolver *r, const uint8_t *rec, int peer_list, int32_t id, int32_t peer_slot,
                       int32_t peer_gen) {
  const int32_t *L = r->layout;
  const int32_t *i32 = I32(rec);
  int32_t count = i32[peer_list ? L[L_I_PEERS] : L[L_I_APPS]];
  plan p = {PLAN_JS, 0};
  if (count == 0) {
    p.kind = PLAN_FIRST_NEW;
    return p;
  }
  if (!peer_list) {
    if (i32[L[L_I_APP0]] == id) {
      p.kind = PLAN_FIRST;
      return p;
    }
  } else if (i32[L[L_I_PEER0]] == id) {
    if (i32[L[L_I_PEER0_SLOT]] == peer_slot && i32[L[L_I_PEER0_GEN]] == peer_gen) p.kind = PLAN_FIRST;
    return p; /* else: the same address in another slot, or another with its hash: JS */
  }
  int32_t region = peer_list ? L[L_B_PEER_CELLS] : L[L_B_APP_CELLS];
  int32_t inline_cells = L[L_INLINE_CELLS];
  int32_t n = count - 1;
  if (n < 0) return p;
  int32_t m = n < inline_cells ? n : inline_cells;
  const int32_t *ids = (const int32_t *)(rec + region);
  for (int32_t c = 0; c < m; c++) {
    if (ids[c] != id) continue;
    if (peer_list) {
      const int32_t *cell = (const int32_t *)(rec + region + L[L_REGION_IDS] + c * L[L_CELL_BYTES]);
      if (cell[L[L_CELL_SLOT]] != peer_slot || cell[L[L_CELL_GEN]] != peer_gen) return p;
    }
    p.kind = PLAN_CELL;
    p.cell = c;
    return p;
  }
  int pool = r->cell_cap - 1 > inline_cells;
  if (n > inline_cells && pool) return p;
  if (n + 1 >= r->cell_cap) {
    p.kind = PLAN_OTHER;
    return p;
  }
  if (n < inline_cells) {
    p.kind = PLAN_CELL_NEW;
    p.cell = n;
  }
  return p;
}

static inline void add3(double *c, double bytes, double packets, double flows) {
  c[0] += bytes;
  c[1] += packets;
  c[2] += flows;
}

static void apply_cells(const resolver *r, uint8_t *rec, int peer_list, plan p, int32_t id, int32_t peer_slot,
                        int32_t peer_gen, double bytes, double packets, double flows) {
  const int32_t *L = r->layout;
  int32_t *i32 = I32(rec);
  double *f64 = F64(rec);
  int32_t region = peer_list ? L[L_B_PEER_CELLS] : L[L_B_APP_CELLS];
  int32_t count_field = peer_list ? L[L_I_PEERS] : L[L_I_APPS];
  double *first = f64 + (peer_list ? L[L_R_PEER0] : L[L_R_APP0]);
  switch (p.kind) {
    case PLAN_FIRST_NEW:
      if (peer_list) {
        i32[L[L_I_PEER0]] = id;
        i32[L[L_I_PEER0_SLOT]] = peer_slot;
        i32[L[L_I_PEER0_GEN]] = peer_gen;
      } else {
        i32[L[L_I_APP0]] = id;
      }
      i32[count_field] = 1;
      first[0] = bytes;
      first[1] = packets;
      first[2] = flows;
      break;
    case PLAN_FIRST:
      add3(first, bytes, packets, flows);
      break;
    case PLAN_CELL:
      add3((double *)(rec + region + L[L_REGION_IDS] + p.cell * L[L_CELL_BYTES]), bytes, packets, flows);
      break;
    case PLAN_CELL_NEW: {
      uint8_t *at = rec + region + L[L_REGION_IDS] + p.cell * L[L_CELL_BYTES];
      ((int32_t *)(rec + region))[p.cell] = id;
      ((int32_t *)at)[L[L_CELL_SLOT]] = peer_list ? peer_slot : -1;
      ((int32_t *)at)[L[L_CELL_GEN]] = peer_list ? peer_gen : 0;
      double *c = (double *)at;
      c[0] = bytes;
      c[1] = packets;
      c[2] = flows;
      i32[count_field] = p.cell + 2;
      break;
    }
    case PLAN_OTHER:
      add3(f64 + (peer_list ? L[L_R_OTHER_PEERS] : L[L_R_OTHER_APPS]), bytes, packets, flows);
      break;
  }
}

/* TopTalkers.add(t, bytes): the slot's bytes in the current bucket, listed when first counted. */
static inline void talk(resolver *r, int32_t t, double bytes) {
  if (r->talk_idx[t] < 0) {
    int32_t n = r->talk_ctl[0];
    r->talk_idx[t] = n;
    r->touched[n] = t;
    r->talk_ctl[0] = n + 1;
  }
  r->talk_bytes[t] += bytes;
}

/* account(from, to, node): counts group records [from, to) in their hosts (slots from resolve()
 * or JS), as LiveState's JS counting would, in order; stops at the first record only JS can
 * count (returns its position; `to` when all were counted). */
static napi_value account(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  resolver *r = NULL;
  int32_t from = 0, to = 0, node = 0;
  napi_value result, self;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok || argc < 3 ||
      napi_unwrap(env, self, (void **)&r) != napi_ok || r == NULL ||
      napi_get_value_int32(env, argv[0], &from) != napi_ok || napi_get_value_int32(env, argv[1], &to) != napi_ok ||
      napi_get_value_int32(env, argv[2], &node) != napi_ok) {
    napi_throw_type_error(env, "FLOWLENS_NATIVE", "resolver.account(from, to, node): bad arguments");
    return NULL;
  }
  if (from < 0 || to < from || (size_t)to > r->group_len) {
    napi_throw_range_error(env, "FLOWLENS_NATIVE", "account: records [from, to) out of the group arrays");
    return NULL;
  }
  const int32_t *L = r->layout;
  const size_t rec_bytes = (size_t)L[L_RECORD_BYTES];
  int32_t used = r->ctl[C_USED];
  if (used < 0 || (size_t)used * rec_bytes > r->table_bytes) used = 0;
  int32_t k = from;
  for (; k < to; k++) {
    int32_t src = r->slots[2 * k], dst = r->slots[2 * k + 1];
    /* A field that is not an address, or a host talking to itself: JS. */
    if (src < 0 || dst < 0 || src >= used || dst >= used || src == dst) break;
    uint8_t *rs = r->table + (size_t)src * rec_bytes;
    uint8_t *rd = r->table + (size_t)dst * rec_bytes;
    if (I32(rs)[L[L_I_NODE0]] != node || I32(rd)[L[L_I_NODE0]] != node) break;
    int32_t app = r->apps[k];
    if (app < 0) break;
    int32_t src_net = I32(rs)[L[L_I_NET]], dst_net = I32(rd)[L[L_I_NET]];
    if (src_net < 0 || dst_net < 0 || (size_t)src_net > r->networks || (size_t)dst_net > r->networks) break;
    if ((size_t)src >= r->talk_len || (size_t)dst >= r->talk_len || r->talk_ctl[0] < 0) break;
    size_t listing = (size_t)(r->talk_idx[src] < 0) + (size_t)(r->talk_idx[dst] < 0);
    if ((size_t)r->talk_ctl[0] + listing > r->talk_len) break;
    int32_t src_hash = I32(rs)[L[L_I_HASH]], dst_hash = I32(rd)[L[L_I_HASH]];
    int32_t src_gen = I32(rs)[L[L_I_GEN]], dst_gen = I32(rd)[L[L_I_GEN]];
    plan src_app = plan_cells(r, rs, 0, app, -1, 0);
    plan dst_app = plan_cells(r, rd, 0, app, -1, 0);
    plan src_peer = plan_cells(r, rs, 1, dst_hash, dst, dst_gen);
    plan dst_peer = plan_cells(r, rd, 1, src_hash, src, src_gen);
    if (src_app.kind == PLAN_JS || dst_app.kind == PLAN_JS || src_peer.kind == PLAN_JS || dst_peer.kind == PLAN_JS) break;
    const double *v = r->nums + (size_t)NUMS * (size_t)k;
    double bytes = v[N_S2D_BYTES] + v[N_D2S_BYTES];
    double packets = v[N_S2D_PACKETS] + v[N_D2S_PACKETS];
    double nf = v[N_NEW];
    double *fs = F64(rs), *fd = F64(rd);
    fs[L[L_R_BYTES_SENT]] += v[N_S2D_BYTES];
    fs[L[L_R_BYTES_RCVD]] += v[N_D2S_BYTES];
    fs[L[L_R_PACKETS_SENT]] += v[N_S2D_PACKETS];
    fs[L[L_R_PACKETS_RCVD]] += v[N_D2S_PACKETS];
    fd[L[L_R_BYTES_SENT]] += v[N_D2S_BYTES];
    fd[L[L_R_BYTES_RCVD]] += v[N_S2D_BYTES];
    fd[L[L_R_PACKETS_SENT]] += v[N_D2S_PACKETS];
    fd[L[L_R_PACKETS_RCVD]] += v[N_S2D_PACKETS];
    apply_cells(r, rs, 0, src_app, app, -1, 0, bytes, packets, nf);
    apply_cells(r, rs, 1, src_peer, dst_hash, dst, dst_gen, bytes, packets, nf);
    apply_cells(r, rd, 0, dst_app, app, -1, 0, bytes, packets, nf);
    apply_cells(r, rd, 1, dst_peer, src_hash, src, src_gen, bytes, packets, nf);
    fs[L[L_R_FLOWS_CLIENT]] += nf;
    fs[L[L_R_RETRANSMITS]] += v[N_SRC_RETR];
    if (v[N_CLIENT_LAT] >= 0) {
      fs[L[L_R_CLIENT_LAT_SUM]] += v[N_CLIENT_LAT];
      fs[L[L_R_CLIENT_LAT_FLOWS]] += 1;
    }
    fd[L[L_R_FLOWS_SERVER]] += nf;
    fd[L[L_R_RETRANSMITS]] += v[N_DST_RETR];
    if (v[N_SERVER_LAT] >= 0) {
      fd[L[L_R_SERVER_LAT_SUM]] += v[N_SERVER_LAT];
      fd[L[L_R_SERVER_LAT_FLOWS]] += 1;
    }
    /* Networks, then talkers, as LiveState.countHostExtras has them. */
    double *ns = src_net > 0 ? r->net_counters + (size_t)(src_net - 1) * NET_FIELDS : NULL;
    double *nd = dst_net > 0 ? r->net_counters + (size_t)(dst_net - 1) * NET_FIELDS : NULL;
    if (ns != NULL) {
      ns[NET_BYTES_SENT] += v[N_S2D_BYTES];
      ns[NET_BYTES_RCVD] += v[N_D2S_BYTES];
      ns[NET_PACKETS_SENT] += v[N_S2D_PACKETS];
      ns[NET_PACKETS_RCVD] += v[N_D2S_PACKETS];
    }
    if (nd != NULL) {
      nd[NET_BYTES_SENT] += v[N_D2S_BYTES];
      nd[NET_BYTES_RCVD] += v[N_S2D_BYTES];
      nd[NET_PACKETS_SENT] += v[N_D2S_PACKETS];
      nd[NET_PACKETS_RCVD] += v[N_S2D_PACKETS];
    }
    if (bytes > 0) {
      talk(r, src, bytes);
      talk(r, dst, bytes);
    }
    /* A flow inside one network is one flow of that network, not two. */
    if (ns != NULL) ns[NET_FLOWS] += nf;
    if (nd != NULL && nd != ns) nd[NET_FLOWS] += nf;
    int32_t flags = 0;
    if (I32(rs)[L[L_I_SERIES]] != 0) flags |= SRC_SERIES;
    if (I32(rd)[L[L_I_SERIES]] != 0) flags |= DST_SERIES;
    if (src_app.kind == PLAN_FIRST_NEW || src_app.kind == PLAN_CELL_NEW) flags |= NEW_SRC_APP;
    if (dst_app.kind == PLAN_FIRST_NEW || dst_app.kind == PLAN_CELL_NEW) flags |= NEW_DST_APP;
    /* A new peer's cell for JS to note its address in: bits 8-15 (src) and 16-23 (dst), 0 for
     * the first peer, c + 1 for inline cell c. */
    if (src_peer.kind == PLAN_FIRST_NEW) flags |= NEW_SRC_PEER;
    if (src_peer.kind == PLAN_CELL_NEW) flags |= NEW_SRC_PEER | (src_peer.cell + 1) << 8;
    if (dst_peer.kind == PLAN_FIRST_NEW) flags |= NEW_DST_PEER;
    if (dst_peer.kind == PLAN_CELL_NEW) flags |= NEW_DST_PEER | (dst_peer.cell + 1) << 16;
    r->flags[k] = flags;
  }
  napi_create_int32(env, k, &result);
  return result;
}

/* A named property of the factory's argument: an ArrayBuffer, or a typed array of `want`, its
 * data and length kept; a reference taken so that the memory lives as long as the resolver. */
static int field(napi_env env, napi_value obj, const char *name, int want, void **data, size_t *len, resolver *r,
                 int *refs) {
  napi_value v;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok) return 0;
  if (want < 0) {
    bool is_ab = false;
    if (napi_is_arraybuffer(env, v, &is_ab) != napi_ok || !is_ab || napi_get_arraybuffer_info(env, v, data, len) != napi_ok)
      return 0;
  } else if (!fl_typed_array(env, v, (napi_typedarray_type)want, data, len)) {
    return 0;
  }
  return *refs < N_REFS && napi_create_reference(env, v, 1, &r->refs[(*refs)++]) == napi_ok;
}

/* hostResolver({ layout, table: ArrayBuffer, lruPrev, lruNext, ctl, addrs, apps, slots, flags:
 * Int32Array, nums: Float64Array, cellCap, networks: Float64Array, talkBytes: Float64Array,
 * talkIdx, touched, talkCtl, keyRanges: Int32Array, keyTuples, keyHashes: Float64Array }):
 * { resolve, account }. */
napi_value fl_napi_host_resolver(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) {
    napi_throw_type_error(env, "FLOWLENS_NATIVE", "hostResolver: an options object expected");
    return NULL;
  }
  resolver *r = calloc(1, sizeof *r);
  if (r == NULL) {
    napi_throw_error(env, "FLOWLENS_NATIVE", "hostResolver: out of memory");
    return NULL;
  }
  const char *bad = NULL;
  napi_value layout;
  if (napi_get_named_property(env, argv[0], "layout", &layout) != napi_ok) bad = "hostResolver: layout missing";
  for (int i = 0; i < L_COUNT && bad == NULL; i++) {
    napi_value v;
    if (napi_get_named_property(env, layout, layout_names[i], &v) != napi_ok ||
        napi_get_value_int32(env, v, &r->layout[i]) != napi_ok || r->layout[i] < 0 || r->layout[i] > (1 << 20))
      bad = "hostResolver: layout fields must be integers from 0 to 2^20";
  }
  int refs = 0;
  size_t prev_len = 0, next_len = 0, ctl_len = 0, addrs_len = 0, apps_len = 0, slots_len = 0, nums_len = 0,
         flags_len = 0, net_len = 0, talk_bytes_len = 0, talk_idx_len = 0, touched_len = 0, talk_ctl_len = 0,
         key_ranges_len = 0, key_tuples_len = 0, key_hashes_len = 0;
  if (bad == NULL && !field(env, argv[0], "table", -1, (void **)&r->table, &r->table_bytes, r, &refs))
    bad = "hostResolver: table must be an ArrayBuffer";
  if (bad == NULL && (!field(env, argv[0], "lruPrev", napi_int32_array, (void **)&r->lru_prev, &prev_len, r, &refs) ||
                      !field(env, argv[0], "lruNext", napi_int32_array, (void **)&r->lru_next, &next_len, r, &refs) ||
                      !field(env, argv[0], "ctl", napi_int32_array, (void **)&r->ctl, &ctl_len, r, &refs) ||
                      !field(env, argv[0], "addrs", napi_int32_array, (void **)&r->addrs, &addrs_len, r, &refs) ||
                      !field(env, argv[0], "apps", napi_int32_array, (void **)&r->apps, &apps_len, r, &refs) ||
                      !field(env, argv[0], "slots", napi_int32_array, (void **)&r->slots, &slots_len, r, &refs) ||
                      !field(env, argv[0], "flags", napi_int32_array, (void **)&r->flags, &flags_len, r, &refs) ||
                      !field(env, argv[0], "nums", napi_float64_array, (void **)&r->nums, &nums_len, r, &refs) ||
                      !field(env, argv[0], "networks", napi_float64_array, (void **)&r->net_counters, &net_len, r, &refs) ||
                      !field(env, argv[0], "talkBytes", napi_float64_array, (void **)&r->talk_bytes, &talk_bytes_len, r, &refs) ||
                      !field(env, argv[0], "talkIdx", napi_int32_array, (void **)&r->talk_idx, &talk_idx_len, r, &refs) ||
                      !field(env, argv[0], "touched", napi_int32_array, (void **)&r->touched, &touched_len, r, &refs) ||
                      !field(env, argv[0], "talkCtl", napi_int32_array, (void **)&r->talk_ctl, &talk_ctl_len, r, &refs) ||
                      !field(env, argv[0], "keyRanges", napi_int32_array, (void **)&r->key_ranges, &key_ranges_len, r, &refs) ||
                      !field(env, argv[0], "keyTuples", napi_float64_array, (void **)&r->key_tuples, &key_tuples_len, r, &refs) ||
                      !field(env, argv[0], "keyHashes", napi_float64_array, (void **)&r->key_hashes, &key_hashes_len, r, &refs)))
    bad = "hostResolver: nums, networks, talkBytes, keyTuples and keyHashes must be Float64Arrays, the other arrays Int32Arrays";
  napi_value cap;
  if (bad == NULL && (napi_get_named_property(env, argv[0], "cellCap", &cap) != napi_ok ||
                      napi_get_value_int32(env, cap, &r->cell_cap) != napi_ok || r->cell_cap < 1))
    bad = "hostResolver: cellCap must be a positive integer";
  const int32_t *L = r->layout;
  if (bad == NULL) {
    int32_t rb = L[L_RECORD_BYTES];
    if (rb % 64 != 0 || L[L_B_KEY] + L[L_KEY_BYTES] > rb || 4 * L[L_INLINE_CELLS] > L[L_REGION_IDS] ||
        L[L_B_APP_CELLS] + L[L_REGION_IDS] + L[L_INLINE_CELLS] * L[L_CELL_BYTES] > rb ||
        L[L_B_PEER_CELLS] + L[L_REGION_IDS] + L[L_INLINE_CELLS] * L[L_CELL_BYTES] > rb || L[L_CELL_BYTES] < 24 ||
        L[L_CELL_BYTES] % 8 != 0 || L[L_B_APP_CELLS] % 8 != 0 || L[L_B_PEER_CELLS] % 8 != 0 || L[L_REGION_IDS] % 8 != 0)
      bad = "hostResolver: the layout does not fit in a record";
    for (int i = 0; i < L_COUNT && bad == NULL; i++) {
      int64_t end = layout_kind[i] == 'F' ? 8 * ((int64_t)L[i] + 1)
                    : layout_kind[i] == 'T' ? 8 * ((int64_t)L[i] + 3)
                    : layout_kind[i] == 'I' ? 4 * ((int64_t)L[i] + 1)
                                            : 0;
      if (layout_kind[i] == 'C' && 4 * ((int64_t)L[i] + 1) > L[L_CELL_BYTES]) bad = "hostResolver: a cell field is outside the cell";
      if (end > rb) bad = "hostResolver: the layout does not fit in a record";
    }
  }
  if (bad == NULL && (ctl_len < C_LEN || prev_len != next_len || talk_ctl_len < 1 || net_len % NET_FIELDS != 0))
    bad = "hostResolver: ctl needs 3 entries, talkCtl 1, lruPrev and lruNext one length, networks 5 per network";
  if (bad != NULL) {
    resolver_free(env, r, NULL);
    napi_throw_type_error(env, "FLOWLENS_NATIVE", bad);
    return NULL;
  }
  r->lru_len = prev_len;
  r->networks = net_len / NET_FIELDS;
  r->talk_len = talk_bytes_len;
  if (talk_idx_len < r->talk_len) r->talk_len = talk_idx_len;
  if (touched_len < r->talk_len) r->talk_len = touched_len;
  size_t group = addrs_len / 4;
  if (apps_len < group) group = apps_len;
  if (slots_len / 2 < group) group = slots_len / 2;
  if (nums_len / NUMS < group) group = nums_len / NUMS;
  if (flags_len < group) group = flags_len;
  if (key_ranges_len / 2 < group) group = key_ranges_len / 2;
  if (key_tuples_len / 4 < group) group = key_tuples_len / 4;
  if (key_hashes_len < group) group = key_hashes_len;
  r->group_len = group;
  napi_value obj, fn_resolve, fn_account;
  if (napi_create_object(env, &obj) != napi_ok ||
      napi_create_function(env, "resolve", NAPI_AUTO_LENGTH, resolve, NULL, &fn_resolve) != napi_ok ||
      napi_create_function(env, "account", NAPI_AUTO_LENGTH, account, NULL, &fn_account) != napi_ok ||
      napi_set_named_property(env, obj, "resolve", fn_resolve) != napi_ok ||
      napi_set_named_property(env, obj, "account", fn_account) != napi_ok ||
      napi_wrap(env, obj, r, resolver_free, NULL, NULL) != napi_ok) {
    resolver_free(env, r, NULL);
    napi_throw_error(env, "FLOWLENS_NATIVE", "hostResolver: could not make the functions");
    return NULL;
  }
  return obj;
}
