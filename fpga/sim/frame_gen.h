// Random output frames for the RTL tests: every layer the digest parses
// (VLAN/QinQ, IPv4 with options and fragments, IPv6 with extension headers,
// UDP, TCP with option lists), sometimes malformed or truncated, 14 B to 9018 B.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace twinstep::fpga::testing {

// An IPv4/UDP frame of `bytes` bytes (at least 64) whose flow is its source
// port's low byte `flow`; `tag` goes into the payload so that frames differ.
inline std::vector<uint8_t> UdpFrame(size_t bytes, uint8_t flow, uint8_t tag) {
  std::vector<uint8_t> f(bytes, 0);
  const uint8_t hdr[] = {0x52, 0x54, 0, 0xab, 0xcd, 0xef, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x08, 0x00,
                         0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1};
  std::copy(std::begin(hdr), std::end(hdr), f.begin());
  const size_t ip_len = bytes - 14;
  f[16] = static_cast<uint8_t>(ip_len >> 8);
  f[17] = static_cast<uint8_t>(ip_len);
  f[34] = 0x9c;
  f[35] = flow;
  f[37] = 7;
  f[38] = static_cast<uint8_t>((ip_len - 20) >> 8);
  f[39] = static_cast<uint8_t>(ip_len - 20);
  f[42] = tag;
  return f;
}

class FrameGen {
 public:
  explicit FrameGen(uint32_t seed, int flows = 16) : rng_(seed), flows_(flows) {}

  std::vector<uint8_t> Next() {
    std::vector<uint8_t> f;
    const uint32_t flow = Pick(flows_);
    const uint8_t mac[12] = {0x52, 0x54, 0, 0xab, 0xcd, 0xef, 0x52, 0x54, 0, 0x12, 0x34, static_cast<uint8_t>(flow)};
    f.insert(f.end(), mac, mac + 12);
    for (uint32_t v = Pick(3) == 0 ? 1 + Pick(2) : 0; v > 0; --v) {
      Put16(f, Pick(2) ? 0x8100 : 0x88A8);
      Put16(f, static_cast<uint16_t>(Pick(65536)));
    }
    const uint32_t kind = Pick(10);
    if (kind < 5) Ipv4(f, flow);
    else if (kind < 8) Ipv6(f, flow);
    else Put16(f, kind == 8 ? 0x0806 : static_cast<uint16_t>(Pick(65536)));
    // Payload up to a jumbo frame, sometimes none.
    const uint32_t size_class = Pick(8);
    size_t want = size_class == 0 ? 9018 : size_class == 1 ? 64 : size_class == 2 ? 1514 : f.size() + Pick(200);
    while (f.size() < want) f.push_back(static_cast<uint8_t>(Pick(256)));
    // Fix IP lengths to the real size most of the time, so the layers parse.
    if (ip_off_ && Pick(8) != 0) FixLengths(f);
    if (Pick(16) == 0) f.resize(std::max<size_t>(1, Pick(static_cast<uint32_t>(f.size()))));  // truncated
    ip_off_ = 0;
    return f;
  }

 private:
  uint32_t Pick(uint32_t n) { return std::uniform_int_distribution<uint32_t>(0, n - 1)(rng_); }
  static void Put16(std::vector<uint8_t>& f, uint16_t v) {
    f.push_back(static_cast<uint8_t>(v >> 8));
    f.push_back(static_cast<uint8_t>(v));
  }
  static void Put32(std::vector<uint8_t>& f, uint32_t v) {
    Put16(f, static_cast<uint16_t>(v >> 16));
    Put16(f, static_cast<uint16_t>(v));
  }
  void Rand(std::vector<uint8_t>& f, size_t n) {
    for (size_t i = 0; i < n; ++i) f.push_back(static_cast<uint8_t>(Pick(256)));
  }

  void Ipv4(std::vector<uint8_t>& f, uint32_t flow) {
    Put16(f, 0x0800);
    ip_off_ = f.size();
    v6_ = false;
    const uint32_t opt_words = Pick(4) == 0 ? Pick(11) : 0;
    f.push_back(static_cast<uint8_t>(0x40 | (5 + opt_words)));
    f.push_back(0);
    Put16(f, 0);  // total length, fixed later
    Put16(f, static_cast<uint16_t>(Pick(65536)));
    Put16(f, Pick(8) == 0 ? static_cast<uint16_t>(Pick(65536)) : 0x4000);
    f.push_back(64);
    const uint8_t protos[] = {6, 17, 1, 6, 17};
    f.push_back(protos[Pick(5)]);
    Put16(f, static_cast<uint16_t>(Pick(65536)));
    Put32(f, 0x0a000002);
    Put32(f, 0x0a000100 + flow);
    Rand(f, opt_words * 4);
    L4(f, f[ip_off_ + 9], flow);
  }

  void Ipv6(std::vector<uint8_t>& f, uint32_t flow) {
    Put16(f, 0x86DD);
    ip_off_ = f.size();
    v6_ = true;
    Put32(f, 0x60000000 | Pick(1 << 20));
    Put16(f, 0);  // payload length, fixed later
    const uint8_t exts[] = {0, 43, 60, 44};
    // Sometimes a long chain (4..9 headers of 8 bytes): every stage of the
    // parser's extension walk, and one past the eight it follows.
    const bool long_chain = Pick(4) == 0;
    uint32_t next_ext = Pick(3) == 0 ? (long_chain ? 4 + Pick(6) : 1 + Pick(3)) : 0;
    const uint8_t l4 = Pick(2) ? 6 : 17;
    f.push_back(next_ext ? exts[Pick(4)] : l4);
    f.push_back(64);
    for (int i = 0; i < 15; ++i) f.push_back(0xfd);
    f.push_back(2);
    for (int i = 0; i < 15; ++i) f.push_back(0xfd);
    f.push_back(static_cast<uint8_t>(flow));
    size_t hdr = f.size();
    while (next_ext > 0 && f[ip_off_ + 6] != 44) {
      --next_ext;
      const uint8_t len = long_chain ? 0 : static_cast<uint8_t>(Pick(3));
      f.push_back(next_ext ? exts[Pick(3)] : l4);
      f.push_back(len);
      Rand(f, 6 + 8 * len);
      if (next_ext == 0) break;
      hdr = f.size();
    }
    (void)hdr;
    L4(f, l4, flow);
  }

  void L4(std::vector<uint8_t>& f, uint8_t proto, uint32_t flow) {
    if (proto == 17) {
      Put16(f, static_cast<uint16_t>(1000 + flow));
      Put16(f, 7);
      Put16(f, 0);
      Put16(f, static_cast<uint16_t>(Pick(65536)));
    } else if (proto == 6) {
      std::vector<uint8_t> opts;
      const uint32_t shape = Pick(5);
      if (shape == 1) {  // NOPs (2 or up to 30: more hops than a short walk follows), timestamps
        opts.assign(Pick(2) ? 2 : 2 + Pick(29), 1);
        opts.insert(opts.end(), {8, 10});
        Rand(opts, 8);
      } else if (shape == 2) {  // MSS, SACK-permitted, timestamps, window scale
        opts = {2, 4, 5, 0xb4, 4, 2, 8, 10};
        Rand(opts, 8);
        opts.insert(opts.end(), {1, 3, 3, 7});
      } else if (shape == 3) {  // random bytes: the option walk's edge cases
        Rand(opts, 4 * Pick(11));
        if (!opts.empty() && Pick(2)) opts[Pick(static_cast<uint32_t>(opts.size()))] = 8;
      } else if (shape == 4) {  // timestamps first, then 0-28 bytes of other options or an end of list
        opts = {8, 10};
        Rand(opts, 8);
        const uint32_t more = Pick(8);
        for (uint32_t i = 0; i < more; ++i) opts.insert(opts.end(), {1, 3, 3, 7});
        if (Pick(2)) opts.push_back(0);
      }
      while (opts.size() % 4) opts.push_back(1);
      Put16(f, static_cast<uint16_t>(2000 + flow));
      Put16(f, 80);
      Put32(f, Pick(4) == 0 ? 0xFFFFFFF0u + Pick(32) : rng_());
      Put32(f, rng_());
      f.push_back(static_cast<uint8_t>((5 + opts.size() / 4) << 4));
      const uint8_t flags[] = {0x02, 0x12, 0x10, 0x18, 0x11, 0x04, 0x00};
      f.push_back(flags[Pick(7)]);
      Put16(f, 64240);
      Put16(f, static_cast<uint16_t>(Pick(65536)));
      Put16(f, 0);
      f.insert(f.end(), opts.begin(), opts.end());
    }
  }

  void FixLengths(std::vector<uint8_t>& f) {
    const size_t pad = Pick(4) == 0 ? Pick(8) : 0;  // Ethernet padding after the datagram
    if (f.size() < ip_off_ + 40 + pad) return;
    const size_t n = f.size() - ip_off_ - pad;
    const size_t v = v6_ ? n - 40 : n;
    if (v > 0xFFFF) return;
    f[ip_off_ + (v6_ ? 4 : 2)] = static_cast<uint8_t>(v >> 8);
    f[ip_off_ + (v6_ ? 5 : 3)] = static_cast<uint8_t>(v);
  }

  std::mt19937 rng_;
  int flows_;
  size_t ip_off_ = 0;
  bool v6_ = false;
};

}  // namespace twinstep::fpga::testing
