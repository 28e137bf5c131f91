// vCPU and in-kernel device state through the KVM get/set ioctls.
#include "host/snapshot/vcpu_state.h"

#include <sys/ioctl.h>

#include <cstring>
#include <string>

namespace twinstep::host {
namespace {

constexpr uint32_t kMaxMsrs = 1024;
constexpr uint32_t kMaxCpuid = 512;

template <typename T>
Status Ioctl(int fd, unsigned long req, T* arg, const char* name) {
  // arg is the struct the ioctl number encodes (sizes checked in kvm_abi.h for the odd ones).
  if (ioctl(fd, req, arg) < 0) return FailErrno(Errc::kKvmIoctl, name);
  return {};
}

// kvm_msrs in the C layout (see kvm_abi.h): header then entries.
std::vector<uint8_t> MsrBuffer(const std::vector<kvm_msr_entry>& entries) {
  std::vector<uint8_t> buf(sizeof(kvm::MsrsHeader) + entries.size() * sizeof(kvm_msr_entry));
  kvm::MsrsHeader h{static_cast<uint32_t>(entries.size()), 0};
  std::memcpy(buf.data(), &h, sizeof h);
  std::memcpy(buf.data() + sizeof h, entries.data(), entries.size() * sizeof(kvm_msr_entry));
  return buf;
}

}  // namespace

Result<std::vector<uint32_t>> SavedMsrIndices(int kvm_fd, Vcpu& probe) {
  std::vector<uint8_t> buf(sizeof(kvm::MsrListHeader) + kMaxMsrs * 4);
  kvm::MsrListHeader h{kMaxMsrs};
  std::memcpy(buf.data(), &h, sizeof h);
  if (ioctl(kvm_fd, kvm::kGetMsrIndexList, buf.data()) < 0) return FailErrno(Errc::kKvmIoctl, "KVM_GET_MSR_INDEX_LIST");
  std::memcpy(&h, buf.data(), sizeof h);
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < h.nmsrs && i < kMaxMsrs; ++i) {
    uint32_t index;
    std::memcpy(&index, buf.data() + sizeof h + 4 * i, 4);
    auto one = MsrBuffer({kvm_msr_entry{index, 0, 0}});
    if (ioctl(probe.fd(), kvm::kGetMsrs, one.data()) == 1) out.push_back(index);
  }
  return out;
}

Result<VcpuState> GetVcpuState(Vcpu& v, const std::vector<uint32_t>& msr_indices) {
  VcpuState s;
  const int fd = v.fd();
  s.cpuid = v.cpuid();
  // KVM_GET_MP_STATE first: it flushes pending APIC events into the state.
  if (auto st = Ioctl(fd, KVM_GET_MP_STATE, &s.mp_state, "KVM_GET_MP_STATE"); !st) return MakeUnexpected(st.error());
  if (auto st = Ioctl(fd, KVM_GET_REGS, &s.regs, "KVM_GET_REGS"); !st) return MakeUnexpected(st.error());
  if (auto st = Ioctl(fd, KVM_GET_SREGS, &s.sregs, "KVM_GET_SREGS"); !st) return MakeUnexpected(st.error());
  if (auto st = Ioctl(fd, kvm::kGetXsave, &s.xsave, "KVM_GET_XSAVE"); !st) return MakeUnexpected(st.error());
  if (auto st = Ioctl(fd, KVM_GET_XCRS, &s.xcrs, "KVM_GET_XCRS"); !st) return MakeUnexpected(st.error());
  if (auto st = Ioctl(fd, KVM_GET_LAPIC, &s.lapic, "KVM_GET_LAPIC"); !st) return MakeUnexpected(st.error());
  if (auto st = Ioctl(fd, KVM_GET_VCPU_EVENTS, &s.events, "KVM_GET_VCPU_EVENTS"); !st) return MakeUnexpected(st.error());
  if (auto st = Ioctl(fd, KVM_GET_DEBUGREGS, &s.debugregs, "KVM_GET_DEBUGREGS"); !st) return MakeUnexpected(st.error());
  std::vector<kvm_msr_entry> want;
  for (uint32_t i : msr_indices) want.push_back(kvm_msr_entry{i, 0, 0});
  auto buf = MsrBuffer(want);
  const int n = ioctl(fd, kvm::kGetMsrs, buf.data());
  if (n != static_cast<int>(want.size())) {
    return Fail(Errc::kKvmIoctl, "KVM_GET_MSRS read " + std::to_string(n) + " of " + std::to_string(want.size()) + " MSRs");
  }
  s.msrs.resize(want.size());
  std::memcpy(s.msrs.data(), buf.data() + sizeof(kvm::MsrsHeader), want.size() * sizeof(kvm_msr_entry));
  return s;
}

Status SetVcpuState(Vcpu& v, const VcpuState& s) {
  const int fd = v.fd();
  if (auto st = v.SetCpuid(s.cpuid); !st) return st;
  // QEMU's order: registers, XSAVE, XCRs, segments, MSRs, MP state, LAPIC, events, debug.
  if (auto st = Ioctl(fd, KVM_SET_REGS, const_cast<kvm_regs*>(&s.regs), "KVM_SET_REGS"); !st) return st;
  if (auto st = Ioctl(fd, kvm::kSetXsave, const_cast<kvm::Xsave*>(&s.xsave), "KVM_SET_XSAVE"); !st) return st;
  if (auto st = Ioctl(fd, KVM_SET_XCRS, const_cast<kvm_xcrs*>(&s.xcrs), "KVM_SET_XCRS"); !st) return st;
  if (auto st = Ioctl(fd, KVM_SET_SREGS, const_cast<kvm_sregs*>(&s.sregs), "KVM_SET_SREGS"); !st) return st;
  auto buf = MsrBuffer(s.msrs);
  const int n = ioctl(fd, kvm::kSetMsrs, buf.data());
  if (n != static_cast<int>(s.msrs.size())) {
    char idx[16] = "?";
    if (n >= 0 && static_cast<size_t>(n) < s.msrs.size()) std::snprintf(idx, sizeof idx, "%#x", s.msrs[n].index);
    return Fail(Errc::kKvmIoctl, "KVM_SET_MSRS stopped at MSR " + std::string(idx));
  }
  if (auto st = Ioctl(fd, KVM_SET_MP_STATE, const_cast<kvm_mp_state*>(&s.mp_state), "KVM_SET_MP_STATE"); !st) return st;
  if (auto st = Ioctl(fd, KVM_SET_LAPIC, const_cast<kvm_lapic_state*>(&s.lapic), "KVM_SET_LAPIC"); !st) return st;
  if (auto st = Ioctl(fd, KVM_SET_VCPU_EVENTS, const_cast<kvm_vcpu_events*>(&s.events), "KVM_SET_VCPU_EVENTS"); !st) return st;
  return Ioctl(fd, KVM_SET_DEBUGREGS, const_cast<kvm_debugregs*>(&s.debugregs), "KVM_SET_DEBUGREGS");
}

void EncodeVcpuState(ByteWriter& w, const VcpuState& s) {
  w.Put(static_cast<uint32_t>(s.cpuid.size()));
  for (const auto& e : s.cpuid) w.Put(e);
  w.Put(s.regs);
  w.Put(s.sregs);
  w.Put(s.xsave);
  w.Put(s.xcrs);
  w.Put(static_cast<uint32_t>(s.msrs.size()));
  for (const auto& m : s.msrs) w.Put(m);
  w.Put(s.lapic);
  w.Put(s.events);
  w.Put(s.mp_state);
  w.Put(s.debugregs);
}

Status DecodeVcpuState(ByteReader& r, VcpuState* s) {
  uint32_t n = 0;
  if (!r.Get(&n) || n > kMaxCpuid) return Fail(Errc::kSnapshotCorrupt, "vCPU CPUID count is out of range");
  s->cpuid.resize(n);
  for (auto& e : s->cpuid) r.Get(&e);
  r.Get(&s->regs);
  r.Get(&s->sregs);
  r.Get(&s->xsave);
  r.Get(&s->xcrs);
  if (!r.Get(&n) || n > kMaxMsrs) return Fail(Errc::kSnapshotCorrupt, "vCPU MSR count is out of range");
  s->msrs.resize(n);
  for (auto& m : s->msrs) r.Get(&m);
  r.Get(&s->lapic);
  r.Get(&s->events);
  r.Get(&s->mp_state);
  r.Get(&s->debugregs);
  if (!r.ok() || !r.at_end()) return Fail(Errc::kSnapshotCorrupt, "vCPU section has the wrong length");
  return {};
}

Result<VmDeviceState> GetVmDeviceState(int vm_fd) {
  VmDeviceState s;
  s.pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
  s.pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
  s.ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
  for (kvm_irqchip* c : {&s.pic_master, &s.pic_slave, &s.ioapic}) {
    if (auto st = Ioctl(vm_fd, KVM_GET_IRQCHIP, c, "KVM_GET_IRQCHIP"); !st) return MakeUnexpected(st.error());
  }
  if (auto st = Ioctl(vm_fd, KVM_GET_PIT2, &s.pit, "KVM_GET_PIT2"); !st) return MakeUnexpected(st.error());
  if (auto st = Ioctl(vm_fd, KVM_GET_CLOCK, &s.clock, "KVM_GET_CLOCK"); !st) return MakeUnexpected(st.error());
  return s;
}

Status SetVmDeviceState(int vm_fd, const VmDeviceState& s) {
  for (const kvm_irqchip* c : {&s.pic_master, &s.pic_slave, &s.ioapic}) {
    if (auto st = Ioctl(vm_fd, KVM_SET_IRQCHIP, const_cast<kvm_irqchip*>(c), "KVM_SET_IRQCHIP"); !st) return st;
  }
  if (auto st = Ioctl(vm_fd, KVM_SET_PIT2, const_cast<kvm_pit_state2*>(&s.pit), "KVM_SET_PIT2"); !st) return st;
  kvm_clock_data clock{};
  clock.clock = s.clock.clock;  // only the guest clock value: flags and host times are this host's
  return Ioctl(vm_fd, KVM_SET_CLOCK, &clock, "KVM_SET_CLOCK");
}

void EncodeVmDeviceState(ByteWriter& w, const VmDeviceState& s) { w.Put(s); }

Status DecodeVmDeviceState(ByteReader& r, VmDeviceState* s) {
  if (!r.Get(s) || !r.at_end()) return Fail(Errc::kSnapshotCorrupt, "irqchip/PIT/clock section has the wrong length");
  if (s->pic_master.chip_id != KVM_IRQCHIP_PIC_MASTER || s->pic_slave.chip_id != KVM_IRQCHIP_PIC_SLAVE ||
      s->ioapic.chip_id != KVM_IRQCHIP_IOAPIC) {
    return Fail(Errc::kSnapshotCorrupt, "irqchip section names the wrong chips");
  }
  return {};
}

}  // namespace twinstep::host
