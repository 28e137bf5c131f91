// Bus: registration, overlap refusal and dispatch with offsets.
#include "host/bus.h"

#include <gtest/gtest.h>

namespace twinstep::host {
namespace {

struct Recorder : BusDevice {
  uint64_t last_offset = ~0ull;
  std::vector<uint8_t> written;
  void Read(uint64_t off, std::span<uint8_t> d) override {
    last_offset = off;
    for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>(off + i);
  }
  void Write(uint64_t off, std::span<const uint8_t> d) override {
    last_offset = off;
    written.assign(d.begin(), d.end());
  }
};

TEST(BusTest, DispatchesWithOffsets) {
  Bus bus("test");
  Recorder a, b;
  ASSERT_TRUE(bus.Register(0x100, 8, &a));
  ASSERT_TRUE(bus.Register(0x108, 8, &b));
  uint8_t buf[2];
  EXPECT_TRUE(bus.Read(0x10a, buf));
  EXPECT_EQ(b.last_offset, 2u);
  EXPECT_EQ(buf[0], 2);
  const uint8_t w[] = {9};
  EXPECT_TRUE(bus.Write(0x107, w));
  EXPECT_EQ(a.last_offset, 7u);
  EXPECT_EQ(a.written, std::vector<uint8_t>{9});
}

TEST(BusTest, AccessesOutsideOrAcrossRangesAreUnhandled) {
  Bus bus("test");
  Recorder a;
  ASSERT_TRUE(bus.Register(0x100, 8, &a));
  uint8_t buf[4];
  EXPECT_FALSE(bus.Read(0xff, {buf, 1}));
  EXPECT_EQ(buf[0], 0xff);
  EXPECT_FALSE(bus.Read(0x106, {buf, 4}));  // crosses the end
  EXPECT_FALSE(bus.Write(0x108, {buf, 1}));
  EXPECT_EQ(bus.unhandled(), 3u);
}

TEST(BusTest, RefusesOverlapsAndEmptyRanges) {
  Bus bus("test");
  Recorder a;
  ASSERT_TRUE(bus.Register(0x100, 0x10, &a));
  EXPECT_FALSE(bus.Register(0xf8, 0x10, &a));
  EXPECT_FALSE(bus.Register(0x10f, 1, &a));
  EXPECT_FALSE(bus.Register(0x200, 0, &a));
  EXPECT_FALSE(bus.Register(~0ull - 1, 4, &a));
  EXPECT_TRUE(bus.Register(0x110, 1, &a));
  EXPECT_TRUE(bus.Unregister(0x100));
  EXPECT_FALSE(bus.Unregister(0x100));
  EXPECT_TRUE(bus.Register(0xf8, 0x10, &a));
}

}  // namespace
}  // namespace twinstep::host
