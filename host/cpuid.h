// The guest's CPUID: KVM's supported set with the features removed that make two
// replicas of one guest diverge needlessly (see docs/vmm.md, "CPUID"). Pure.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <vector>

namespace twinstep::host {

// One removed feature: where it lives and why it goes.
struct CpuidMask {
  uint32_t function;
  uint32_t index;       // sub-leaf; kAnyIndex for every sub-leaf
  uint8_t reg;          // 0 eax, 1 ebx, 2 ecx, 3 edx
  uint32_t bits;        // bits cleared
  const char* name;
  const char* why;
};
inline constexpr uint32_t kAnyIndex = 0xffffffff;

// The list applied by FilterCpuid, for the docs and the tests.
std::span<const CpuidMask> DivergentFeatures();

// Returns entries with DivergentFeatures() cleared, the PMU leaf (0xA) zeroed,
// SGX and PT leaves dropped, and the APIC ID fields set to vcpu_index.
std::vector<kvm_cpuid_entry2> FilterCpuid(std::span<const kvm_cpuid_entry2> supported, uint32_t vcpu_index);

// Finds an entry; nullptr where absent.
const kvm_cpuid_entry2* FindCpuid(std::span<const kvm_cpuid_entry2> entries, uint32_t function, uint32_t index);

}  // namespace twinstep::host
