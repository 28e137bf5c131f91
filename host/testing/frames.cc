// BuildUdpFrame / ParseUdpFrame (RFC 791, RFC 768; UDP checksum left 0).
#include "host/testing/frames.h"

namespace twinstep::host::testing {
namespace {

void Put16(std::vector<uint8_t>& f, uint16_t v) {
  f.push_back(static_cast<uint8_t>(v >> 8));
  f.push_back(static_cast<uint8_t>(v));
}
uint16_t Get16(const std::vector<uint8_t>& f, size_t off) { return static_cast<uint16_t>(f[off] << 8 | f[off + 1]); }

}  // namespace

std::vector<uint8_t> BuildUdpFrame(const UdpDatagram& d) {
  std::vector<uint8_t> f(d.dst_mac.begin(), d.dst_mac.end());
  f.insert(f.end(), d.src_mac.begin(), d.src_mac.end());
  Put16(f, 0x0800);
  const size_t ip = f.size();
  const uint16_t udp_len = static_cast<uint16_t>(8 + d.payload.size());
  f.push_back(0x45);
  f.push_back(0);
  Put16(f, static_cast<uint16_t>(20 + udp_len));
  Put16(f, 1);       // id
  Put16(f, 0x4000);  // DF
  f.push_back(64);
  f.push_back(17);
  Put16(f, 0);  // checksum, below
  f.insert(f.end(), d.src_ip.begin(), d.src_ip.end());
  f.insert(f.end(), d.dst_ip.begin(), d.dst_ip.end());
  uint32_t sum = 0;
  for (size_t i = ip; i < ip + 20; i += 2) sum += Get16(f, i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  f[ip + 10] = static_cast<uint8_t>(~sum >> 8);
  f[ip + 11] = static_cast<uint8_t>(~sum);
  Put16(f, d.src_port);
  Put16(f, d.dst_port);
  Put16(f, udp_len);
  Put16(f, 0);
  f.insert(f.end(), d.payload.begin(), d.payload.end());
  return f;
}

std::optional<UdpDatagram> ParseUdpFrame(const std::vector<uint8_t>& f) {
  if (f.size() < 42 || Get16(f, 12) != 0x0800 || (f[14] >> 4) != 4 || f[23] != 17) return std::nullopt;
  const size_t ihl = (f[14] & 0xf) * 4u;
  const size_t udp = 14 + ihl;
  if (f.size() < udp + 8) return std::nullopt;
  const size_t len = Get16(f, udp + 4);
  if (len < 8 || udp + len > f.size()) return std::nullopt;
  UdpDatagram d;
  std::copy(f.begin(), f.begin() + 6, d.dst_mac.begin());
  std::copy(f.begin() + 6, f.begin() + 12, d.src_mac.begin());
  std::copy(f.begin() + 26, f.begin() + 30, d.src_ip.begin());
  std::copy(f.begin() + 30, f.begin() + 34, d.dst_ip.begin());
  d.src_port = Get16(f, udp);
  d.dst_port = Get16(f, udp + 2);
  d.payload.assign(f.begin() + static_cast<long>(udp + 8), f.begin() + static_cast<long>(udp + len));
  return d;
}

}  // namespace twinstep::host::testing
