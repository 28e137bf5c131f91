// PciBus without KVM: mechanism-1 decoding, the host bridge, BAR sizing and
// moving a BAR's MMIO mapping.
#include "host/devices/pci.h"

#include <gtest/gtest.h>

#include <cstring>

namespace twinstep::host {
namespace {

struct Counter : BusDevice {
  int reads = 0;
  void Read(uint64_t, std::span<uint8_t> d) override {
    ++reads;
    std::memset(d.data(), 0xab, d.size());
  }
  void Write(uint64_t, std::span<const uint8_t>) override {}
};

class TestFunction : public PciDevice {
 public:
  explicit TestFunction(BusDevice* bar) {
    SetHeader(0x1af4, 0x1041, 0x02000001, 0x1af4, 1);
    SetBar(0, 0x4000, bar);
  }
};

struct Rig {
  Bus mmio{"mmio"};
  PciBus pci{mmio};
  uint32_t Cfg(uint8_t slot, uint8_t reg) {
    Addr(slot, reg);
    uint8_t v[4];
    pci.Read(4, v);
    uint32_t x;
    std::memcpy(&x, v, 4);
    return x;
  }
  void SetCfg(uint8_t slot, uint8_t reg, uint32_t x) {
    Addr(slot, reg);
    pci.Write(4, {reinterpret_cast<uint8_t*>(&x), 4});
  }
  void Addr(uint8_t slot, uint8_t reg) {
    const uint32_t a = 0x80000000u | (uint32_t{slot} << 11) | reg;
    pci.Write(0, {reinterpret_cast<const uint8_t*>(&a), 4});
  }
};

TEST(PciTest, HostBridgeAndEmptySlots) {
  Rig r;
  EXPECT_EQ(r.Cfg(0, 0), 0x29c08086u);
  EXPECT_EQ(r.Cfg(0, 8) >> 8, 0x060000u);
  EXPECT_EQ(r.Cfg(5, 0), 0xffffffffu);  // nothing there
  // The address latch reads back (Linux's mechanism-1 probe).
  r.Addr(0, 0);
  uint8_t v[4];
  r.pci.Read(0, v);
  uint32_t a;
  std::memcpy(&a, v, 4);
  EXPECT_EQ(a, 0x80000000u);
}

TEST(PciTest, BarSizingAndMove) {
  Rig r;
  Counter bar;
  TestFunction f(&bar);
  ASSERT_TRUE(r.pci.Add(2, &f));
  EXPECT_FALSE(r.pci.Add(2, &f));  // slot taken
  const uint32_t bar0 = r.Cfg(2, 0x10);
  EXPECT_EQ(bar0, kPciMmioBase);
  uint8_t b[4];
  EXPECT_TRUE(r.mmio.Read(bar0, b));
  r.SetCfg(2, 0x10, 0xffffffff);
  EXPECT_EQ(r.Cfg(2, 0x10), ~0x3fffu);  // size 16 KiB
  r.SetCfg(2, 0x10, 0xc0010000);
  EXPECT_EQ(r.Cfg(2, 0x10), 0xc0010000u);
  EXPECT_FALSE(r.mmio.Read(bar0, b));
  EXPECT_TRUE(r.mmio.Read(0xc0010000, b));
  EXPECT_EQ(bar.reads, 2);
  // Vendor and device are read-only; the command register is writable.
  r.SetCfg(2, 0, 0);
  EXPECT_EQ(r.Cfg(2, 0), 0x10411af4u);
  r.SetCfg(2, 4, 0x6);
  EXPECT_EQ(r.Cfg(2, 4) & 0xffff, 0x6u);
}

TEST(PciTest, StateRestoresConfigAndBarMapping) {
  Rig a;
  Counter bar;
  TestFunction f(&bar);
  ASSERT_TRUE(a.pci.Add(2, &f));
  a.SetCfg(2, 0x10, 0xc0020000);
  ByteWriter w;
  a.pci.SaveState(w);
  Rig b;
  Counter bar2;
  TestFunction f2(&bar2);
  ASSERT_TRUE(b.pci.Add(2, &f2));
  ByteReader rd(w.bytes());
  ASSERT_TRUE(b.pci.LoadState(rd));
  EXPECT_EQ(b.Cfg(2, 0x10), 0xc0020000u);
  uint8_t x[4];
  EXPECT_TRUE(b.mmio.Read(0xc0020000, x));
  EXPECT_FALSE(b.mmio.Read(kPciMmioBase, x));
}

}  // namespace
}  // namespace twinstep::host
