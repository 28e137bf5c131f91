// FilterCpuid: the divergent features go, the rest stays, APIC IDs are set.
#include "host/cpuid.h"

#include <gtest/gtest.h>

namespace twinstep::host {
namespace {

kvm_cpuid_entry2 Entry(uint32_t fn, uint32_t idx, uint32_t a, uint32_t b, uint32_t c, uint32_t d, bool indexed = false) {
  kvm_cpuid_entry2 e{};
  e.function = fn;
  e.index = idx;
  e.flags = indexed ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
  e.eax = a;
  e.ebx = b;
  e.ecx = c;
  e.edx = d;
  return e;
}

TEST(CpuidTest, RemovesRdrandRdseedAndFriends) {
  const std::vector<kvm_cpuid_entry2> in = {
      Entry(1, 0, 0x806f8, 0x00000800, 0xffffffff, 0xffffffff),
      Entry(7, 0, 0, 0xffffffff, 0xffffffff, 0xffffffff, true),
      Entry(7, 1, 0, 0xffffffff, 0, 0, true),
      Entry(0xa, 0, 0x07300805, 0, 0, 0x603),
      Entry(0x12, 0, 1, 0, 0, 0, true),
      Entry(0x40000001, 0, 0xffffffff, 0, 0, 0),
  };
  const auto out = FilterCpuid(in, 3);
  ASSERT_EQ(out.size(), 5u);  // SGX leaf 0x12 dropped
  const auto* l1 = FindCpuid(out, 1, 0);
  ASSERT_NE(l1, nullptr);
  EXPECT_EQ(l1->ecx & (1u << 30), 0u) << "RDRAND";
  EXPECT_NE(l1->ecx & (1u << 0), 0u) << "SSE3 kept";
  EXPECT_EQ(l1->ebx >> 24, 3u) << "initial APIC ID";
  EXPECT_EQ(l1->ebx & 0xffffff, 0x800u);
  const auto* l7 = FindCpuid(out, 7, 0);
  ASSERT_NE(l7, nullptr);
  EXPECT_EQ(l7->ebx & (1u << 18), 0u) << "RDSEED";
  EXPECT_EQ(l7->ebx & (1u << 11), 0u) << "RTM";
  EXPECT_NE(l7->ebx & (1u << 5), 0u) << "AVX2 kept";
  const auto* l71 = FindCpuid(out, 7, 1);
  ASSERT_NE(l71, nullptr);
  EXPECT_EQ(l71->ebx, 0xffffffffu) << "sub-leaf 1 untouched";
  const auto* pmu = FindCpuid(out, 0xa, 0);
  ASSERT_NE(pmu, nullptr);
  EXPECT_EQ(pmu->eax, 0u);
  const auto* kvm = FindCpuid(out, 0x40000001, 0);
  ASSERT_NE(kvm, nullptr);
  EXPECT_EQ(kvm->eax & (1u << 4), 0u) << "async PF";
  EXPECT_NE(kvm->eax & (1u << 3), 0u) << "kvmclock (CLOCKSOURCE2) kept";
}

TEST(CpuidTest, EveryMaskHasAReason) {
  for (const CpuidMask& m : DivergentFeatures()) {
    EXPECT_NE(m.bits, 0u) << m.name;
    EXPECT_GT(std::string(m.why).size(), 10u) << m.name;
  }
}

}  // namespace
}  // namespace twinstep::host
