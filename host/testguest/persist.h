/* The store's log on virtio-blk, compacted between the two halves of the disk. */
#ifndef TESTGUEST_PERSIST_H
#define TESTGUEST_PERSIST_H
#include "kv.h"
#include "pci.h"

/* Brings up the disk and replays its log into the store. */
const char *persist_init(const struct pci_dev *pci);
void persist_describe(struct buf *b);
/* Each queues one record (compacting first if the half is full); 0 on success,
 * -1 if even the live store does not fit in a half. Without a disk they succeed
 * and do nothing. */
int persist_put(const struct kv_item *item);
int persist_delete(const char *key, size_t klen);
int persist_flush(void);
/* Writes the queued records and waits for the device; call before any reply
 * to a mutation becomes visible. A failed write stops the guest (panic). */
int persist_sync(void);
u64 persist_records(void);
u64 persist_sectors_used(void);
u64 persist_generation(void);
u64 persist_compactions(void);

#endif
