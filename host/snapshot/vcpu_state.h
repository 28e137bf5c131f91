// The complete architectural state of one vCPU as KVM exposes it, and of the
// VM-wide in-kernel devices (PIC, IOAPIC, PIT, kvmclock): get, set, encode.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

#include "host/error.h"
#include "host/kvm_abi.h"
#include "host/snapshot/codec.h"
#include "host/vcpu.h"

namespace twinstep::host {

struct VcpuState {
  std::vector<kvm_cpuid_entry2> cpuid;
  kvm_regs regs{};
  kvm_sregs sregs{};
  kvm::Xsave xsave{};  // FPU, SSE, AVX: the whole XSAVE area
  kvm_xcrs xcrs{};
  std::vector<kvm_msr_entry> msrs;  // TSC, kvmclock, SYSCALL, PAT, APIC base, ...
  kvm_lapic_state lapic{};
  kvm_vcpu_events events{};
  kvm_mp_state mp_state{};
  kvm_debugregs debugregs{};
};

struct VmDeviceState {
  kvm_irqchip pic_master{};
  kvm_irqchip pic_slave{};
  kvm_irqchip ioapic{};
  kvm_pit_state2 pit{};
  kvm_clock_data clock{};
};

// The MSRs KVM saves for a vCPU (KVM_GET_MSR_INDEX_LIST), keeping those this
// vCPU can read.
Result<std::vector<uint32_t>> SavedMsrIndices(int kvm_fd, Vcpu& probe);

Result<VcpuState> GetVcpuState(Vcpu& vcpu, const std::vector<uint32_t>& msr_indices);
Status SetVcpuState(Vcpu& vcpu, const VcpuState& s);
void EncodeVcpuState(ByteWriter& w, const VcpuState& s);
Status DecodeVcpuState(ByteReader& r, VcpuState* s);

Result<VmDeviceState> GetVmDeviceState(int vm_fd);
Status SetVmDeviceState(int vm_fd, const VmDeviceState& s);
void EncodeVmDeviceState(ByteWriter& w, const VmDeviceState& s);
Status DecodeVmDeviceState(ByteReader& r, VmDeviceState* s);

}  // namespace twinstep::host
