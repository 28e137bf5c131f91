// Known check values and agreement of the fast paths with a bitwise reference.
#include "common/crc.h"

#include <gtest/gtest.h>

#include <random>
#include <string_view>
#include <vector>

namespace twinstep {
namespace {

std::span<const uint8_t> Bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

uint64_t Crc64Bitwise(std::span<const uint8_t> d) {
  uint64_t c = ~0ull;
  for (uint8_t b : d) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0xC96C5795D7870F42ull : c >> 1;
  }
  return ~c;
}

TEST(CrcTest, CheckValues) {
  EXPECT_EQ(Crc32c(Bytes("123456789")), 0xE3069283u);
  EXPECT_EQ(Crc32cUpdatePortable(0, Bytes("123456789")), 0xE3069283u);
  EXPECT_EQ(Crc64(Bytes("123456789")), 0x995DC9BBDF1939FAull);
  EXPECT_EQ(Crc64UpdatePortable(0, Bytes("123456789")), 0x995DC9BBDF1939FAull);
  EXPECT_EQ(Crc64(Bytes("")), 0u);
}

TEST(CrcTest, FastPathsMatchReferenceAtEveryLength) {
  std::mt19937_64 rng(7);
  std::vector<uint8_t> buf(4096 + 17);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  for (size_t len = 0; len < 600; ++len) {
    for (size_t off : {0u, 1u, 7u}) {
      std::span<const uint8_t> d(buf.data() + off, len);
      ASSERT_EQ(Crc64(d), Crc64Bitwise(d)) << "len " << len << " off " << off;
      ASSERT_EQ(Crc32c(d), Crc32cUpdatePortable(0, d)) << "len " << len;
    }
  }
  std::span<const uint8_t> all(buf);
  EXPECT_EQ(Crc64(all), Crc64Bitwise(all));
}

TEST(CrcTest, ChainingEqualsOneShot) {
  const auto all = Bytes("the quick brown fox jumps over the lazy dog, twice over and once more");
  for (size_t cut = 0; cut <= all.size(); ++cut) {
    EXPECT_EQ(Crc64Update(Crc64(all.first(cut)), all.subspan(cut)), Crc64(all));
    EXPECT_EQ(Crc32cUpdate(Crc32c(all.first(cut)), all.subspan(cut)), Crc32c(all));
  }
}

}  // namespace
}  // namespace twinstep
