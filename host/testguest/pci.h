/* PCI configuration mechanism 1 (ports 0xCF8/0xCFC): bus-0 scan and BARs. */
#ifndef TESTGUEST_PCI_H
#define TESTGUEST_PCI_H
#include "lib.h"

struct pci_dev {
  u8 bus, dev, fn;
  u16 vendor, device;
};

u32 pci_read32(const struct pci_dev *d, u8 off);
u8 pci_read8(const struct pci_dev *d, u8 off);
void pci_write32(const struct pci_dev *d, u8 off, u32 v);

/* Scans bus 0 once; returns the number of functions found. */
int pci_scan(void);
/* The first function with this vendor and device id, or NULL. */
const struct pci_dev *pci_find(u16 vendor, u16 device);
/* Turns on memory decoding and bus mastering (virtio DMA needs the latter). */
void pci_enable(const struct pci_dev *d);
/* The address of memory BAR n (64-bit BARs combined). A BAR left unassigned is
 * given an address from kPciAssignBase upward; a BAR above 4 GiB gets a page
 * directory of its own. Returns 0 for an I/O BAR or one the guest cannot map. */
u64 pci_bar_address(const struct pci_dev *d, int n);

#endif
