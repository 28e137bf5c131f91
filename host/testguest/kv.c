/* The key-value store and memcached's ASCII protocol (one UDP datagram at a time).
 * Linear probing with backward-shift deletion; expiry times are accepted and
 * ignored, because the guest deliberately has no clock (replicas must agree). */
#include "kv.h"
#include "persist.h"

static struct kv_item table[kKvSlots];
static u64 count;
static u64 cas_counter;
static struct kv_item scratch;

static u32 hash(const char *k, size_t n) {
  u32 h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (u8)k[i]) * 16777619u;
  return h;
}

static u32 home(const struct kv_item *it) { return hash(it->key, it->klen) % kKvSlots; }

static long find(const char *key, size_t klen) {
  for (u32 i = hash(key, klen) % kKvSlots, step = 0; step < kKvSlots; step++, i = (i + 1) % kKvSlots) {
    if (!table[i].used) return -1;
    if (table[i].klen == klen && memcmp(table[i].key, key, klen) == 0) return i;
  }
  return -1;
}

void kv_init(void) {
  count = 0;
  cas_counter = 0;
}

u64 kv_count(void) { return count; }

const struct kv_item *kv_slot(u32 i) { return i < kKvSlots && table[i].used ? &table[i] : NULL; }

const struct kv_item *kv_get(const char *key, size_t klen) {
  long i = find(key, klen);
  return i < 0 ? NULL : &table[i];
}

int kv_put(const struct kv_item *item) {
  u32 i = home(item);
  for (u32 step = 0; step < kKvSlots; step++, i = (i + 1) % kKvSlots) {
    struct kv_item *t = &table[i];
    if (!t->used || (t->klen == item->klen && memcmp(t->key, item->key, item->klen) == 0)) {
      if (!t->used) {
        if (count + 1 >= kKvSlots * 9 / 10) return -1;
        count++;
      }
      if (t != item) memcpy(t, item, sizeof *t - sizeof t->val + item->vlen);
      t->used = 1;
      if (item->cas > cas_counter) cas_counter = item->cas;
      return 0;
    }
  }
  return -1;
}

int kv_delete(const char *key, size_t klen) {
  long found = find(key, klen);
  if (found < 0) return -1;
  u32 hole = (u32)found;
  table[hole].used = 0;
  count--;
  for (u32 j = (hole + 1) % kKvSlots; table[j].used; j = (j + 1) % kKvSlots) {
    u32 h = home(&table[j]);
    /* Move j into the hole unless its home lies cyclically in (hole, j]. */
    int stays = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j);
    if (stays) continue;
    memcpy(&table[hole], &table[j], sizeof table[j] - sizeof table[j].val + table[j].vlen);
    table[j].used = 0;
    hole = j;
  }
  return 0;
}

void kv_flush(void) {
  for (u32 i = 0; i < kKvSlots; i++) table[i].used = 0;
  count = 0;
}

/* ---- the ASCII protocol ---- */

#define kMaxTokens 64 /* get with up to 63 keys per line */

struct tok {
  const char *p;
  size_t n;
};

static int tok_is(const struct tok *t, const char *s) {
  size_t n = strlen(s);
  return t->n == n && memcmp(t->p, s, n) == 0;
}

static int tok_u64(const struct tok *t, u64 *v) { return t->n && parse_u64(t->p, t->n, v) == (int)t->n; }

static int tokenize(const char *line, size_t n, struct tok *toks) {
  int nt = 0;
  size_t i = 0;
  while (i < n && nt < kMaxTokens) {
    while (i < n && line[i] == ' ') i++;
    if (i >= n) break;
    size_t s = i;
    while (i < n && line[i] != ' ') i++;
    toks[nt].p = line + s;
    toks[nt].n = i - s;
    nt++;
  }
  return nt;
}

static void reply(struct buf *out, int noreply, const char *s) {
  if (!noreply) buf_str(out, s);
}

/* Logs the new state, then applies it: the log is written ahead of the store. */
static const char *commit_put(struct kv_item *it) {
  it->cas = ++cas_counter;
  it->used = 1;
  if (kv_count() + 1 >= kKvSlots * 9 / 10 && !kv_get(it->key, it->klen))
    return "SERVER_ERROR out of memory storing object\r\n";
  if (persist_put(it) != 0) return "SERVER_ERROR cannot write the log to disk\r\n";
  kv_put(it);
  return NULL;
}

static void cmd_get(struct tok *t, int nt, int with_cas, struct buf *out) {
  for (int i = 1; i < nt; i++) {
    const struct kv_item *it = kv_get(t[i].p, t[i].n);
    if (!it) continue;
    buf_str(out, "VALUE ");
    buf_put(out, it->key, it->klen);
    buf_str(out, " ");
    buf_u64(out, it->flags);
    buf_str(out, " ");
    buf_u64(out, it->vlen);
    if (with_cas) {
      buf_str(out, " ");
      buf_u64(out, it->cas);
    }
    buf_str(out, "\r\n");
    buf_put(out, it->val, it->vlen);
    buf_str(out, "\r\n");
  }
  buf_str(out, "END\r\n");
}

/* set/add/replace/append/prepend/cas: returns the bytes consumed after the line, or -1. */
static long cmd_store(struct tok *t, int nt, const char *data, size_t avail, struct buf *out) {
  int is_cas = tok_is(&t[0], "cas");
  u64 flags, exptime, bytes, cas_in = 0;
  int want = is_cas ? 6 : 5;
  if (nt < want || !tok_u64(&t[2], &flags) || !tok_u64(&t[3], &exptime) || !tok_u64(&t[4], &bytes) ||
      (is_cas && !tok_u64(&t[5], &cas_in)) || flags > 0xFFFFFFFFu) {
    buf_str(out, "CLIENT_ERROR bad command line format\r\n");
    return -1;
  }
  int noreply = nt > want && tok_is(&t[want], "noreply");
  if (bytes > avail || avail - bytes < 2 || data[bytes] != '\r' || data[bytes + 1] != '\n') {
    buf_str(out, "CLIENT_ERROR bad data chunk\r\n");
    return -1;
  }
  long used = (long)bytes + 2;
  if (t[1].n > kKvKeyMax) {
    buf_str(out, "CLIENT_ERROR bad command line format\r\n");
    return used;
  }
  const struct kv_item *old = kv_get(t[1].p, t[1].n);
  int append = tok_is(&t[0], "append"), prepend = tok_is(&t[0], "prepend");
  if ((tok_is(&t[0], "add") && old) || (tok_is(&t[0], "replace") && !old) || ((append || prepend) && !old)) {
    reply(out, noreply, "NOT_STORED\r\n");
    return used;
  }
  if (is_cas && !old) {
    reply(out, noreply, "NOT_FOUND\r\n");
    return used;
  }
  if (is_cas && old->cas != cas_in) {
    reply(out, noreply, "EXISTS\r\n");
    return used;
  }
  size_t total = bytes + ((append || prepend) ? old->vlen : 0);
  if (total > kKvValueMax) {
    reply(out, noreply, "SERVER_ERROR object too large for cache\r\n");
    return used;
  }
  struct kv_item *it = &scratch;
  it->klen = (u8)t[1].n;
  memcpy(it->key, t[1].p, t[1].n);
  it->flags = (append || prepend) ? old->flags : (u32)flags;
  if (append) {
    memcpy(it->val, old->val, old->vlen);
    memcpy(it->val + old->vlen, data, bytes);
  } else if (prepend) {
    memmove(it->val + bytes, old->val, old->vlen);
    memcpy(it->val, data, bytes);
  } else {
    memcpy(it->val, data, bytes);
  }
  it->vlen = (u16)total;
  const char *err = commit_put(it);
  reply(out, noreply, err ? err : "STORED\r\n");
  return used;
}

static void cmd_arith(struct tok *t, int nt, int incr, struct buf *out) {
  u64 delta;
  if (nt < 3 || !tok_u64(&t[2], &delta)) {
    buf_str(out, "CLIENT_ERROR invalid numeric delta argument\r\n");
    return;
  }
  int noreply = nt > 3 && tok_is(&t[3], "noreply");
  const struct kv_item *old = kv_get(t[1].p, t[1].n);
  if (!old) {
    reply(out, noreply, "NOT_FOUND\r\n");
    return;
  }
  u64 v;
  if (!old->vlen || parse_u64(old->val, old->vlen, &v) != old->vlen) {
    reply(out, noreply, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
    return;
  }
  v = incr ? v + delta : (v < delta ? 0 : v - delta);
  struct kv_item *it = &scratch;
  memcpy(it, old, sizeof *it - sizeof it->val);
  struct buf num;
  buf_init(&num, it->val, kKvValueMax);
  buf_u64(&num, v);
  it->vlen = (u16)num.len;
  const char *err = commit_put(it);
  if (err) {
    reply(out, noreply, err);
    return;
  }
  if (!noreply) {
    buf_put(out, it->val, it->vlen);
    buf_str(out, "\r\n");
  }
}

static void cmd_stats(struct buf *out);

void kv_process(const char *req, size_t n, struct buf *out) {
  size_t pos = 0;
  while (pos < n) {
    size_t end = pos;
    while (end < n && req[end] != '\n') end++;
    size_t next = end < n ? end + 1 : n;
    size_t len = end - pos;
    if (len && req[pos + len - 1] == '\r') len--;
    struct tok t[kMaxTokens];
    int nt = tokenize(req + pos, len, t);
    if (nt == 0) {
      buf_str(out, "ERROR\r\n");
      pos = next;
      continue;
    }
    if (end >= n) { /* a command line must end in a newline */
      buf_str(out, "CLIENT_ERROR line not terminated\r\n");
      return;
    }
    pos = next;
    int last_noreply = tok_is(&t[nt - 1], "noreply");
    if ((tok_is(&t[0], "get") || tok_is(&t[0], "gets")) && nt >= 2) {
      cmd_get(t, nt, tok_is(&t[0], "gets"), out);
    } else if ((tok_is(&t[0], "set") || tok_is(&t[0], "add") || tok_is(&t[0], "replace") ||
                tok_is(&t[0], "append") || tok_is(&t[0], "prepend") || tok_is(&t[0], "cas")) &&
               nt >= 5) {
      long used = cmd_store(t, nt, req + pos, n - pos, out);
      if (used < 0) return;
      pos += (size_t)used;
    } else if (tok_is(&t[0], "delete") && nt >= 2) {
      if (kv_get(t[1].p, t[1].n)) {
        if (persist_delete(t[1].p, t[1].n) != 0) {
          reply(out, last_noreply, "SERVER_ERROR cannot write the log to disk\r\n");
        } else {
          kv_delete(t[1].p, t[1].n);
          reply(out, last_noreply, "DELETED\r\n");
        }
      } else {
        reply(out, last_noreply, "NOT_FOUND\r\n");
      }
    } else if ((tok_is(&t[0], "incr") || tok_is(&t[0], "decr")) && nt >= 3) {
      cmd_arith(t, nt, tok_is(&t[0], "incr"), out);
    } else if (tok_is(&t[0], "touch") && nt >= 3) {
      reply(out, last_noreply, kv_get(t[1].p, t[1].n) ? "TOUCHED\r\n" : "NOT_FOUND\r\n");
    } else if (tok_is(&t[0], "flush_all")) {
      if (persist_flush() != 0) {
        reply(out, last_noreply, "SERVER_ERROR cannot write the log to disk\r\n");
      } else {
        kv_flush();
        reply(out, last_noreply, "OK\r\n");
      }
    } else if (tok_is(&t[0], "version")) {
      buf_str(out, "VERSION 1.6.0-twinstep-testguest\r\n");
    } else if (tok_is(&t[0], "verbosity")) {
      reply(out, last_noreply, "OK\r\n");
    } else if (tok_is(&t[0], "stats")) {
      cmd_stats(out);
    } else if (tok_is(&t[0], "quit")) {
      return;
    } else {
      buf_str(out, "ERROR\r\n");
    }
  }
}

#include "net.h"

static void stat_line(struct buf *out, const char *name, u64 v) {
  buf_str(out, "STAT ");
  buf_str(out, name);
  buf_str(out, " ");
  buf_u64(out, v);
  buf_str(out, "\r\n");
}

static void cmd_stats(struct buf *out) {
  stat_line(out, "curr_items", count);
  stat_line(out, "cas_counter", cas_counter);
  stat_line(out, "rx_frames", net_stats.rx);
  stat_line(out, "tx_frames", net_stats.tx);
  stat_line(out, "memcache_requests", net_stats.memcache);
  stat_line(out, "udp_echo", net_stats.udp_echo);
  stat_line(out, "virtio_notifies", net_stats.notifies);
  stat_line(out, "log_records", persist_records());
  stat_line(out, "log_sectors_used", persist_sectors_used());
  stat_line(out, "log_generation", persist_generation());
  stat_line(out, "log_compactions", persist_compactions());
  buf_str(out, "END\r\n");
}
