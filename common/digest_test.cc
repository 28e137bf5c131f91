// The digest ignores exactly what two replicas may legitimately differ in, and
// nothing else; malformed frames are digested without normalization.
#include "common/digest.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "common/crc.h"
#include "common/testing/packet_builder.h"

namespace twinstep::digest {
namespace {

using twinstep::testing::PacketBuilder;
using twinstep::testing::TcpSegment;

uint64_t D(const std::vector<uint8_t>& f) {
  const FrameInfo info = ParseFrame(f);
  return DigestFrame(f, info, 0, 0);
}

TEST(DigestTest, UdpIgnoresIpIdAndChecksums) {
  const auto a = PacketBuilder().Ipv4(0x0A000002, 0x0A000001, /*id=*/1).Udp(7, 5000, "hello");
  const auto b = PacketBuilder().Ipv4(0x0A000002, 0x0A000001, /*id=*/999).Udp(7, 5000, "hello");
  ASSERT_NE(a, b);  // IP ID and header checksum differ
  EXPECT_EQ(D(a), D(b));
  EXPECT_EQ(ParseFrame(a).flow, ParseFrame(b).flow);
  EXPECT_NE(D(a), D(PacketBuilder().Ipv4(0x0A000002, 0x0A000001, 1).Udp(7, 5000, "hellO")));
  EXPECT_NE(D(a), D(PacketBuilder().Ipv4(0x0A000002, 0x0A000001, 1, /*ttl=*/63).Udp(7, 5000, "hello")));
}

TEST(DigestTest, FlowsSeparateByAddressPortAndVlan) {
  const auto base = ParseFrame(PacketBuilder().Udp(7, 5000, "x")).flow;
  EXPECT_NE(base, ParseFrame(PacketBuilder().Udp(7, 5001, "x")).flow);
  EXPECT_NE(base, ParseFrame(PacketBuilder().Ipv4(0x0A000002, 0x0A000003).Udp(7, 5000, "x")).flow);
  EXPECT_NE(base, ParseFrame(PacketBuilder().Vlan(10).Udp(7, 5000, "x")).flow);
  EXPECT_NE(ParseFrame(PacketBuilder().Vlan(10).Udp(7, 5000, "x")).flow,
            ParseFrame(PacketBuilder().Vlan(11).Udp(7, 5000, "x")).flow);
  EXPECT_EQ(base, ParseFrame(PacketBuilder().Udp(7, 5000, "different payload")).flow);
}

TEST(DigestTest, Ipv6IgnoresFlowLabel) {
  uint8_t s[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  uint8_t d[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const auto a = PacketBuilder().Ipv6(s, d, 0x12345).Udp(7, 5000, "v6");
  const auto b = PacketBuilder().Ipv6(s, d, 0xABCDE).Udp(7, 5000, "v6");
  EXPECT_EQ(D(a), D(b));
  EXPECT_NE(D(a), D(PacketBuilder().Ipv6(s, d, 0x12345).Udp(7, 5000, "v7")));
}

TEST(DigestTest, ArpIsDigestedAsIs) {
  const auto arp = PacketBuilder().Arp(2, 0x0A000002, 0x0A000001);
  EXPECT_EQ(D(arp), Crc64(arp));
}

// Two replicas answer the same connection with different initial sequence
// numbers, timestamps and checksums: the digests must agree segment by segment.
TEST(DigestTest, TcpReplicasWithDifferentIsnAndTimestampsMatch) {
  auto replica = [](uint32_t isn, uint32_t ts0) {
    std::vector<std::vector<uint8_t>> out;
    const uint32_t client_isn = 1000;
    PacketBuilder pb;
    TcpSegment s{.sport = 80, .dport = 40000, .seq = isn, .ack = client_isn + 1, .flags = 0x12,
                 .timestamps = true, .tsval = ts0, .tsecr = 555};
    out.push_back(pb.Tcp(s, ""));  // SYN-ACK
    s.flags = 0x18;
    s.seq = isn + 1;
    s.ack = client_isn + 1 + 20;
    s.tsval = ts0 + 3;
    out.push_back(pb.Tcp(s, "HTTP/1.0 200 OK\r\n\r\n"));
    s.flags = 0x11;
    s.seq = isn + 1 + 19;
    s.tsval = ts0 + 9;
    out.push_back(pb.Tcp(s, ""));  // FIN
    return out;
  };
  std::vector<Digester::Slot> slots_a(64), slots_b(64);
  Digester da(slots_a), db(slots_b);
  const auto a = replica(0x11111111, 100), b = replica(0xFFFFFFF0, 777777);  // b's sequence space wraps
  for (size_t i = 0; i < a.size(); ++i) {
    const auto ra = da.Digest(a[i]), rb = db.Digest(b[i]);
    EXPECT_EQ(ra.flow, rb.flow) << i;
    EXPECT_EQ(ra.out_seq, i);
    EXPECT_EQ(rb.out_seq, i);
    EXPECT_EQ(ra.digest, rb.digest) << "segment " << i;
  }
  // A different window is a real difference.
  std::vector<Digester::Slot> slots_c(64);
  Digester dc(slots_c);
  auto c = replica(0x22222222, 5);
  c[1][14 + 20 + 15] ^= 1;  // window low byte (checksum now stale: it is ignored anyway)
  EXPECT_EQ(dc.Digest(c[0]).digest, da.Digest(a[0]).digest);
  EXPECT_NE(dc.Digest(c[1]).digest, db.Digest(b[1]).digest);
}

TEST(DigestTest, NormalizedBytesAreWhatIsDigested) {
  std::mt19937_64 rng(3);
  PacketBuilder pb;
  for (int i = 0; i < 200; ++i) {
    TcpSegment s{.seq = static_cast<uint32_t>(rng()), .ack = static_cast<uint32_t>(rng()), .flags = 0x18,
                 .timestamps = (i & 1) != 0, .tsval = static_cast<uint32_t>(rng())};
    const auto f = pb.Ipv4(0x0A000002, 0x0A000001, static_cast<uint16_t>(rng())).Tcp(s, std::string(i, 'x'));
    const FrameInfo info = ParseFrame(f);
    ASSERT_TRUE(info.is_tcp);
    std::vector<uint8_t> n(f.size());
    ASSERT_EQ(NormalizeFrame(f, info, 5, 6, n), f.size());
    EXPECT_EQ(DigestFrame(f, info, 5, 6), Crc64(n));
    // Normalized fields: IP ID, IP checksum, TCP seq/ack/checksum, timestamps.
    EXPECT_EQ(n[18] | n[19] | n[24] | n[25], 0);
    EXPECT_EQ(n[34 + 4 + 3], 5);
    EXPECT_EQ(n[34 + 8 + 3], 6);
    EXPECT_EQ(n[34 + 16] | n[34 + 17], 0);
    if (i & 1) {
      for (int k = 24; k < 32; ++k) EXPECT_EQ(n[34 + k], 0) << k;
    }
  }
}

TEST(DigestTest, MalformedFramesAreDigestedWithoutNormalization) {
  auto f = PacketBuilder().Ipv4(0x0A000002, 0x0A000001, 77).Udp(7, 5000, "hello");
  auto truncated = f;
  truncated.resize(30);  // IPv4 header cut
  EXPECT_EQ(D(truncated), Crc64(truncated));
  auto bad_ihl = f;
  bad_ihl[14] = 0x43;  // IHL 3
  EXPECT_EQ(D(bad_ihl), Crc64(bad_ihl));
  auto long_total = f;
  long_total[16] = 0xFF;  // total length past the frame
  EXPECT_EQ(D(long_total), Crc64(long_total));
  std::vector<uint8_t> tiny = {1, 2, 3};
  EXPECT_EQ(D(tiny), Crc64(tiny));
  EXPECT_EQ(D({}), Crc64({}));
}

TEST(DigestTest, RandomBytesNeverCrashAndPatchesStayInside) {
  std::mt19937_64 rng(11);
  const auto seed = PacketBuilder().Ipv4(0x0A000002, 0x0A000001).Tcp({.timestamps = true}, "abc");
  for (int i = 0; i < 200000; ++i) {
    std::vector<uint8_t> f = seed;
    if (i % 2) {
      f.resize(rng() % 128);
      for (auto& b : f) b = static_cast<uint8_t>(rng());
      if (f.size() > 14 && (rng() & 1)) {
        f[12] = (rng() & 1) ? 0x08 : 0x86;
        f[13] = f[12] == 0x08 ? 0x00 : 0xDD;
      }
    } else {
      for (int k = 0; k < 3; ++k) f[rng() % f.size()] ^= static_cast<uint8_t>(rng());
      if (rng() & 1) f.resize(rng() % f.size());
    }
    const FrameInfo info = ParseFrame(f);
    ASSERT_LE(info.patch_count, kMaxPatches);
    for (int p = 0; p < info.patch_count; ++p) ASSERT_LE(info.patches[p].offset + info.patches[p].length, f.size());
    if (info.is_tcp) {
      ASSERT_LE(info.tcp_seq_offset + 8u, f.size());
    }
    std::vector<uint8_t> n(f.size());
    ASSERT_EQ(DigestFrame(f, info, 1, 2), Crc64({n.data(), NormalizeFrame(f, info, 1, 2, n)}));
  }
}

TEST(DigesterTest, OutputSequencePerFlowAndResetWhenFull) {
  std::vector<Digester::Slot> slots(8);  // capacity 4 flows
  Digester d(slots);
  PacketBuilder pb;
  for (uint16_t port = 1; port <= 4; ++port) EXPECT_EQ(d.Digest(pb.Udp(port, 9, "a")).out_seq, 0u);
  EXPECT_EQ(d.Digest(pb.Udp(1, 9, "a")).out_seq, 1u);
  EXPECT_EQ(d.flows(), 4u);
  EXPECT_EQ(d.Digest(pb.Udp(5, 9, "a")).out_seq, 0u);  // table full: starts again
  EXPECT_EQ(d.resets(), 1u);
  EXPECT_EQ(d.flows(), 1u);
  EXPECT_EQ(d.Digest(pb.Udp(1, 9, "a")).out_seq, 0u);
}

}  // namespace
}  // namespace twinstep::digest
