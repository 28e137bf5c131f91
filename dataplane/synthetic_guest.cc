// The synthetic guest endpoint (see synthetic_guest.h).
#include "dataplane/synthetic_guest.h"

#include <cstring>

namespace twinstep::dataplane {
namespace {

constexpr size_t kEth = 14, kIp = 20, kUdp = 8;
constexpr size_t kCountBytes = 8;

uint16_t IpChecksum(const uint8_t* h) {
  uint32_t sum = 0;
  for (size_t i = 0; i < kIp; i += 2) sum += uint32_t{h[i]} << 8 | h[i + 1];
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

}  // namespace

uint64_t& SyntheticGuest::FlowCount(uint64_t flow) {
  if (2 * (flows_ + 1) > flow_slots_.size()) {
    std::vector<FlowSlot> old(flow_slots_.size() * 2);
    old.swap(flow_slots_);
    flows_ = 0;
    for (const FlowSlot& s : old) {
      if (s.used) FlowCount(s.flow) = s.count;
    }
  }
  const size_t mask = flow_slots_.size() - 1;
  for (size_t i = (flow * 0x9E3779B97F4A7C15ull) >> 32 & mask;; i = (i + 1) & mask) {
    FlowSlot& s = flow_slots_[i];
    if (s.used && s.flow == flow) return s.count;
    if (!s.used) {
      s = FlowSlot{flow, 0, true};
      ++flows_;
      return s.count;
    }
  }
}

rte_mbuf* SyntheticGuest::Reply(const rte_mbuf* in) {
  const uint8_t* p = rte_pktmbuf_mtod(in, const uint8_t*);
  const size_t len = rte_pktmbuf_data_len(in);
  // IPv4 without options, UDP, nothing else.
  if (len < kEth + kIp + kUdp || p[12] != 0x08 || p[13] != 0x00 || p[14] != 0x45 || p[23] != 17) return nullptr;
  const size_t udp_len = static_cast<size_t>(p[kEth + kIp + 4] << 8 | p[kEth + kIp + 5]);
  if (udp_len < kUdp || kEth + kIp + udp_len > len) return nullptr;
  const size_t payload = udp_len - kUdp;
  // Flow: addresses and ports of the request.
  uint64_t flow = 0;
  std::memcpy(&flow, p + kEth + 12, 8);
  uint32_t ports = 0;
  std::memcpy(&ports, p + kEth + kIp, 4);
  flow ^= uint64_t{ports} * 0x9E3779B97F4A7C15ull;
  const uint64_t count = FlowCount(flow)++;

  const size_t out_len = kEth + kIp + kUdp + payload + kCountBytes;
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (!m) return nullptr;
  uint8_t* o = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(out_len)));
  if (!o) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  std::memcpy(o, p + 6, 6);  // MACs swapped
  std::memcpy(o + 6, p, 6);
  o[12] = 0x08;
  o[13] = 0x00;
  uint8_t* ip = o + kEth;
  std::memcpy(ip, p + kEth, kIp);
  const uint16_t ip_len = static_cast<uint16_t>(kIp + kUdp + payload + kCountBytes);
  ip[2] = static_cast<uint8_t>(ip_len >> 8);
  ip[3] = static_cast<uint8_t>(ip_len);
  const uint16_t id = static_cast<uint16_t>(salt_ + outputs_);  // differs per replica: normalized away
  ip[4] = static_cast<uint8_t>(id >> 8);
  ip[5] = static_cast<uint8_t>(id);
  std::memcpy(ip + 12, p + kEth + 16, 4);
  std::memcpy(ip + 16, p + kEth + 12, 4);
  ip[10] = ip[11] = 0;
  const uint16_t csum = IpChecksum(ip);
  ip[10] = static_cast<uint8_t>(csum >> 8);
  ip[11] = static_cast<uint8_t>(csum);
  uint8_t* udp = ip + kIp;
  std::memcpy(udp, p + kEth + kIp + 2, 2);
  std::memcpy(udp + 2, p + kEth + kIp, 2);
  const uint16_t ulen = static_cast<uint16_t>(kUdp + payload + kCountBytes);
  udp[4] = static_cast<uint8_t>(ulen >> 8);
  udp[5] = static_cast<uint8_t>(ulen);
  udp[6] = udp[7] = 0;  // no UDP checksum (IPv4 allows it)
  std::memcpy(udp + kUdp, p + kEth + kIp + kUdp, payload);
  for (size_t i = 0; i < kCountBytes; ++i) udp[kUdp + payload + i] = static_cast<uint8_t>(count >> (56 - 8 * i));
  if (outputs_ == diverge_at_.load(std::memory_order_relaxed)) o[out_len - 1] ^= 0x5A;
  ++outputs_;
  return m;
}

size_t SyntheticGuest::Poll() {
  size_t work = 0;
  rte_mbuf* in[32];
  while (port_->GuestTransmitRoom() > 0) {
    const size_t n = port_->GuestReceive(in, std::min<size_t>(32, port_->GuestTransmitRoom()));
    if (n == 0) break;
    for (size_t i = 0; i < n; ++i) {
      ++inputs_;
      rte_mbuf* r = Reply(in[i]);
      rte_pktmbuf_free(in[i]);
      if (!r) {
        ++ignored_;
        continue;
      }
      port_->GuestTransmit(&r, 1);  // room was checked
    }
    work += n;
  }
  return work;
}

}  // namespace twinstep::dataplane
