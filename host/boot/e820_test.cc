// BuildE820: the map for small guests and for guests that reach above 4 GiB.
#include "host/boot/e820.h"

#include <gtest/gtest.h>

namespace twinstep::host {
namespace {

TEST(E820Test, SmallGuest) {
  const MemRegion r[] = {{0, 64ull << 20, 0, 0}};
  const auto m = BuildE820(r);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].addr, 0u);
  EXPECT_EQ(m[0].size, 0x9fc00u);
  EXPECT_EQ(m[1].type, kE820Reserved);
  EXPECT_EQ(m[1].addr + m[1].size, 0x100000u);
  EXPECT_EQ(m[2].addr, 0x100000u);
  EXPECT_EQ(m[2].addr + m[2].size, 64ull << 20);
}

TEST(E820Test, GuestAboveFourGiB) {
  const MemRegion r[] = {{0, kMmioHoleStart, 0, 0}, {kHighMemStart, 1ull << 30, kMmioHoleStart, 1}};
  const auto m = BuildE820(r);
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[2].addr + m[2].size, kMmioHoleStart);  // nothing in the PCI hole
  EXPECT_EQ(m[3].addr, kHighMemStart);
  EXPECT_EQ(m[3].size, 1ull << 30);
  EXPECT_EQ(m[3].type, kE820Ram);
}

}  // namespace
}  // namespace twinstep::host
