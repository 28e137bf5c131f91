// TCP sequence translation: offsets learned from the handshake, acks and SACK
// blocks rewritten, checksums still valid.
#include "dataplane/core/tcp_translate.h"

#include <gtest/gtest.h>

#include "common/testing/packet_builder.h"

namespace twinstep::dataplane {
namespace {

constexpr uint32_t kGuestIp = 0x0A000002, kClientIp = 0x0A000001;
constexpr size_t kTcpOff = 14 + 20;

uint32_t Be32(const std::vector<uint8_t>& f, size_t off) {
  return uint32_t{f[off]} << 24 | uint32_t{f[off + 1]} << 16 | uint32_t{f[off + 2]} << 8 | f[off + 3];
}
void PutBe32(std::vector<uint8_t>& f, size_t off, uint32_t v) {
  for (int i = 0; i < 4; ++i) f[off + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

// Full one's-complement TCP checksum over IPv4 pseudo header + segment.
uint16_t TcpChecksum(const std::vector<uint8_t>& f) {
  const size_t len = f.size() - kTcpOff;
  uint32_t sum = 6 + static_cast<uint32_t>(len);
  for (size_t i = 14 + 12; i < 14 + 20; i += 2) sum += uint32_t{f[i]} << 8 | f[i + 1];
  for (size_t i = 0; i < len; i += 2) {
    if (i == 16) continue;
    sum += uint32_t{f[kTcpOff + i]} << 8 | (i + 1 < len ? f[kTcpOff + i + 1] : 0);
  }
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}
bool ChecksumOk(const std::vector<uint8_t>& f) {
  return TcpChecksum(f) == (uint16_t{f[kTcpOff + 16]} << 8 | f[kTcpOff + 17]);
}

std::vector<uint8_t> FromGuest(uint32_t seq, uint32_t ack, uint8_t flags) {
  twinstep::testing::TcpSegment s{80, 40000, seq, ack, flags};
  return twinstep::testing::PacketBuilder().Ipv4(kGuestIp, kClientIp).Tcp(s, "data");
}
std::vector<uint8_t> FromClient(uint32_t seq, uint32_t ack, uint8_t flags, bool sack = false) {
  twinstep::testing::TcpSegment s{40000, 80, seq, ack, flags};
  s.timestamps = sack;
  auto f = twinstep::testing::PacketBuilder().Ipv4(kClientIp, kGuestIp).Tcp(s, "req");
  if (sack) {
    // Replace NOP NOP TS with NOP NOP SACK(one block: ack+100 .. ack+200).
    f[kTcpOff + 22] = 5;
    f[kTcpOff + 23] = 10;
    PutBe32(f, kTcpOff + 24, ack + 100);
    PutBe32(f, kTcpOff + 28, ack + 200);
    const uint16_t c = TcpChecksum(f);
    f[kTcpOff + 16] = static_cast<uint8_t>(c >> 8);
    f[kTcpOff + 17] = static_cast<uint8_t>(c);
  }
  return f;
}

TEST(TcpTranslateTest, ServerConnectionAcksAreShiftedIntoTheSecondarysSpace) {
  TcpTranslator t;
  const uint32_t isn_client = 1000, isn_primary = 0x10000000, isn_secondary = 0xF0000000;
  auto syn = FromClient(isn_client, 0, 0x02);
  t.OnClientInput(syn);  // no connection yet: untouched
  auto synack = FromGuest(isn_secondary, isn_client + 1, 0x12);
  t.OnGuestOutput(synack);
  // The client acknowledges the primary guest's SYN-ACK.
  auto ack = FromClient(isn_client + 1, isn_primary + 1, 0x10);
  t.OnClientInput(ack);
  EXPECT_EQ(Be32(ack, kTcpOff + 8), isn_secondary + 1);
  EXPECT_TRUE(ChecksumOk(ack));
  auto later = FromClient(isn_client + 4, isn_primary + 501, 0x18, /*sack=*/true);
  t.OnClientInput(later);
  EXPECT_EQ(Be32(later, kTcpOff + 8), isn_secondary + 501);
  EXPECT_EQ(Be32(later, kTcpOff + 24), isn_secondary + 601);
  EXPECT_EQ(Be32(later, kTcpOff + 28), isn_secondary + 701);
  EXPECT_TRUE(ChecksumOk(later));
  uint32_t offset = 0;
  ASSERT_TRUE(t.OffsetFor(synack, &offset));
  EXPECT_EQ(offset, isn_secondary - isn_primary);
  EXPECT_EQ(t.stats().offsets_learned, 1u);
  EXPECT_EQ(t.stats().inputs_rewritten, 2u);

  // Guest outputs are only rewritten once the secondary releases them.
  auto data = FromGuest(isn_secondary + 1, isn_client + 4, 0x18);
  t.OnGuestOutput(data);
  EXPECT_EQ(Be32(data, kTcpOff + 4), isn_secondary + 1);
  t.set_translate_outputs(true);
  t.OnGuestOutput(data);
  EXPECT_EQ(Be32(data, kTcpOff + 4), isn_primary + 1);
  EXPECT_TRUE(ChecksumOk(data));
}

TEST(TcpTranslateTest, ClientConnectionLearnsFromTheSynAck) {
  TcpTranslator t;
  auto syn = FromGuest(500, 0, 0x02);  // the secondary guest's SYN
  t.OnGuestOutput(syn);
  auto synack = FromClient(9000, 77 + 1, 0x12);  // answers the primary's SYN (ISN 77)
  t.OnClientInput(synack);
  EXPECT_EQ(Be32(synack, kTcpOff + 8), 501u);
  EXPECT_TRUE(ChecksumOk(synack));
}

TEST(TcpTranslateTest, ClearMeansOffsetZeroAndOtherTrafficIsUntouched) {
  TcpTranslator t;
  auto synack = FromGuest(100, 1, 0x12);
  t.OnGuestOutput(synack);
  auto ack = FromClient(1, 51, 0x10);
  t.OnClientInput(ack);
  EXPECT_EQ(Be32(ack, kTcpOff + 8), 51u + 50);
  t.Clear();
  auto after = FromClient(1, 51, 0x10);
  t.OnClientInput(after);
  EXPECT_EQ(Be32(after, kTcpOff + 8), 51u);
  auto udp = twinstep::testing::PacketBuilder().Ipv4(kClientIp, kGuestIp).Udp(1, 2, "x");
  const auto before = udp;
  t.OnClientInput(udp);
  t.OnGuestOutput(udp);
  EXPECT_EQ(udp, before);
  std::vector<uint8_t> runt(30, 0xFF);
  t.OnClientInput(runt);  // malformed: ignored, no crash
  EXPECT_EQ(t.connections(), 0u);
}

TEST(TcpTranslateTest, FullTableIsCountedNotFatal) {
  TcpTranslator t(2);
  for (uint16_t port = 1; port <= 10; ++port) {
    twinstep::testing::TcpSegment s{80, port, 1, 0, 0x02};
    auto f = twinstep::testing::PacketBuilder().Ipv4(kGuestIp, kClientIp).Tcp(s, "");
    t.OnGuestOutput(f);
  }
  EXPECT_GT(t.stats().table_full, 0u);
  EXPECT_LE(t.connections(), 2u);
}

}  // namespace
}  // namespace twinstep::dataplane
