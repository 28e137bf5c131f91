/* The store's log on virtio-blk, compacted between the two halves of the disk.
 *
 * Each half holds at most one log: a BEGIN record (generation g, the number N of
 * snapshot records that follow), N PUT records (the store when the log began),
 * then the PUT, DELETE and FLUSH records of later mutations. A record is a
 * 48-byte header, the key and the value, padded to 512-byte sectors; sequence
 * numbers count from 0 in each log. At boot the half whose BEGIN has the highest
 * generation and a complete snapshot wins; its replay stops at the first sector
 * that does not hold the next record, so a torn last write is discarded and
 * overwritten. When a record does not fit, the live store is written into the
 * other half under a new generation; a crash before that snapshot is complete
 * leaves the old half in charge.
 *
 * Group commit: mutations queue their records; persist_sync writes the queue in
 * one request, and the network code calls it before any reply becomes visible
 * to the device, so every acknowledged change is on disk. */
#include "persist.h"
#include "blk.h"

#define kRecMagic 0x564b5354u /* "TSKV" */
#define kOpBegin 1
#define kOpPut 2
#define kOpDelete 3
#define kOpFlush 4
#define kChunkSectors 256 /* replay reads and compaction writes 128 KiB at a time */
#define kMinHalfSectors 16

struct rec_hdr {
  u32 magic;
  u32 gen;
  u32 seq;
  u32 len; /* header + key + value, before padding */
  u32 crc; /* CRC-32 of the record with this field zero */
  u8 op;
  u8 klen;
  u16 vlen;
  u32 flags;
  u32 reserved;
  u64 cas;
  u64 count; /* BEGIN: snapshot records that follow */
};
_Static_assert(sizeof(struct rec_hdr) == 48, "record header is 48 bytes");

static u8 io_buf[kChunkSectors * kSector] __attribute__((aligned(4096)));
static int present;
static u64 half_sectors;
static int cur_half;       /* the half holding the live log */
static int begun;          /* its BEGIN is on disk (a fresh disk has none yet) */
static u32 cur_gen, max_gen;
static u64 next_sector;    /* absolute */
static u32 next_seq;
static u64 records, compactions;
static u64 wb_sector;      /* where io_buf's pending records go */
static u32 wb_len;

static u32 rec_crc(const u8 *rec, u32 len) {
  struct rec_hdr h;
  memcpy(&h, rec, sizeof h);
  h.crc = 0;
  return crc32(crc32(0, &h, sizeof h), rec + sizeof h, len - sizeof h);
}

static u64 half_end(int h) { return (u64)(h + 1) * half_sectors; }

static int wb_flush(void) {
  if (!wb_len) return 0;
  int rc = blk_rw(1, wb_sector, io_buf, wb_len);
  wb_sector += wb_len / kSector;
  wb_len = 0;
  return rc;
}

/* Queues one record of the log in cur_half-to-be h; -1 if the half is full. */
static int wb_add(int h, u8 op, const char *key, u8 klen, const char *val, u16 vlen, u32 flags, u64 cas, u64 count) {
  struct rec_hdr r = {kRecMagic, cur_gen, next_seq, (u32)(sizeof r + klen + vlen), 0, op, klen, vlen, flags, 0, cas, count};
  u32 span = (r.len + kSector - 1) / kSector * kSector;
  if (next_sector + span / kSector > half_end(h)) return -1;
  if (wb_len + span > sizeof io_buf && wb_flush() != 0) return -1;
  u8 *p = io_buf + wb_len;
  memcpy(p, &r, sizeof r);
  memcpy(p + sizeof r, key, klen);
  memcpy(p + sizeof r + klen, val, vlen);
  memset(p + r.len, 0, span - r.len);
  r.crc = rec_crc(p, r.len);
  memcpy(p, &r, sizeof r);
  wb_len += span;
  next_sector += span / kSector;
  next_seq++;
  records++;
  return 0;
}

/* Writes the live store as a new log (generation max_gen + 1) into half h. */
static int start_log(int h) {
  int old_half = cur_half, old_begun = begun;
  u32 old_gen = cur_gen, old_seq = next_seq;
  u64 old_sector = next_sector, old_records = records;
  cur_gen = ++max_gen;
  next_sector = wb_sector = (u64)h * half_sectors;
  next_seq = 0;
  records = 0;
  wb_len = 0;
  int rc = wb_add(h, kOpBegin, NULL, 0, NULL, 0, 0, 0, kv_count());
  for (u32 i = 0; rc == 0 && i < kKvSlots; i++) {
    const struct kv_item *it = kv_slot(i);
    if (it) rc = wb_add(h, kOpPut, it->key, it->klen, it->val, it->vlen, it->flags, it->cas, 0);
  }
  if (rc == 0) rc = wb_flush();
  if (rc != 0) { /* the old log stays in charge; the partial snapshot is ignored at boot */
    wb_len = 0;
    cur_half = old_half;
    begun = old_begun;
    cur_gen = old_gen;
    next_seq = old_seq;
    next_sector = old_sector;
    records = old_records;
    return -1;
  }
  cur_half = h;
  begun = 1;
  return 0;
}

/* Queues one record; persist_sync writes the queue (group commit). */
static int append(u8 op, const char *key, u8 klen, const char *val, u16 vlen, u32 flags, u64 cas) {
  if (!present) return 0;
  if (!begun && start_log(cur_half) != 0) return -1;
  if (!wb_len) wb_sector = next_sector;
  if (wb_add(cur_half, op, key, klen, val, vlen, flags, cas, 0) == 0) return 0;
  if (persist_sync() != 0 || start_log(1 - cur_half) != 0) return -1;
  compactions++;
  wb_sector = next_sector;
  return wb_add(cur_half, op, key, klen, val, vlen, flags, cas, 0);
}

int persist_sync(void) {
  if (!wb_len) return 0;
  if (wb_flush() != 0) panic("virtio-blk write failed: acknowledged changes would not be durable");
  return 0;
}

/* Replays the log of half h (generation gen); returns 1 if its snapshot is complete. */
static int replay_half(int h, u32 gen) {
  static struct kv_item it;
  u64 sec = (u64)h * half_sectors, end = half_end(h), snapshot_left = 0;
  int complete = 0;
  kv_flush();
  next_seq = 0;
  records = 0;
  while (sec < end) {
    u64 n = end - sec < kChunkSectors ? end - sec : kChunkSectors, off = 0, bytes = n * kSector;
    if (blk_rw(0, sec, io_buf, (u32)bytes) != 0) break;
    int stop = 0;
    while (off + kSector <= bytes) {
      struct rec_hdr r;
      memcpy(&r, io_buf + off, sizeof r);
      if (r.magic != kRecMagic || r.gen != gen || r.seq != next_seq || r.len != sizeof r + r.klen + r.vlen ||
          r.vlen > kKvValueMax || (r.seq == 0) != (r.op == kOpBegin)) {
        stop = 1;
        break;
      }
      u64 span = (r.len + kSector - 1) / kSector * kSector;
      if (off + span > bytes) break; /* continues in the next chunk */
      if (rec_crc(io_buf + off, r.len) != r.crc) {
        stop = 1;
        break;
      }
      const char *key = (const char *)io_buf + off + sizeof r;
      if (r.op == kOpBegin) {
        snapshot_left = r.count;
      } else {
        if (snapshot_left) snapshot_left--;
        if (r.op == kOpPut) {
          it.used = 1;
          it.klen = r.klen;
          it.vlen = r.vlen;
          it.flags = r.flags;
          it.cas = r.cas;
          memcpy(it.key, key, r.klen);
          memcpy(it.val, key + r.klen, r.vlen);
          kv_put(&it);
        } else if (r.op == kOpDelete) {
          kv_delete(key, r.klen);
        } else if (r.op == kOpFlush) {
          kv_flush();
        }
      }
      if (snapshot_left == 0) complete = 1;
      next_seq++;
      records++;
      off += span;
    }
    sec += off / kSector;
    if (stop || off == 0) break;
  }
  next_sector = sec;
  return complete;
}

/* The generation named by half h's BEGIN record, or 0 if it has none. */
static u32 begin_gen(int h) {
  if (blk_rw(0, (u64)h * half_sectors, io_buf, kSector) != 0) return 0;
  struct rec_hdr r;
  memcpy(&r, io_buf, sizeof r);
  if (r.magic != kRecMagic || r.op != kOpBegin || r.seq != 0 || r.len != sizeof r || rec_crc(io_buf, r.len) != r.crc)
    return 0;
  return r.gen;
}

const char *persist_init(const struct pci_dev *pci) {
  const char *err = blk_init(pci);
  if (err) return err;
  half_sectors = blk_capacity() / 2;
  if (half_sectors < kMinHalfSectors) return "disk smaller than 16 KiB";
  present = 1;
  u32 g[2] = {begin_gen(0), begin_gen(1)};
  max_gen = g[0] > g[1] ? g[0] : g[1];
  int first = g[1] > g[0];
  for (int i = 0; i < 2; i++) {
    int h = i == 0 ? first : 1 - first;
    if (g[h] && replay_half(h, g[h])) {
      cur_half = h;
      cur_gen = g[h];
      begun = 1;
      return NULL;
    }
  }
  kv_flush(); /* no complete log: an empty store, written from half 0 on the first change */
  cur_half = 0;
  begun = 0;
  next_sector = 0;
  next_seq = 0;
  records = 0;
  return NULL;
}

void persist_describe(struct buf *b) {
  blk_describe(b);
  buf_str(b, "; log generation ");
  buf_u64(b, begun ? cur_gen : 0);
  buf_str(b, " in half ");
  buf_u64(b, (u64)cur_half);
  buf_str(b, ": replayed ");
  buf_u64(b, records);
  buf_str(b, " records, ");
  buf_u64(b, next_sector - (u64)cur_half * half_sectors);
  buf_str(b, " of ");
  buf_u64(b, half_sectors);
  buf_str(b, " sectors, ");
  buf_u64(b, kv_count());
  buf_str(b, " keys");
}

int persist_put(const struct kv_item *it) { return append(kOpPut, it->key, it->klen, it->val, it->vlen, it->flags, it->cas); }
int persist_delete(const char *key, size_t klen) { return append(kOpDelete, key, (u8)klen, NULL, 0, 0, 0); }
int persist_flush(void) { return append(kOpFlush, NULL, 0, NULL, 0, 0, 0); }
u64 persist_records(void) { return records; }
u64 persist_sectors_used(void) { return present ? next_sector - (u64)cur_half * half_sectors : 0; }
u64 persist_generation(void) { return begun ? cur_gen : 0; }
u64 persist_compactions(void) { return compactions; }
