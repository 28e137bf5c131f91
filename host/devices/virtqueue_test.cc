// Virtqueue over plain guest memory (no KVM): pop, push, event index,
// suppression and malformed rings.
#include "host/devices/virtqueue.h"

#include <gtest/gtest.h>

#include <cstring>

namespace twinstep::host {
namespace {

constexpr uint64_t kDesc = 0x1000, kAvail = 0x2000, kUsed = 0x3000, kBuf = 0x10000;
constexpr uint16_t kSize = 8;

struct Ring {
  std::unique_ptr<GuestMemory> mem = std::move(*GuestMemory::Create(2 << 20, false));
  Virtqueue q;
  uint16_t avail_idx = 0;

  explicit Ring(bool event_idx) {
    q.size = kSize;
    q.desc_gpa = kDesc;
    q.avail_gpa = kAvail;
    q.used_gpa = kUsed;
    q.enabled = true;
    EXPECT_TRUE(q.Activate(*mem, event_idx));
  }
  void Desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
    uint8_t* d = mem->HostPtr(kDesc + 16 * i, 16);
    std::memcpy(d, &addr, 8);
    std::memcpy(d + 8, &len, 4);
    std::memcpy(d + 12, &flags, 2);
    std::memcpy(d + 14, &next, 2);
  }
  void Publish(uint16_t head) {
    std::memcpy(mem->HostPtr(kAvail + 4 + 2 * (avail_idx % kSize), 2), &head, 2);
    ++avail_idx;
    std::memcpy(mem->HostPtr(kAvail + 2, 2), &avail_idx, 2);
  }
  uint16_t Used16(uint64_t off) {
    uint16_t v;
    std::memcpy(&v, mem->HostPtr(kUsed + off, 2), 2);
    return v;
  }
  void SetUsedEvent(uint16_t v) { std::memcpy(mem->HostPtr(kAvail + 4 + 2 * kSize, 2), &v, 2); }
};

TEST(VirtqueueTest, PopsChainsAndPushesUsed) {
  Ring r(false);
  r.Desc(0, kBuf, 12, 1, 3);
  r.Desc(3, kBuf + 100, 64, 2, 0);
  r.Publish(0);
  EXPECT_TRUE(r.q.HasAvailable());
  VirtqChain c;
  ASSERT_TRUE(r.q.Pop(&c));
  EXPECT_EQ(c.head, 0);
  ASSERT_EQ(c.bufs.size(), 2u);
  EXPECT_FALSE(c.bufs[0].device_writes);
  EXPECT_TRUE(c.bufs[1].device_writes);
  EXPECT_EQ(c.bufs[1].len, 64u);
  EXPECT_FALSE(r.q.Pop(&c));
  r.q.Push(0, 64);
  EXPECT_EQ(r.Used16(2), 1);  // used idx
  EXPECT_TRUE(r.q.NeedInterrupt());
  EXPECT_FALSE(r.q.NeedInterrupt());  // nothing new
}

TEST(VirtqueueTest, EventIndexDecidesInterruptsAndNotifications) {
  Ring r(true);
  r.Desc(0, kBuf, 10, 0, 0);
  r.SetUsedEvent(1);  // the driver wants an interrupt once used idx passes 1
  for (int i = 0; i < 2; ++i) {
    r.Publish(0);
    VirtqChain c;
    ASSERT_TRUE(r.q.Pop(&c));
    r.q.Push(0, 0);
    EXPECT_EQ(r.q.NeedInterrupt(), i == 1) << i;
  }
  r.q.SuppressNotifications(true);
  EXPECT_EQ(r.Used16(4 + 8 * kSize), static_cast<uint16_t>(r.q.last_avail() - 1));  // avail_event out of reach
  r.q.SuppressNotifications(false);
  EXPECT_EQ(r.Used16(4 + 8 * kSize), r.q.last_avail());
}

TEST(VirtqueueTest, MalformedChainsBreakTheQueue) {
  {
    Ring r(false);
    r.Desc(0, kBuf, 10, 1, 0);  // loops to itself
    r.Publish(0);
    VirtqChain c;
    EXPECT_FALSE(r.q.Pop(&c));
    EXPECT_TRUE(r.q.broken());
  }
  {
    Ring r(false);
    r.Desc(0, (2 << 20) - 4, 10, 0, 0);  // runs past RAM
    r.Publish(0);
    VirtqChain c;
    EXPECT_FALSE(r.q.Pop(&c));
    EXPECT_TRUE(r.q.broken());
  }
  {
    Ring r(false);
    r.Publish(9);  // head outside the table
    VirtqChain c;
    EXPECT_FALSE(r.q.Pop(&c));
    EXPECT_TRUE(r.q.broken());
  }
}

TEST(VirtqueueTest, RefusesRingsOutsideRam) {
  auto mem = GuestMemory::Create(2 << 20, false);
  Virtqueue q;
  q.desc_gpa = (2 << 20) - 16;
  q.avail_gpa = kAvail;
  q.used_gpa = kUsed;
  EXPECT_FALSE(q.Activate(**mem, false));
  q.desc_gpa = kDesc + 8;  // misaligned
  EXPECT_FALSE(q.Activate(**mem, false));
}

TEST(VirtqueueTest, StateRoundTrips) {
  Ring r(true);
  r.Desc(0, kBuf, 10, 0, 0);
  r.Publish(0);
  VirtqChain c;
  ASSERT_TRUE(r.q.Pop(&c));
  r.q.Push(0, 0);
  ByteWriter w;
  r.q.SaveState(w);
  Virtqueue q2;
  ByteReader rd(w.bytes());
  ASSERT_TRUE(q2.LoadState(rd));
  EXPECT_EQ(q2.last_avail(), 1);
  EXPECT_EQ(q2.used_idx(), 1);
  EXPECT_EQ(q2.desc_gpa, kDesc);
  std::vector<uint8_t> cut(w.bytes().begin(), w.bytes().end() - 1);
  ByteReader rd2(cut);
  Virtqueue q3;
  EXPECT_FALSE(q3.LoadState(rd2));
}

}  // namespace
}  // namespace twinstep::host
