// The Linux boot protocol on a synthetic bzImage header: parsing, the zero
// page, initramfs placement and refusals.
#include "host/boot/linux.h"

#include <gtest/gtest.h>

#include <cstring>

namespace twinstep::host {
namespace {

std::vector<uint8_t> FakeBzImage(uint16_t version = 0x020f) {
  std::vector<uint8_t> f(5 * 512 + 4096, 0);
  f[0x1f1] = 4;  // setup_sects
  const uint16_t flag = 0xaa55;
  std::memcpy(&f[0x1fe], &flag, 2);
  f[0x201] = 0x6a;  // header length: up to 0x26c
  std::memcpy(&f[0x202], "HdrS", 4);
  std::memcpy(&f[0x206], &version, 2);
  f[0x211] = 1;  // LOADED_HIGH
  const uint32_t initrd_max = 0x37ffffff, cmdline_size = 2047, init_size = 0x800000;
  std::memcpy(&f[0x22c], &initrd_max, 4);
  f[0x236] = 1;  // XLF_KERNEL_64
  std::memcpy(&f[0x238], &cmdline_size, 4);
  std::memcpy(&f[0x260], &init_size, 4);
  return f;
}

TEST(LinuxBootTest, ParsesTheSetupHeader) {
  auto b = ParseBzImage(FakeBzImage());
  ASSERT_TRUE(b) << b.error().ToString();
  EXPECT_EQ(b->version, 0x020f);
  EXPECT_EQ(b->kernel_offset, 5u * 512);
  EXPECT_EQ(b->kernel_size, 4096u);
  EXPECT_EQ(b->init_size, 0x800000u);
}

TEST(LinuxBootTest, RefusesOldOrBrokenImages) {
  EXPECT_FALSE(ParseBzImage(FakeBzImage(0x0206)));
  auto no_magic = FakeBzImage();
  no_magic[0x202] = 'X';
  EXPECT_FALSE(ParseBzImage(no_magic));
  auto not64 = FakeBzImage();
  not64[0x236] = 0;
  EXPECT_FALSE(ParseBzImage(not64));
  auto f = FakeBzImage();
  EXPECT_FALSE(ParseBzImage(std::span<const uint8_t>(f.data(), 0x100)));
  EXPECT_FALSE(ParseBzImage(std::span<const uint8_t>(f.data(), 5 * 512)));  // no kernel after setup
}

TEST(LinuxBootTest, BootParamsCarryE820CmdlineAndInitrd) {
  auto b = ParseBzImage(FakeBzImage());
  ASSERT_TRUE(b);
  const std::vector<E820Entry> e820 = {{0, 0x9fc00, 1}, {0x9fc00, 0x60400, 2}, {0x100000, 0x7f00000, 1}};
  auto p = BuildBootParams(*b, 0x20000, 10, 0x7000000, 0x1000, e820);
  ASSERT_TRUE(p) << p.error().ToString();
  const auto& z = *p;
  EXPECT_EQ(z[kE820EntriesOffset], 3);
  uint64_t addr;
  uint32_t type;
  std::memcpy(&addr, &z[kE820TableOffset + 2 * 20], 8);
  std::memcpy(&type, &z[kE820TableOffset + 2 * 20 + 16], 4);
  EXPECT_EQ(addr, 0x100000u);
  EXPECT_EQ(type, 1u);
  uint32_t cmd, rd;
  std::memcpy(&cmd, &z[0x228], 4);
  std::memcpy(&rd, &z[0x218], 4);
  EXPECT_EQ(cmd, 0x20000u);
  EXPECT_EQ(rd, 0x7000000u);
  EXPECT_EQ(z[0x210], 0xff);
  EXPECT_EQ(std::memcmp(&z[0x202], "HdrS", 4), 0);
  EXPECT_FALSE(BuildBootParams(*b, 0x20000, 5000, 0, 0, e820));  // past cmdline_size
}

TEST(LinuxBootTest, InitrdGoesHighButBelowTheLimitAndAboveTheKernel) {
  auto b = ParseBzImage(FakeBzImage());
  ASSERT_TRUE(b);
  auto at = PlaceInitrd(*b, 128ull << 20, 0x1234);
  ASSERT_TRUE(at);
  EXPECT_EQ(*at, ((128ull << 20) - 0x1234) & ~0xfffull);
  auto capped = PlaceInitrd(*b, 2ull << 30, 0x1000);
  ASSERT_TRUE(capped);
  EXPECT_EQ(*capped, 0x38000000u - 0x1000);
  EXPECT_FALSE(PlaceInitrd(*b, 16ull << 20, 12ull << 20));  // would overlap the kernel
}

}  // namespace
}  // namespace twinstep::host
