/* Polling virtio-blk driver: one request in flight, waited for by polling.
 * Without VIRTIO_BLK_F_FLUSH the device is write-through, so a completed write
 * is durable. */
#include "blk.h"
#include "virtio.h"

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1

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
static u64 capacity;

const char *blk_init(const struct pci_dev *pci) {
  const char *err = virtio_init(&dev, pci, VIRTIO_F_VERSION_1 | VIRTIO_F_RING_EVENT_IDX);
  if (err) return err;
  if (!dev.device_cfg) return "no virtio-blk device configuration";
  capacity = mmio_read32(dev.device_cfg) | ((u64)mmio_read32(dev.device_cfg + 4) << 32);
  if ((err = virtq_setup(&dev, &q, 0, q_mem))) return err;
  virtio_driver_ok(&dev);
  return NULL;
}

u64 blk_capacity(void) { return capacity; }

int blk_rw(int write, u64 sector, void *data, u32 bytes) {
  if (sector + bytes / kSector > capacity) return -1;
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

void blk_describe(struct buf *b) {
  buf_str(b, "virtio-blk at pci 00:");
  buf_hex(b, dev.pci->dev, 2);
  buf_str(b, ".");
  buf_u64(b, dev.pci->fn);
  buf_str(b, " capacity=");
  buf_u64(b, capacity);
  buf_str(b, " sectors");
}
