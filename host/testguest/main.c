/* Ring-3 main of the test guest: command line, devices, then the poll loop.
 * Nothing here reads a clock or a random source: the same inputs give the same
 * outputs, byte for byte, on every replica. */
#include "kv.h"
#include "lib.h"
#include "net.h"
#include "pci.h"
#include "persist.h"

#define kHvmStartMagic 0x336ec578u
#define PREFIX "twinstep-testguest: "

struct hvm_start_info {
  u32 magic, version, flags, nr_modules;
  u64 modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
  u32 memmap_entries, reserved;
};

struct hvm_memmap_entry {
  u64 addr, size;
  u32 type, reserved;
};

extern char bss_start[], bss_end[], image_start[], image_end[];
extern u64 start_info_paddr;

void guest_main(void);

static char line_mem[512];
static int fault_requested; /* fault=ud: test hook for the exception handlers */

static struct buf *line(void) {
  static struct buf b;
  buf_init(&b, line_mem, sizeof line_mem);
  buf_str(&b, PREFIX);
  return &b;
}

static int opt_is(const char *tok, size_t n, const char *name, size_t *vlen) {
  size_t k = strlen(name);
  if (n <= k || memcmp(tok, name, k) != 0) return 0;
  *vlen = n - k;
  return 1;
}

/* ip=A.B.C.D mask=A.B.C.D gw=A.B.C.D mac=xx:xx:xx:xx:xx:xx; other words are
 * reported and ignored. */
static void parse_cmdline(const char *s) {
  size_t i = 0;
  while (s[i]) {
    while (s[i] == ' ') i++;
    size_t st = i;
    while (s[i] && s[i] != ' ') i++;
    size_t n = i - st, vl;
    const char *t = s + st;
    if (!n) continue;
    int ok = 1;
    if (opt_is(t, n, "ip=", &vl))
      ok = parse_ip(t + 3, vl, &net_cfg.ip) == (int)vl;
    else if (opt_is(t, n, "mask=", &vl))
      ok = parse_ip(t + 5, vl, &net_cfg.mask) == (int)vl;
    else if (opt_is(t, n, "gw=", &vl))
      ok = parse_ip(t + 3, vl, &net_cfg.gw) == (int)vl;
    else if (opt_is(t, n, "mac=", &vl))
      ok = net_cfg.mac_from_cmdline = parse_mac(t + 4, vl, net_cfg.mac) == (int)vl;
    else if (n == 8 && memcmp(t, "fault=ud", 8) == 0)
      fault_requested = 1;
    else
      ok = -1;
    if (ok != 1) {
      struct buf *b = line();
      buf_str(b, ok < 0 ? "ignoring unknown option '" : "bad value, default kept: '");
      buf_put(b, t, n);
      buf_str(b, "'");
      console_line(b);
    }
  }
}

/* Reports the RAM the loader described (hvm_start_info version 1) and stops
 * with a clear message if the image does not lie in it. */
static void check_memory(const struct hvm_start_info *si) {
  if (!si || si->magic != kHvmStartMagic || si->version < 1 || !si->memmap_paddr) return;
  const struct hvm_memmap_entry *e = (const struct hvm_memmap_entry *)si->memmap_paddr;
  u64 ram = 0;
  int covered = 0;
  for (u32 i = 0; i < si->memmap_entries && i < 128; i++) {
    if (e[i].type != 1) continue;
    ram += e[i].size;
    if (e[i].addr <= (u64)image_start && e[i].addr + e[i].size >= (u64)image_end) covered = 1;
  }
  char mem[160]; /* on the stack: .bss may not be in RAM, and is not cleared yet */
  struct buf lb, *b = &lb;
  buf_init(b, mem, sizeof mem);
  buf_str(b, PREFIX "memory: ");
  buf_u64(b, ram >> 20);
  buf_str(b, " MiB of RAM in ");
  buf_u64(b, si->memmap_entries);
  buf_str(b, " map entries; image 0x");
  buf_hex(b, (u64)image_start, 6);
  buf_str(b, "-0x");
  buf_hex(b, (u64)image_end, 6);
  console_line(b);
  if (!covered) panic("the image does not lie in RAM: give the guest at least 16 MiB");
}

void guest_main(void) {
  const struct hvm_start_info *si = (const struct hvm_start_info *)start_info_paddr;
  uart_init();
  console_puts(PREFIX "twinstep test guest (PVH, ring 3, polling virtio-pci)\n");
  check_memory(si);
  memset(bss_start, 0, (size_t)(bss_end - bss_start));

  net_cfg.ip = 0x0A00020F;   /* 10.0.2.15: QEMU user networking's guest address */
  net_cfg.mask = 0xFFFFFF00; /* 255.255.255.0 */
  net_cfg.gw = 0x0A000202;   /* 10.0.2.2 */
  static const u8 default_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  memcpy(net_cfg.mac, default_mac, 6);

  const char *cmdline = "";
  if (si && si->magic == kHvmStartMagic && si->cmdline_paddr) cmdline = (const char *)si->cmdline_paddr;
  struct buf *b = line();
  buf_str(b, "cmdline '");
  buf_str(b, cmdline);
  buf_str(b, "'");
  console_line(b);
  parse_cmdline(cmdline);
  if (fault_requested) {
    console_puts(PREFIX "fault=ud: executing ud2\n");
    __asm__ volatile("ud2");
  }

  kv_init();
  b = line();
  buf_str(b, "pci: ");
  buf_u64(b, (u64)pci_scan());
  buf_str(b, " functions on bus 0");
  console_line(b);

  const struct pci_dev *blk = pci_find(0x1AF4, 0x1042);
  if (blk) {
    const char *err = persist_init(blk);
    b = line();
    if (err) {
      buf_str(b, "virtio-blk unusable, store not persistent: ");
      buf_str(b, err);
    } else {
      persist_describe(b);
    }
    console_line(b);
  } else {
    console_puts(PREFIX "no virtio-blk disk: the store is not persistent\n");
  }

  const struct pci_dev *nic = pci_find(0x1AF4, 0x1041);
  if (!nic) panic("no modern virtio-net device (1af4:1041); the guest needs one (QEMU: virtio-net-pci,disable-legacy=on)");
  const char *err = net_init(nic);
  if (err) panic(err);
  b = line();
  net_describe(b);
  console_line(b);

  b = line();
  buf_str(b, "config ip=");
  buf_ip(b, net_cfg.ip);
  buf_str(b, " mask=");
  buf_ip(b, net_cfg.mask);
  buf_str(b, " gw=");
  buf_ip(b, net_cfg.gw);
  buf_str(b, " mac=");
  buf_mac(b, net_cfg.mac);
  console_line(b);
  console_puts(PREFIX "services: arp, icmp echo, udp/7 echo, udp/11211 memcached ascii\n");

  net_announce();
  console_puts(PREFIX "ready\n");
  for (;;)
    if (net_poll() == 0) cpu_relax();
}
