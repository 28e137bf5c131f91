/* Polling virtio-blk driver: one request in flight, waited for by polling. */
#ifndef TESTGUEST_BLK_H
#define TESTGUEST_BLK_H
#include "lib.h"
#include "pci.h"

#define kSector 512

const char *blk_init(const struct pci_dev *pci);
u64 blk_capacity(void); /* sectors */
/* Reads or writes bytes (a multiple of 512) at sector; 0 on success. */
int blk_rw(int write, u64 sector, void *data, u32 bytes);
void blk_describe(struct buf *b);

#endif
