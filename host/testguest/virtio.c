/* Modern virtio-pci (virtio 1.0) transport and split virtqueues, polled. */
#include "virtio.h"

/* Common configuration register offsets (virtio 1.0, 4.1.4.3). */
#define COMMON_DFSELECT 0x00
#define COMMON_DF 0x04
#define COMMON_GFSELECT 0x08
#define COMMON_GF 0x0C
#define COMMON_MSIX 0x10
#define COMMON_NUMQ 0x12
#define COMMON_STATUS 0x14
#define COMMON_Q_SELECT 0x16
#define COMMON_Q_SIZE 0x18
#define COMMON_Q_MSIX 0x1A
#define COMMON_Q_ENABLE 0x1C
#define COMMON_Q_NOFF 0x1E
#define COMMON_Q_DESC 0x20
#define COMMON_Q_AVAIL 0x28
#define COMMON_Q_USED 0x30

#define STATUS_ACK 1
#define STATUS_DRIVER 2
#define STATUS_DRIVER_OK 4
#define STATUS_FEATURES_OK 8

#define kNoVector 0xFFFF

static void find_caps(struct virtio_dev *v) {
  u8 cap = pci_read8(v->pci, 0x34) & 0xFC;
  for (int guard = 0; cap && guard < 48; guard++) {
    u8 id = pci_read8(v->pci, cap);
    u8 type = id == 0x09 ? pci_read8(v->pci, (u8)(cap + 3)) : 0;
    if (type >= 1 && type <= 4) { /* common, notify, ISR, device configuration */
      u8 bar = pci_read8(v->pci, (u8)(cap + 4));
      u32 offset = pci_read32(v->pci, (u8)(cap + 8));
      u64 base = bar < 6 ? pci_bar_address(v->pci, bar) : 0;
      u64 at = base ? base + offset : 0;
      if (type == 1 && !v->common) v->common = at;
      if (type == 2 && !v->notify_base) {
        v->notify_base = at;
        v->notify_mult = pci_read32(v->pci, (u8)(cap + 16));
      }
      if (type == 3 && !v->isr) v->isr = at;
      if (type == 4 && !v->device_cfg) v->device_cfg = at;
    }
    cap = pci_read8(v->pci, (u8)(cap + 1)) & 0xFC;
  }
}

const char *virtio_init(struct virtio_dev *v, const struct pci_dev *pci, u64 wanted) {
  memset(v, 0, sizeof *v);
  v->pci = pci;
  pci_enable(pci);
  find_caps(v);
  if (!v->common || !v->notify_base) return "no virtio 1.0 common/notify capability";
  u64 c = v->common;
  mmio_write8(c + COMMON_STATUS, 0);
  while (mmio_read8(c + COMMON_STATUS) != 0) cpu_relax();
  mmio_write8(c + COMMON_STATUS, STATUS_ACK);
  mmio_write8(c + COMMON_STATUS, STATUS_ACK | STATUS_DRIVER);
  mmio_write32(c + COMMON_DFSELECT, 0);
  u64 offered = mmio_read32(c + COMMON_DF);
  mmio_write32(c + COMMON_DFSELECT, 1);
  offered |= (u64)mmio_read32(c + COMMON_DF) << 32;
  if (!(offered & VIRTIO_F_VERSION_1)) return "device does not offer VIRTIO_F_VERSION_1";
  v->features = offered & wanted;
  mmio_write32(c + COMMON_GFSELECT, 0);
  mmio_write32(c + COMMON_GF, (u32)v->features);
  mmio_write32(c + COMMON_GFSELECT, 1);
  mmio_write32(c + COMMON_GF, (u32)(v->features >> 32));
  mmio_write8(c + COMMON_STATUS, STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK);
  if (!(mmio_read8(c + COMMON_STATUS) & STATUS_FEATURES_OK)) return "device refused the features";
  mmio_write16(c + COMMON_MSIX, kNoVector);
  return NULL;
}

const char *virtq_setup(struct virtio_dev *v, struct virtq *q, u16 index, void *mem) {
  u64 c = v->common;
  mmio_write16(c + COMMON_Q_SELECT, index);
  u16 size = mmio_read16(c + COMMON_Q_SIZE);
  if (size == 0) return "virtqueue not available";
  if (size > kVirtqMaxSize) size = kVirtqMaxSize;
  if (size & (size - 1)) return "virtqueue size not a power of two";
  memset(q, 0, sizeof *q);
  memset(mem, 0, 8192);
  q->size = size;
  q->index = index;
  q->desc = (struct virtq_desc *)mem;
  q->avail = (struct virtq_avail *)((u8 *)mem + 4096);
  q->used = (volatile struct virtq_used *)((u8 *)mem + 4096 + 1024);
  q->event_idx = (v->features & VIRTIO_F_RING_EVENT_IDX) != 0;
  /* The guest never takes interrupts: keep used_event just behind the used
   * index so the device never finds a reason to signal (see virtq_pop). */
  q->avail->ring[size] = (u16)(q->last_used - 1);
  q->avail->flags = 1; /* VIRTQ_AVAIL_F_NO_INTERRUPT, for devices without EVENT_IDX */
  mmio_write16(c + COMMON_Q_SIZE, size);
  mmio_write16(c + COMMON_Q_MSIX, kNoVector);
  mmio_write64(c + COMMON_Q_DESC, (u64)q->desc);
  mmio_write64(c + COMMON_Q_AVAIL, (u64)q->avail);
  mmio_write64(c + COMMON_Q_USED, (u64)q->used);
  u16 noff = mmio_read16(c + COMMON_Q_NOFF);
  q->notify_addr = v->notify_base + (u64)noff * v->notify_mult;
  mmio_write16(c + COMMON_Q_ENABLE, 1);
  return NULL;
}

void virtio_driver_ok(struct virtio_dev *v) {
  mmio_write8(v->common + COMMON_STATUS,
              STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
}

static inline u16 avail_event(const struct virtq *q) {
  /* avail_event follows the used ring's last element */
  return *(volatile const u16 *)((const volatile u8 *)q->used + 4 + 8 * (u64)q->size);
}

void virtq_publish(struct virtq *q) {
  u16 old = q->published_idx, now = q->avail_idx;
  if (old == now) return;
  barrier(); /* descriptors and ring entries before the index (x86: stores in order) */
  ((volatile struct virtq_avail *)q->avail)->idx = now;
  q->published_idx = now;
  mb(); /* the index store before the avail_event / flags load */
  int need;
  if (q->event_idx)
    need = (u16)(now - avail_event(q) - 1) < (u16)(now - old);
  else
    need = !(q->used->flags & 1); /* VIRTQ_USED_F_NO_NOTIFY */
  if (need) {
    mmio_write16(q->notify_addr, q->index);
    q->notifies++;
  }
}

int virtq_pop(struct virtq *q, u32 *id, u32 *len) {
  if (q->last_used == q->used->idx) return 0;
  barrier(); /* the index load before the element loads (x86: loads in order) */
  volatile const struct virtq_used_elem *e = &q->used->ring[q->last_used % q->size];
  *id = e->id;
  *len = e->len;
  q->last_used++;
  ((volatile struct virtq_avail *)q->avail)->ring[q->size] = (u16)(q->last_used - 1);
  return 1;
}
