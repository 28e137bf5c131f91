/* Modern virtio-pci (virtio 1.0) transport and split virtqueues, polled. */
#ifndef TESTGUEST_VIRTIO_H
#define TESTGUEST_VIRTIO_H
#include "lib.h"
#include "pci.h"

#define VIRTIO_F_VERSION_1 (1ULL << 32)
#define VIRTIO_F_RING_EVENT_IDX (1ULL << 29)
#define VIRTIO_NET_F_MAC (1ULL << 5)

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define kVirtqMaxSize 256

struct virtq_desc {
  u64 addr;
  u32 len;
  u16 flags;
  u16 next;
};
struct virtq_avail {
  u16 flags;
  u16 idx;
  u16 ring[kVirtqMaxSize + 1]; /* ring[size] is used_event */
};
struct virtq_used_elem {
  u32 id;
  u32 len;
};
struct virtq_used {
  u16 flags;
  u16 idx;
  struct virtq_used_elem ring[kVirtqMaxSize];
  u16 avail_event_pad; /* avail_event sits at ring[size], see virtq_avail_event */
};

struct virtq {
  u16 size, index;
  struct virtq_desc *desc;
  struct virtq_avail *avail;
  volatile struct virtq_used *used;
  u16 avail_idx;     /* next avail index the driver will publish */
  u16 published_idx; /* avail index last published to the device */
  u16 last_used;     /* next used entry the driver will consume */
  u64 notify_addr;
  int event_idx;
  u64 notifies; /* exits this queue cost */
};

struct virtio_dev {
  const struct pci_dev *pci;
  u64 common, notify_base, isr, device_cfg;
  u32 notify_mult;
  u64 features;
};

/* Resets the device, negotiates wanted features (VERSION_1 is required) and
 * leaves it in FEATURES_OK. Returns an error text or NULL. */
const char *virtio_init(struct virtio_dev *v, const struct pci_dev *pci, u64 wanted);
/* Sets up queue index with its memory (8 KiB, 4 KiB-aligned). */
const char *virtq_setup(struct virtio_dev *v, struct virtq *q, u16 index, void *mem);
void virtio_driver_ok(struct virtio_dev *v);

/* Adds a chain head at the driver's next avail slot (not yet visible). */
static inline void virtq_push(struct virtq *q, u16 head) {
  q->avail->ring[q->avail_idx % q->size] = head;
  q->avail_idx++;
}
/* Makes pushed entries visible; notifies only when the device asked for it. */
void virtq_publish(struct virtq *q);
/* Next used element, or 0 if none is ready. */
int virtq_pop(struct virtq *q, u32 *id, u32 *len);

#endif
