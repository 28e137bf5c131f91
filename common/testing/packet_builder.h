// Builds Ethernet frames (VLAN, ARP, IPv4, IPv6, UDP, TCP with options) with
// correct checksums, for tests, the golden-vector generator and benchmarks.
// Host-side only (allocates); not for firmware.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace twinstep::testing {

struct TcpSegment {
  uint16_t sport = 40000, dport = 80;
  uint32_t seq = 0, ack = 0;
  uint8_t flags = 0x10;  // ACK
  uint16_t window = 64240;
  bool timestamps = false;
  uint32_t tsval = 0, tsecr = 0;
};

class PacketBuilder {
 public:
  PacketBuilder& Mac(const uint8_t dst[6], const uint8_t src[6]) {
    std::memcpy(dst_, dst, 6);
    std::memcpy(src_, src, 6);
    return *this;
  }
  PacketBuilder& Vlan(uint16_t vid) {
    vlans_.push_back(vid);
    return *this;
  }
  PacketBuilder& Ipv4(uint32_t src, uint32_t dst, uint16_t id = 0, uint8_t ttl = 64) {
    v6_ = false;
    ip4_src_ = src;
    ip4_dst_ = dst;
    ip_id_ = id;
    ttl_ = ttl;
    return *this;
  }
  PacketBuilder& Ipv6(const uint8_t src[16], const uint8_t dst[16], uint32_t flow_label = 0) {
    v6_ = true;
    std::memcpy(ip6_src_, src, 16);
    std::memcpy(ip6_dst_, dst, 16);
    flow_label_ = flow_label;
    return *this;
  }

  std::vector<uint8_t> Udp(uint16_t sport, uint16_t dport, std::string_view payload) const {
    std::vector<uint8_t> l4(8 + payload.size());
    Put16(&l4[0], sport);
    Put16(&l4[2], dport);
    Put16(&l4[4], static_cast<uint16_t>(l4.size()));
    std::memcpy(l4.data() + 8, payload.data(), payload.size());
    return Ip(17, l4, 6);
  }

  std::vector<uint8_t> Tcp(const TcpSegment& s, std::string_view payload) const {
    const size_t opt = s.timestamps ? 12 : 0;
    std::vector<uint8_t> l4(20 + opt + payload.size());
    Put16(&l4[0], s.sport);
    Put16(&l4[2], s.dport);
    Put32(&l4[4], s.seq);
    Put32(&l4[8], s.ack);
    l4[12] = static_cast<uint8_t>(((20 + opt) / 4) << 4);
    l4[13] = s.flags;
    Put16(&l4[14], s.window);
    if (s.timestamps) {
      l4[20] = 1;
      l4[21] = 1;
      l4[22] = 8;
      l4[23] = 10;
      Put32(&l4[24], s.tsval);
      Put32(&l4[28], s.tsecr);
    }
    std::memcpy(l4.data() + 20 + opt, payload.data(), payload.size());
    return Ip(6, l4, 16);
  }

  std::vector<uint8_t> Arp(uint16_t op, uint32_t sender_ip, uint32_t target_ip) const {
    std::vector<uint8_t> f = L2(0x0806);
    uint8_t a[28] = {0, 1, 8, 0, 6, 4};
    Put16(&a[6], op);
    std::memcpy(&a[8], src_, 6);
    Put32(&a[14], sender_ip);
    if (op == 2) std::memcpy(&a[18], dst_, 6);
    Put32(&a[24], target_ip);
    f.insert(f.end(), a, a + 28);
    return f;
  }

  static void Put16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
  }
  static void Put32(uint8_t* p, uint32_t v) {
    Put16(p, static_cast<uint16_t>(v >> 16));
    Put16(p + 2, static_cast<uint16_t>(v));
  }

 private:
  static uint32_t Sum(const uint8_t* p, size_t n, uint32_t acc = 0) {
    for (size_t i = 0; i + 1 < n; i += 2) acc += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
    if (n & 1) acc += static_cast<uint32_t>(p[n - 1] << 8);
    return acc;
  }
  static uint16_t Fold(uint32_t acc) {
    while (acc >> 16) acc = (acc & 0xFFFF) + (acc >> 16);
    return static_cast<uint16_t>(~acc);
  }

  std::vector<uint8_t> L2(uint16_t type) const {
    std::vector<uint8_t> f(12);
    std::memcpy(f.data(), dst_, 6);
    std::memcpy(f.data() + 6, src_, 6);
    for (uint16_t vid : vlans_) {
      f.push_back(0x81);
      f.push_back(0x00);
      f.push_back(static_cast<uint8_t>(vid >> 8));
      f.push_back(static_cast<uint8_t>(vid));
    }
    f.push_back(static_cast<uint8_t>(type >> 8));
    f.push_back(static_cast<uint8_t>(type));
    return f;
  }

  // Wraps an L4 segment in IPv4 or IPv6 and fills its checksum at `csum_off`.
  std::vector<uint8_t> Ip(uint8_t proto, std::vector<uint8_t> l4, size_t csum_off) const {
    uint32_t pseudo = 0;
    std::vector<uint8_t> f = L2(v6_ ? 0x86DD : 0x0800);
    if (!v6_) {
      uint8_t h[20] = {0x45, 0};
      Put16(&h[2], static_cast<uint16_t>(20 + l4.size()));
      Put16(&h[4], ip_id_);
      h[6] = 0x40;  // don't fragment
      h[8] = ttl_;
      h[9] = proto;
      Put32(&h[12], ip4_src_);
      Put32(&h[16], ip4_dst_);
      Put16(&h[10], Fold(Sum(h, 20)));
      f.insert(f.end(), h, h + 20);
      pseudo = Sum(&h[12], 8) + proto + static_cast<uint32_t>(l4.size());
    } else {
      uint8_t h[40] = {};
      Put32(&h[0], 0x60000000u | (flow_label_ & 0xFFFFF));
      Put16(&h[4], static_cast<uint16_t>(l4.size()));
      h[6] = proto;
      h[7] = ttl_;
      std::memcpy(&h[8], ip6_src_, 16);
      std::memcpy(&h[24], ip6_dst_, 16);
      f.insert(f.end(), h, h + 40);
      pseudo = Sum(&h[8], 32) + proto + static_cast<uint32_t>(l4.size());
    }
    Put16(&l4[csum_off], Fold(Sum(l4.data(), l4.size(), pseudo)));
    f.insert(f.end(), l4.begin(), l4.end());
    return f;
  }

  uint8_t dst_[6] = {0x02, 0, 0, 0, 0, 0x02};
  uint8_t src_[6] = {0x02, 0, 0, 0, 0, 0x01};
  std::vector<uint16_t> vlans_;
  bool v6_ = false;
  uint32_t ip4_src_ = 0x0A000002, ip4_dst_ = 0x0A000001;
  uint16_t ip_id_ = 0;
  uint8_t ttl_ = 64;
  uint8_t ip6_src_[16] = {}, ip6_dst_[16] = {};
  uint32_t flow_label_ = 0;
};

}  // namespace twinstep::testing
