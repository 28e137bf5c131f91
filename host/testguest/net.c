/* Polling virtio-net driver and the tiny IPv4 stack: ARP, ICMP echo, UDP. */
#include "net.h"
#include "kv.h"
#include "persist.h"
#include "virtio.h"

#define kFrameBuf 2048
#define kNetHdr 12 /* struct virtio_net_hdr with num_buffers (VERSION_1) */
#define kMaxFrame 1514
#define kMemcacheFrameHdr 8
#define kMemcacheMaxDatagram 1400 /* memcached's UDP_MAX_PAYLOAD_SIZE, frame header included */

struct net_config net_cfg;
struct net_stats net_stats;

static struct virtio_dev dev;
static struct virtq rxq, txq;
static u8 rxq_mem[8192] __attribute__((aligned(4096)));
static u8 txq_mem[8192] __attribute__((aligned(4096)));
static u8 rx_bufs[kVirtqMaxSize][kFrameBuf] __attribute__((aligned(4096)));
static u8 tx_bufs[kVirtqMaxSize][kFrameBuf] __attribute__((aligned(4096)));
static u16 tx_free[kVirtqMaxSize];
static int tx_free_count;
static u16 ip_id;
static char kv_out[64 * 1024];

static inline u16 get16(const u8 *p) { return (u16)((p[0] << 8) | p[1]); }
static inline u32 get32(const u8 *p) { return ((u32)p[0] << 24) | ((u32)p[1] << 16) | ((u32)p[2] << 8) | p[3]; }
static inline void put16(u8 *p, u16 v) { p[0] = (u8)(v >> 8); p[1] = (u8)v; }
static inline void put32(u8 *p, u32 v) { put16(p, (u16)(v >> 16)); put16(p + 2, (u16)v); }

static u32 csum_add(u32 sum, const u8 *p, size_t n) {
  for (; n > 1; n -= 2, p += 2) sum += get16(p);
  if (n) sum += (u32)p[0] << 8;
  return sum;
}
static u16 csum_fold(u32 sum) {
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return (u16)~sum;
}

static void rx_post(u16 id) {
  rxq.desc[id].addr = (u64)rx_bufs[id];
  rxq.desc[id].len = kFrameBuf;
  rxq.desc[id].flags = VIRTQ_DESC_F_WRITE;
  virtq_push(&rxq, id);
}

const char *net_init(const struct pci_dev *pci) {
  const char *err = virtio_init(&dev, pci, VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MAC | VIRTIO_F_RING_EVENT_IDX);
  if (err) return err;
  if ((err = virtq_setup(&dev, &rxq, 0, rxq_mem))) return err;
  if ((err = virtq_setup(&dev, &txq, 1, txq_mem))) return err;
  if (!net_cfg.mac_from_cmdline && (dev.features & VIRTIO_NET_F_MAC) && dev.device_cfg)
    for (int i = 0; i < 6; i++) net_cfg.mac[i] = mmio_read8(dev.device_cfg + (u64)i);
  for (u16 i = 0; i < txq.size; i++) tx_free[i] = i;
  tx_free_count = txq.size;
  virtio_driver_ok(&dev);
  for (u16 i = 0; i < rxq.size; i++) rx_post(i);
  virtq_publish(&rxq);
  return NULL;
}

void net_describe(struct buf *b) {
  buf_str(b, "virtio-net at pci 00:");
  buf_hex(b, dev.pci->dev, 2);
  buf_str(b, ".");
  buf_u64(b, dev.pci->fn);
  buf_str(b, " features=0x");
  buf_hex(b, dev.features, 16);
  buf_str(b, " rxq=");
  buf_u64(b, rxq.size);
  buf_str(b, " txq=");
  buf_u64(b, txq.size);
}

static void tx_reclaim(void) {
  u32 id, len;
  while (virtq_pop(&txq, &id, &len))
    if (id < txq.size && tx_free_count < txq.size) tx_free[tx_free_count++] = (u16)id; /* a confused device cannot overflow the list */
}

/* A free transmit buffer's frame area; waits for the device if all are in flight. */
static u8 *tx_begin(u16 *slot) {
  tx_reclaim();
  while (tx_free_count == 0) {
    persist_sync(); /* replies become visible: their changes must be on disk */
    virtq_publish(&txq);
    cpu_relax();
    tx_reclaim();
  }
  *slot = tx_free[--tx_free_count];
  memset(tx_bufs[*slot], 0, kNetHdr);
  return tx_bufs[*slot] + kNetHdr;
}

static void tx_commit(u16 slot, size_t frame_len) {
  txq.desc[slot].addr = (u64)tx_bufs[slot];
  txq.desc[slot].len = (u32)(kNetHdr + frame_len);
  txq.desc[slot].flags = 0;
  virtq_push(&txq, slot);
  net_stats.tx++;
}

/* Sends an ARP packet from us: op 1 (request) or 2 (reply), to eth_dst,
 * naming target hardware address tha and target address tpa. */
static void arp_send(u16 op, const u8 *eth_dst, const u8 *tha, u32 tpa) {
  u16 slot;
  u8 *f = tx_begin(&slot);
  memset(f, 0, 60);
  memcpy(f, eth_dst, 6);
  memcpy(f + 6, net_cfg.mac, 6);
  put16(f + 12, 0x0806);
  u8 *a = f + 14;
  put16(a, 1);
  put16(a + 2, 0x0800);
  a[4] = 6;
  a[5] = 4;
  put16(a + 6, op);
  memcpy(a + 8, net_cfg.mac, 6);
  put32(a + 14, net_cfg.ip);
  memcpy(a + 18, tha, 6);
  put32(a + 24, tpa);
  tx_commit(slot, 60);
}

void net_announce(void) {
  static const u8 broadcast[6] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, zero[6] = {0};
  arp_send(1, broadcast, zero, net_cfg.ip); /* a request for our own address: gratuitous ARP */
  virtq_publish(&txq);
}

static void handle_arp(const u8 *f, size_t len) {
  if (len < 42) return;
  const u8 *a = f + 14;
  if (get16(a) != 1 || get16(a + 2) != 0x0800 || get16(a + 6) != 1) return;
  if (get32(a + 24) != net_cfg.ip) return;
  arp_send(2, a + 8, a + 8, get32(a + 14));
  net_stats.arp++;
}

/* Ethernet + IPv4 header of a reply to frame f (addresses swapped); returns the
 * IP payload pointer. */
static u8 *ip_reply_header(u8 *o, const u8 *f, u8 proto, size_t ip_payload_len) {
  memcpy(o, f + 6, 6);
  memcpy(o + 6, net_cfg.mac, 6);
  put16(o + 12, 0x0800);
  u8 *ip = o + 14;
  ip[0] = 0x45;
  ip[1] = 0;
  put16(ip + 2, (u16)(20 + ip_payload_len));
  put16(ip + 4, ip_id++);
  put16(ip + 6, 0x4000); /* don't fragment */
  ip[8] = 64;
  ip[9] = proto;
  put16(ip + 10, 0);
  put32(ip + 12, net_cfg.ip);
  memcpy(ip + 16, f + 14 + 12, 4); /* the request's source */
  put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
  return ip + 20;
}

static void udp_send(const u8 *f, const u8 *udp, const void *pre, size_t pre_len, const void *data, size_t len) {
  size_t ulen = 8 + pre_len + len;
  u16 slot;
  u8 *o = tx_begin(&slot);
  u8 *u = ip_reply_header(o, f, 17, ulen);
  put16(u, get16(udp + 2));
  put16(u + 2, get16(udp));
  put16(u + 4, (u16)ulen);
  put16(u + 6, 0);
  memcpy(u + 8, pre, pre_len);
  memcpy(u + 8 + pre_len, data, len);
  u32 sum = csum_add(0, o + 14 + 12, 8); /* pseudo header: addresses */
  sum += 17 + (u32)ulen;
  u16 c = csum_fold(csum_add(sum, u, ulen));
  put16(u + 6, c ? c : 0xFFFF);
  size_t flen = 14 + 20 + ulen;
  if (flen < 60) {
    memset(o + flen, 0, 60 - flen);
    flen = 60;
  }
  tx_commit(slot, flen);
}

static void handle_memcache(const u8 *f, const u8 *udp, const u8 *p, size_t n) {
  if (n < kMemcacheFrameHdr) return;
  net_stats.memcache++;
  u8 hdr[kMemcacheFrameHdr];
  memcpy(hdr, p, 2); /* request id */
  struct buf out;
  buf_init(&out, kv_out, sizeof kv_out);
  if (get16(p + 4) != 1)
    buf_str(&out, "SERVER_ERROR multi-packet request not supported\r\n");
  else
    kv_process((const char *)p + kMemcacheFrameHdr, n - kMemcacheFrameHdr, &out);
  if (out.overflow) {
    buf_init(&out, kv_out, sizeof kv_out);
    buf_str(&out, "SERVER_ERROR out of memory writing get response\r\n");
  }
  if (out.len == 0) return; /* noreply */
  const size_t chunk = kMemcacheMaxDatagram - kMemcacheFrameHdr;
  u16 total = (u16)((out.len + chunk - 1) / chunk);
  for (u16 seq = 0; seq < total; seq++) {
    put16(hdr + 2, seq);
    put16(hdr + 4, total);
    put16(hdr + 6, 0);
    size_t off = (size_t)seq * chunk;
    size_t len = out.len - off < chunk ? out.len - off : chunk;
    udp_send(f, udp, hdr, sizeof hdr, out.p + off, len);
  }
}

static void handle_ipv4(const u8 *f, size_t len) {
  if (len < 34) return;
  const u8 *ip = f + 14;
  size_t ihl = (size_t)(ip[0] & 15) * 4;
  size_t tot = get16(ip + 2);
  if ((ip[0] >> 4) != 4 || ihl < 20 || tot < ihl || 14 + tot > len) return;
  if (get32(ip + 16) != net_cfg.ip) return;
  if (get16(ip + 6) & 0x3FFF) return; /* fragments are not reassembled */
  if (csum_fold(csum_add(0, ip, ihl)) != 0) return;
  const u8 *l4 = ip + ihl;
  size_t l4len = tot - ihl;
  if (ip[9] == 1 && l4len >= 8 && l4[0] == 8) { /* ICMP echo request */
    u16 slot;
    u8 *o = tx_begin(&slot);
    u8 *icmp = ip_reply_header(o, f, 1, l4len);
    memcpy(icmp, l4, l4len);
    icmp[0] = 0;
    put16(icmp + 2, 0);
    put16(icmp + 2, csum_fold(csum_add(0, icmp, l4len)));
    size_t flen = 34 + l4len;
    if (flen < 60) {
      memset(o + flen, 0, 60 - flen);
      flen = 60;
    }
    tx_commit(slot, flen);
    net_stats.icmp++;
    return;
  }
  if (ip[9] != 17 || l4len < 8) return;
  size_t ulen = get16(l4 + 4);
  if (ulen < 8 || ulen > l4len) return;
  u16 dport = get16(l4 + 2);
  if (dport == kUdpEchoPort) {
    udp_send(f, l4, NULL, 0, l4 + 8, ulen - 8);
    net_stats.udp_echo++;
  } else if (dport == kMemcachePort) {
    handle_memcache(f, l4, l4 + 8, ulen - 8);
  }
}

static void handle_frame(const u8 *f, size_t len) {
  if (len < 14) return;
  if (memcmp(f, net_cfg.mac, 6) != 0 && !(f[0] & 1)) return;
  u16 type = get16(f + 12);
  if (type == 0x0806)
    handle_arp(f, len);
  else if (type == 0x0800)
    handle_ipv4(f, len);
}

int net_poll(void) {
  int n = 0;
  u32 id, len;
  while (n < 64 && virtq_pop(&rxq, &id, &len)) {
    n++;
    if (id >= rxq.size) continue;
    net_stats.rx++;
    if (len > kNetHdr) handle_frame(rx_bufs[id] + kNetHdr, len - kNetHdr > kMaxFrame ? kMaxFrame : len - kNetHdr);
    rx_post((u16)id);
  }
  if (n) {
    persist_sync(); /* one disk write for the burst's mutations, before their replies */
    virtq_publish(&txq);
    virtq_publish(&rxq);
    net_stats.notifies = txq.notifies + rxq.notifies;
  }
  return n;
}
