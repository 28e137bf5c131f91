/* Polling virtio-net driver and the tiny IPv4 stack: ARP, ICMP echo, UDP. */
#ifndef TESTGUEST_NET_H
#define TESTGUEST_NET_H
#include "lib.h"
#include "pci.h"

#define kUdpEchoPort 7
#define kMemcachePort 11211

struct net_config {
  u32 ip, mask, gw; /* host byte order */
  u8 mac[6];
  int mac_from_cmdline;
};

struct net_stats {
  u64 rx, tx, arp, icmp, udp_echo, memcache, dropped, notifies;
};

extern struct net_config net_cfg;
extern struct net_stats net_stats;

/* Brings up the device; fills net_cfg.mac from the device unless the command line set it. */
const char *net_init(const struct pci_dev *pci);
/* Handles every received frame that is ready; returns how many. */
int net_poll(void);
/* Announces our address (gratuitous ARP), so that peers need not ask. */
void net_announce(void);
/* The one-line description of the device for the boot log. */
void net_describe(struct buf *b);

#endif
