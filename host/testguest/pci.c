/* PCI configuration mechanism 1 (ports 0xCF8/0xCFC): bus-0 scan and BARs. */
#include "pci.h"

#define PCI_ADDR 0xCF8
#define PCI_DATA 0xCFC
#define kPciAssignBase 0xC0000000ULL /* unassigned BARs go here (documented) */

static struct pci_dev devices[64];
static int num_devices;
static u64 next_assign = kPciAssignBase;

static u32 cfg_address(const struct pci_dev *d, u8 off) {
  return 0x80000000u | ((u32)d->bus << 16) | ((u32)d->dev << 11) | ((u32)d->fn << 8) | (off & 0xFC);
}

u32 pci_read32(const struct pci_dev *d, u8 off) {
  outl(PCI_ADDR, cfg_address(d, off));
  return inl(PCI_DATA);
}

u8 pci_read8(const struct pci_dev *d, u8 off) { return (u8)(pci_read32(d, off) >> (8 * (off & 3))); }

void pci_write32(const struct pci_dev *d, u8 off, u32 v) {
  outl(PCI_ADDR, cfg_address(d, off));
  outl(PCI_DATA, v);
}

int pci_scan(void) {
  num_devices = 0;
  for (u8 dev = 0; dev < 32; dev++) {
    for (u8 fn = 0; fn < 8; fn++) {
      struct pci_dev d = {0, dev, fn, 0, 0};
      u32 id = pci_read32(&d, 0);
      if ((id & 0xFFFF) == 0xFFFF) {
        if (fn == 0) break;
        continue;
      }
      d.vendor = (u16)id;
      d.device = (u16)(id >> 16);
      if (num_devices < (int)ARRAY_SIZE(devices)) devices[num_devices++] = d;
      if (fn == 0 && !(pci_read8(&d, 0x0E) & 0x80)) break; /* single function */
    }
  }
  return num_devices;
}

const struct pci_dev *pci_find(u16 vendor, u16 device) {
  for (int i = 0; i < num_devices; i++)
    if (devices[i].vendor == vendor && devices[i].device == device) return &devices[i];
  return NULL;
}

void pci_enable(const struct pci_dev *d) {
  u32 cmd = pci_read32(d, 0x04);
  if ((cmd & 0x6) != 0x6) pci_write32(d, 0x04, (cmd & 0xFFFF) | 0x6);
}

extern u64 pdpt[512], pd_high[512];

/* Maps the 1 GiB region holding addr with 2 MiB uncached user pages. The page
 * tables are user-writable, and a PDPT entry that was not present cannot be in
 * any TLB or paging-structure cache, so no invalidation is needed. */
static int map_high(u64 addr) {
  u64 gib = addr >> 30;
  if (gib >= 512) return 0;
  if (pdpt[gib] & 1) return (pdpt[gib] & ~0xFFFULL) == (u64)pd_high;
  for (u64 i = 0; i < 512; i++) pd_high[i] = (gib << 30) | (i << 21) | 0x9F;
  barrier();
  pdpt[gib] = (u64)pd_high | 7;
  barrier();
  return 1;
}

u64 pci_bar_address(const struct pci_dev *d, int n) {
  u8 off = (u8)(0x10 + 4 * n);
  u32 lo = pci_read32(d, off);
  if (lo & 1) return 0; /* I/O BAR */
  int is64 = ((lo >> 1) & 3) == 2;
  u64 addr = lo & ~0xFULL;
  if (is64) addr |= (u64)pci_read32(d, (u8)(off + 4)) << 32;
  if (addr == 0) {
    /* Unassigned: size it and place it, naturally aligned. */
    u32 cmd = pci_read32(d, 0x04);
    pci_write32(d, 0x04, cmd & ~2u & 0xFFFF);
    pci_write32(d, off, 0xFFFFFFFF);
    u32 mask = pci_read32(d, off) & ~0xFu;
    u64 size = (u64)(~mask) + 1;
    if (is64) pci_write32(d, (u8)(off + 4), 0);
    if (mask == 0) { /* no such BAR */
      pci_write32(d, off, 0);
      pci_write32(d, 0x04, cmd & 0xFFFF);
      return 0;
    }
    addr = (next_assign + size - 1) & ~(size - 1);
    next_assign = addr + size;
    pci_write32(d, off, (u32)addr | (lo & 0xF));
    pci_write32(d, 0x04, cmd & 0xFFFF);
  }
  if (addr >= (1ULL << 32) && !map_high(addr)) return 0;
  return addr;
}
