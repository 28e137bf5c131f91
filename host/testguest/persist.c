/* Polling virtio-blk driver and the store's append-only log on it.
 *
 * The log starts at sector 0. A record is a 32-byte header, the key, then the
 * value, padded to whole sectors. Replay stops at the first sector that does
 * not hold the next record (wrong magic, sequence or CRC), so a torn final
 * write is discarded and overwritten by the next append. */
#include "persist.h"
#include "virtio.h"

#define kSector 512
#define kRecMagic 0x564b5354u /* "TSKV" */
#define kOpPut 1
#define kOpDelete 2
#define kOpFlush 3
#define kChunkSectors 256 /* replay reads 128 KiB at a time */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1

struct rec_hdr {
  u32 magic;
  u32 seq;
  u32 len; /* header + key + value, before padding */
  u32 crc; /* CRC-32 of the record with this field zero */
  u8 op;
  u8 klen;
  u16 vlen;
  u32 flags;
  u64 cas;
};
_Static_assert(sizeof(struct rec_hdr) == 32, "record header is 32 bytes");

struct blk_req_hdr {
  u32 type;
  u32 reserved;
  u64 sector;
};

static struct virtio_dev dev;
static struct virtq q;
static u8 q_mem[8192] __attribute__((aligned(4096)));
static struct blk_req_hdr req_hdr;
static volatile u8 req_status;
static u8 io_buf[kChunkSectors * kSector] __attribute__((aligned(4096)));
static int present;
static u64 capacity; /* sectors */
static u64 next_sector;
static u32 next_seq = 1;
static u64 records;

/* One request, then polls for its completion (the guest never sleeps). */
static int blk_rw(int write, u64 sector, void *data, u32 bytes) {
  req_hdr.type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
  req_hdr.reserved = 0;
  req_hdr.sector = sector;
  req_status = 0xFF;
  q.desc[0] = (struct virtq_desc){(u64)&req_hdr, sizeof req_hdr, VIRTQ_DESC_F_NEXT, 1};
  q.desc[1] = (struct virtq_desc){(u64)data, bytes, (u16)(VIRTQ_DESC_F_NEXT | (write ? 0 : VIRTQ_DESC_F_WRITE)), 2};
  q.desc[2] = (struct virtq_desc){(u64)&req_status, 1, VIRTQ_DESC_F_WRITE, 0};
  virtq_push(&q, 0);
  virtq_publish(&q);
  u32 id, len;
  while (!virtq_pop(&q, &id, &len)) cpu_relax();
  return req_status == 0 ? 0 : -1;
}

static u32 rec_crc(const u8 *rec, u32 len) {
  struct rec_hdr h;
  memcpy(&h, rec, sizeof h);
  h.crc = 0;
  u32 c = crc32(0, &h, sizeof h);
  return crc32(c, rec + sizeof h, len - sizeof h);
}

static void replay(void) {
  u64 sec = 0;
  while (sec < capacity) {
    u64 n = capacity - sec < kChunkSectors ? capacity - sec : kChunkSectors;
    if (blk_rw(0, sec, io_buf, (u32)(n * kSector)) != 0) break;
    u64 off = 0, end = n * kSector;
    int stop = 0;
    while (off + kSector <= end) {
      struct rec_hdr h;
      memcpy(&h, io_buf + off, sizeof h);
      u64 max_len = sizeof h + kKvKeyMax + kKvValueMax;
      if (h.magic != kRecMagic || h.seq != next_seq || h.len < sizeof h || h.len > max_len ||
          h.len != sizeof h + h.klen + h.vlen || h.vlen > kKvValueMax) {
        stop = 1;
        break;
      }
      u64 span = (h.len + kSector - 1) / kSector * kSector;
      if (off + span > end) break; /* continues in the next chunk */
      if (rec_crc(io_buf + off, h.len) != h.crc) {
        stop = 1;
        break;
      }
      const char *key = (const char *)io_buf + off + sizeof h;
      if (h.op == kOpPut) {
        static struct kv_item it;
        it.used = 1;
        it.klen = h.klen;
        it.vlen = h.vlen;
        it.flags = h.flags;
        it.cas = h.cas;
        memcpy(it.key, key, h.klen);
        memcpy(it.val, key + h.klen, h.vlen);
        kv_put(&it);
      } else if (h.op == kOpDelete) {
        kv_delete(key, h.klen);
      } else if (h.op == kOpFlush) {
        kv_flush();
      }
      next_seq++;
      records++;
      off += span;
    }
    sec += off / kSector;
    if (stop || off == 0) break;
  }
  next_sector = sec;
}

const char *persist_init(const struct pci_dev *pci) {
  const char *err = virtio_init(&dev, pci, VIRTIO_F_VERSION_1 | VIRTIO_F_RING_EVENT_IDX);
  if (err) return err;
  if (!dev.device_cfg) return "no virtio-blk device configuration";
  capacity = mmio_read32(dev.device_cfg) | ((u64)mmio_read32(dev.device_cfg + 4) << 32);
  if ((err = virtq_setup(&dev, &q, 0, q_mem))) return err;
  virtio_driver_ok(&dev);
  present = 1;
  replay();
  return NULL;
}

void persist_describe(struct buf *b) {
  buf_str(b, "virtio-blk at pci 00:");
  buf_hex(b, dev.pci->dev, 2);
  buf_str(b, ".");
  buf_u64(b, dev.pci->fn);
  buf_str(b, " capacity=");
  buf_u64(b, capacity);
  buf_str(b, " sectors; log replayed ");
  buf_u64(b, records);
  buf_str(b, " records, ");
  buf_u64(b, next_sector);
  buf_str(b, " sectors, ");
  buf_u64(b, kv_count());
  buf_str(b, " keys");
}

static int append(u8 op, const char *key, u8 klen, const char *val, u16 vlen, u32 flags, u64 cas) {
  if (!present) return 0;
  struct rec_hdr h = {kRecMagic, next_seq, (u32)(sizeof h + klen + vlen), 0, op, klen, vlen, flags, cas};
  u32 span = (h.len + kSector - 1) / kSector * kSector;
  if (next_sector + span / kSector > capacity) return -1;
  memcpy(io_buf, &h, sizeof h);
  memcpy(io_buf + sizeof h, key, klen);
  memcpy(io_buf + sizeof h + klen, val, vlen);
  memset(io_buf + h.len, 0, span - h.len);
  h.crc = rec_crc(io_buf, h.len);
  memcpy(io_buf, &h, sizeof h);
  if (blk_rw(1, next_sector, io_buf, span) != 0) return -1;
  next_sector += span / kSector;
  next_seq++;
  records++;
  return 0;
}

int persist_put(const struct kv_item *it) { return append(kOpPut, it->key, it->klen, it->val, it->vlen, it->flags, it->cas); }
int persist_delete(const char *key, size_t klen) { return append(kOpDelete, key, (u8)klen, NULL, 0, 0, 0); }
int persist_flush(void) { return append(kOpFlush, NULL, 0, NULL, 0, 0, 0); }
u64 persist_records(void) { return records; }
u64 persist_sectors_used(void) { return next_sector; }
