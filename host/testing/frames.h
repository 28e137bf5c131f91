// Test support: Ethernet/IPv4/UDP frames built and parsed by hand, to talk to
// a guest through the loopback backend.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace twinstep::host::testing {

using Mac = std::array<uint8_t, 6>;
using Ip4 = std::array<uint8_t, 4>;

struct UdpDatagram {
  Mac src_mac, dst_mac;
  Ip4 src_ip, dst_ip;
  uint16_t src_port, dst_port;
  std::string payload;
};

std::vector<uint8_t> BuildUdpFrame(const UdpDatagram& d);
// The datagram in an Ethernet frame, or nothing if it is not IPv4/UDP.
std::optional<UdpDatagram> ParseUdpFrame(const std::vector<uint8_t>& frame);

}  // namespace twinstep::host::testing
