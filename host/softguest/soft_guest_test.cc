// The soft guest: its protocols frame by frame, and its state moved by a
// checkpoint image from one instance to another.
#include "host/softguest/soft_guest.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "host/devices/loopback_backend.h"
#include "host/replication/state_image.h"

namespace twinstep::softguest {
namespace {

constexpr uint8_t kClientMac[6] = {0x02, 0, 0, 0, 0, 0x99};
constexpr uint32_t kClientIp = 0x0A4D0001;  // 10.77.0.1

void Be16(std::vector<uint8_t>& f, size_t at, uint16_t v) {
  f[at] = static_cast<uint8_t>(v >> 8);
  f[at + 1] = static_cast<uint8_t>(v);
}

// A UDP datagram from the client to the guest.
std::vector<uint8_t> Udp(const SoftGuestConfig& g, uint16_t dport, const std::string& payload) {
  std::vector<uint8_t> f(14 + 20 + 8 + payload.size(), 0);
  std::memcpy(&f[0], g.mac, 6);
  std::memcpy(&f[6], kClientMac, 6);
  Be16(f, 12, 0x0800);
  f[14] = 0x45;
  Be16(f, 16, static_cast<uint16_t>(20 + 8 + payload.size()));
  f[22] = 64, f[23] = 17;
  for (int i = 0; i < 4; ++i) f[26 + i] = static_cast<uint8_t>(kClientIp >> (24 - 8 * i));
  for (int i = 0; i < 4; ++i) f[30 + i] = static_cast<uint8_t>(g.ip >> (24 - 8 * i));
  Be16(f, 34, 40000);
  Be16(f, 36, dport);
  Be16(f, 38, static_cast<uint16_t>(8 + payload.size()));
  std::memcpy(&f[42], payload.data(), payload.size());
  return f;
}

// The memcached reply text of one request (after the 8-byte UDP frame header).
std::string Ask(SoftGuest& g, const SoftGuestConfig& c, const std::string& text, uint16_t id = 7) {
  std::string req(8, '\0');
  req[0] = static_cast<char>(id >> 8), req[1] = static_cast<char>(id), req[5] = 1;
  std::vector<std::vector<uint8_t>> replies;
  g.Handle(Udp(c, 11211, req + text), replies);
  if (replies.size() != 1) return "<" + std::to_string(replies.size()) + " replies>";
  const auto& r = replies[0];
  if (r.size() < 50 || r[42] != (id >> 8) || r[43] != (id & 0xff)) return "<bad reply header>";
  const size_t udp_len = static_cast<size_t>(r[38] << 8 | r[39]);
  return std::string(r.begin() + 50, r.begin() + 50 + static_cast<long>(udp_len) - 16);  // after UDP + frame headers
}

struct Guest {
  explicit Guest(const SoftGuestConfig& c) : config(c) {
    auto g = SoftGuest::Create(c, &net);
    EXPECT_TRUE(g.has_value());
    guest = std::move(*g);
  }
  SoftGuestConfig config;
  host::LoopbackBackend net;
  std::unique_ptr<SoftGuest> guest;
};

TEST(SoftGuest, SpeaksMemcachedOverUdp) {
  Guest a(SoftGuestConfig{});
  ASSERT_TRUE(a.guest->Boot().has_value());
  EXPECT_EQ(Ask(*a.guest, a.config, "get k\r\n"), "END\r\n");
  EXPECT_EQ(Ask(*a.guest, a.config, "set k 5 0 3\r\nabc\r\n"), "STORED\r\n");
  EXPECT_EQ(Ask(*a.guest, a.config, "get k\r\n"), "VALUE k 5 3\r\nabc\r\nEND\r\n");
  EXPECT_EQ(Ask(*a.guest, a.config, "add k 0 0 1\r\nx\r\n"), "NOT_STORED\r\n");
  EXPECT_EQ(Ask(*a.guest, a.config, "set k 0 0 9\r\nshort\r\n"), "CLIENT_ERROR bad data chunk\r\n");
  EXPECT_EQ(Ask(*a.guest, a.config, "delete k\r\n"), "DELETED\r\n");
  EXPECT_EQ(Ask(*a.guest, a.config, "get k\r\n"), "END\r\n");
  EXPECT_EQ(Ask(*a.guest, a.config, "bogus\r\n"), "ERROR\r\n");
}

TEST(SoftGuest, AnswersArpForItsAddressOnly) {
  Guest a(SoftGuestConfig{});
  std::vector<uint8_t> f(42, 0);
  std::memset(&f[0], 0xff, 6);
  std::memcpy(&f[6], kClientMac, 6);
  Be16(f, 12, 0x0806);
  Be16(f, 14, 1), Be16(f, 16, 0x0800), f[18] = 6, f[19] = 4, Be16(f, 20, 1);
  std::memcpy(&f[22], kClientMac, 6);
  for (int i = 0; i < 4; ++i) f[38 + i] = static_cast<uint8_t>(a.config.ip >> (24 - 8 * i));
  std::vector<std::vector<uint8_t>> replies;
  a.guest->Handle(f, replies);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0][21], 2) << "an ARP reply";
  EXPECT_EQ(0, std::memcmp(&replies[0][22], a.config.mac, 6));
  f[41] ^= 1;  // someone else's address
  replies.clear();
  a.guest->Handle(f, replies);
  EXPECT_TRUE(replies.empty());
}

TEST(SoftGuest, CheckpointMovesTheStoreAndCorruptImagesAreRefused) {
  Guest a(SoftGuestConfig{}), b(SoftGuestConfig{});
  ASSERT_TRUE(a.guest->Boot().has_value());
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(Ask(*a.guest, a.config, "set key" + std::to_string(i) + " 0 0 4\r\nv" + std::to_string(1000 + i).substr(1) + "\r\n"),
              "STORED\r\n");
  }
  auto dirty = a.guest->DirtyPages();
  ASSERT_TRUE(dirty.has_value());
  const std::vector<uint8_t> extra = {1, 2, 3};
  auto image = a.guest->EncodeCheckpoint(*dirty, extra);
  ASSERT_TRUE(image.has_value());
  std::vector<uint8_t> bad = *image;
  bad[bad.size() / 2] ^= 0x40;
  std::vector<uint8_t> got;
  EXPECT_FALSE(b.guest->ApplyCheckpoint(bad, &got).has_value()) << "a flipped bit fails the image's CRC";
  EXPECT_FALSE(b.guest->Resume().has_value()) << "nothing was applied: no store yet";
  ASSERT_TRUE(b.guest->ApplyCheckpoint(*image, &got).has_value());
  EXPECT_EQ(got, extra);
  EXPECT_EQ(host::MemoryDigest(a.guest->memory()), host::MemoryDigest(b.guest->memory()));
  EXPECT_EQ(Ask(*b.guest, b.config, "get key7 key42\r\n"), Ask(*a.guest, a.config, "get key7 key42\r\n"));
  EXPECT_EQ(Ask(*b.guest, b.config, "get key7\r\n"), "VALUE key7 0 4\r\nv007\r\nEND\r\n");
}

}  // namespace
}  // namespace twinstep::softguest
