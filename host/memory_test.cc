// GuestMemory without KVM: layout around the PCI hole, bounds, VMM dirty bits.
#include "host/memory.h"

#include <gtest/gtest.h>

namespace twinstep::host {
namespace {

TEST(MemoryTest, AppendSetBits) {
  const uint64_t bm[] = {0b1011, 0, 1ull << 63};
  std::vector<uint64_t> out;
  AppendSetBits(bm, 100, out);
  EXPECT_EQ(out, (std::vector<uint64_t>{100, 101, 103, 100 + 128 + 63}));
}

TEST(MemoryTest, SmallGuestHasOneRegion) {
  auto m = GuestMemory::Create(4ull << 20, false);
  ASSERT_TRUE(m) << m.error().ToString();
  ASSERT_EQ((*m)->regions().size(), 1u);
  EXPECT_NE((*m)->HostPtr(0, 4ull << 20), nullptr);
  EXPECT_EQ((*m)->HostPtr(1, 4ull << 20), nullptr);
  uint8_t b[4];
  EXPECT_FALSE((*m)->Read((4ull << 20) - 2, b));
  EXPECT_EQ((*m)->Read((4ull << 20) - 2, b).error().code, Errc::kGuestAddress);
}

TEST(MemoryTest, LargeGuestSplitsAroundThePciHole) {
  auto m = GuestMemory::Create(4ull << 30, false);  // MAP_NORESERVE: nothing is touched
  ASSERT_TRUE(m) << m.error().ToString();
  const auto& r = (*m)->regions();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].size, kMmioHoleStart);
  EXPECT_EQ(r[1].gpa, kHighMemStart);
  EXPECT_EQ(r[1].size, (4ull << 30) - kMmioHoleStart);
  EXPECT_EQ((*m)->HostPtr(kMmioHoleStart, 1), nullptr);
  EXPECT_EQ((*m)->HostPtr(kHighMemStart, 1), (*m)->base() + kMmioHoleStart);
}

TEST(MemoryTest, VmmWritesAreCollectedOnce) {
  auto m = GuestMemory::Create(2ull << 20, false);
  ASSERT_TRUE(m);
  const uint8_t b[3] = {1, 2, 3};
  ASSERT_TRUE((*m)->Write(0x3000, b));
  (*m)->MarkDirty(0x10000, 0x2001);
  auto d = (*m)->CollectDirty();
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, (std::vector<uint64_t>{3, 0x10, 0x11, 0x12}));
  auto d2 = (*m)->CollectDirty();
  ASSERT_TRUE(d2);
  EXPECT_TRUE(d2->empty());
}

TEST(MemoryTest, HugepagesWithoutAPoolFailCleanly) {
  // Either the host has a pool (then the memory works) or creation fails: never a SIGBUS later.
  auto m = GuestMemory::Create(2ull << 20, true);
  if (m) {
    (*m)->base()[0] = 1;
    EXPECT_EQ((*m)->base()[0], 1);
  } else {
    EXPECT_EQ(m.error().code, Errc::kMemory) << m.error().ToString();
  }
}

TEST(MemoryTest, RefusesBadSizes) {
  EXPECT_FALSE(GuestMemory::Create(0, false));
  EXPECT_FALSE(GuestMemory::Create(3ull << 20, false));
}

}  // namespace
}  // namespace twinstep::host
