// FilterCpuid and the table of features that make replicas diverge.
#include "host/cpuid.h"

namespace twinstep::host {
namespace {

constexpr uint32_t kKvmCpuidFeatures = 0x40000001;

constexpr CpuidMask kMasks[] = {
    {1, 0, 2, 1u << 30, "RDRAND", "returns a different random number on each replica"},
    {7, 0, 1, 1u << 18, "RDSEED", "returns a different random number on each replica"},
    {7, 0, 1, 1u << 4, "HLE", "transactions abort on host events (interrupts, cache pressure) that differ per replica"},
    {7, 0, 1, 1u << 11, "RTM", "transactions abort on host events that differ per replica"},
    {7, 0, 1, 1u << 2, "SGX", "enclaves are host-bound and cannot be checkpointed"},
    {7, 0, 1, 1u << 25, "PT", "processor trace reports host-specific timing packets"},
    {7, 0, 2, 1u << 5, "WAITPKG", "UMWAIT/TPAUSE wake-up depends on host timing and power management"},
    {7, 0, 3, 1u << 15, "HYBRID", "reports the host core type, which differs between servers"},
    {1, 0, 2, 1u << 3, "MONITOR", "MWAIT wake-ups depend on host cache traffic"},
    {1, 0, 2, 1u << 15, "PDCM", "perf capabilities MSR: the PMU is not offered (see leaf 0xA)"},
    {1, 0, 2, 1u << 7, "EST", "host power management state"},
    {6, 0, 0, 0xffffffffu, "THERM/POWER", "thermal and power state of the host"},
    {kKvmCpuidFeatures, 0, 0, 1u << 4, "KVM_ASYNC_PF", "async page faults inject events when host paging, not the guest, decides"},
    {kKvmCpuidFeatures, 0, 0, 1u << 14, "KVM_ASYNC_PF_INT", "async page faults (interrupt delivery)"},
    {kKvmCpuidFeatures, 0, 0, 1u << 5, "KVM_STEAL_TIME", "steal time reports host scheduling, which differs per replica"},
    {kKvmCpuidFeatures, 0, 0, 1u << 10, "KVM_PV_SCHED_YIELD", "directed yields depend on host scheduling"},
};

bool Dropped(uint32_t function) {
  return function == 0x12 /* SGX */ || function == 0x14 /* PT */;
}

uint32_t* Reg(kvm_cpuid_entry2& e, uint8_t reg) {
  switch (reg) {
    case 0: return &e.eax;
    case 1: return &e.ebx;
    case 2: return &e.ecx;
    default: return &e.edx;
  }
}

}  // namespace

std::span<const CpuidMask> DivergentFeatures() { return kMasks; }

const kvm_cpuid_entry2* FindCpuid(std::span<const kvm_cpuid_entry2> entries, uint32_t function, uint32_t index) {
  for (const kvm_cpuid_entry2& e : entries) {
    const bool indexed = (e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) != 0;
    if (e.function == function && (!indexed || e.index == index)) return &e;
  }
  return nullptr;
}

std::vector<kvm_cpuid_entry2> FilterCpuid(std::span<const kvm_cpuid_entry2> supported, uint32_t vcpu_index) {
  std::vector<kvm_cpuid_entry2> out;
  out.reserve(supported.size());
  for (kvm_cpuid_entry2 e : supported) {
    if (Dropped(e.function)) continue;
    for (const CpuidMask& m : kMasks) {
      if (m.function == e.function && (m.index == kAnyIndex || m.index == e.index)) *Reg(e, m.reg) &= ~m.bits;
    }
    switch (e.function) {
      case 1:  // initial APIC ID in EBX[31:24]
        e.ebx = (e.ebx & 0x00ffffffu) | (vcpu_index << 24);
        break;
      case 0xa:  // architectural PMU: counters count host-dependent events
        e.eax = e.ebx = e.ecx = e.edx = 0;
        break;
      case 0xb:
      case 0x1f:  // x2APIC ID of this vCPU
        e.edx = vcpu_index;
        break;
      default:
        break;
    }
    out.push_back(e);
  }
  return out;
}

}  // namespace twinstep::host
