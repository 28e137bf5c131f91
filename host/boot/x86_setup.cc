// GDT, page tables and entry register state.
#include "host/boot/x86_setup.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstring>
#include <vector>

#include "host/boot/layout.h"

namespace twinstep::host {
namespace {

constexpr uint64_t kCr0Pe = 1, kCr0Mp = 1 << 1, kCr0Et = 1 << 4, kCr0Ne = 1 << 5, kCr0Wp = 1 << 16,
                   kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1 << 5, kCr4Osfxsr = 1 << 9, kCr4Osxmmexcpt = 1 << 10;
constexpr uint64_t kEferLme = 1 << 8, kEferLma = 1 << 10;
constexpr uint64_t kPteP = 1, kPteRw = 2, kPteUs = 4, kPtePs = 0x80;

// GDT descriptor from base, limit and the 12 flag bits (access byte + flags nibble).
constexpr uint64_t Desc(uint32_t base, uint32_t limit, uint16_t flags) {
  return ((uint64_t(base) & 0xff000000) << 32) | ((uint64_t(flags) & 0xf0ff) << 40) |
         ((uint64_t(limit) & 0xf0000) << 32) | ((uint64_t(base) & 0x00ffffff) << 16) | (uint64_t(limit) & 0xffff);
}

constexpr uint64_t kGdtEntries[8] = {
    0,
    Desc(0, 0xfffff, 0xc09b),  // 0x08 code32
    Desc(0, 0xfffff, 0xa09b),  // 0x10 code64
    Desc(0, 0xfffff, 0xc093),  // 0x18 data
    Desc(layout::kTss, layout::kTssLimit, 0x008b),  // 0x20 TSS (busy; upper half is the next entry)
    0,
    Desc(0, 0xfffff, 0xc0f3),  // 0x30 user data
    Desc(0, 0xfffff, 0xa0fb),  // 0x38 user code64
};

kvm_segment Seg(uint16_t sel, uint8_t type, uint8_t dpl, bool l, bool db) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = sel;
  s.type = type;
  s.present = 1;
  s.dpl = dpl;
  s.db = db ? 1 : 0;
  s.s = 1;
  s.l = l ? 1 : 0;
  s.g = 1;
  return s;
}

Status GetSregs(Vcpu& v, kvm_sregs* s) {
  if (ioctl(v.fd(), KVM_GET_SREGS, s) != 0) return FailErrno(Errc::kKvmIoctl, "KVM_GET_SREGS");
  return {};
}

Status SetSregsRegs(Vcpu& v, const kvm_sregs& s, const kvm_regs& r) {
  if (ioctl(v.fd(), KVM_SET_SREGS, &s) != 0) return FailErrno(Errc::kKvmIoctl, "KVM_SET_SREGS");
  if (ioctl(v.fd(), KVM_SET_REGS, &r) != 0) return FailErrno(Errc::kKvmIoctl, "KVM_SET_REGS");
  return {};
}

void FlatProtected(kvm_sregs& s, bool long_mode) {
  s.gdt.base = layout::kGdt;
  s.gdt.limit = sizeof(kGdtEntries) - 1;
  s.cs = long_mode ? Seg(layout::kCode64Sel, 0xb, 0, true, false) : Seg(layout::kCode32Sel, 0xb, 0, false, true);
  s.ds = s.es = s.fs = s.gs = s.ss = Seg(layout::kDataSel, 0x3, 0, false, true);
  s.tr = kvm_segment{};
  s.tr.selector = layout::kTssSel;
  s.tr.base = layout::kTss;
  s.tr.limit = layout::kTssLimit;
  s.tr.type = 0xb;
  s.tr.present = 1;
}

}  // namespace

Status WriteBootTables(GuestMemory& mem, bool user_pages) {
  if (auto s = mem.Write(layout::kGdt, {reinterpret_cast<const uint8_t*>(kGdtEntries), sizeof(kGdtEntries)}); !s) {
    return s;
  }
  // TSS: all zero (RSP0 unused) but the I/O bitmap base at 104 and the end byte:
  // every port open to ring 3 (kvm_pvm checks the bitmap, not IOPL).
  std::vector<uint8_t> tss(layout::kTssLimit + 1, 0);
  tss[102] = 104;
  tss[layout::kTssLimit] = 0xff;
  if (auto s = mem.Write(layout::kTss, tss); !s) return s;
  const uint64_t us = user_pages ? kPteUs : 0;
  uint64_t pml4[512] = {layout::kPdpt | kPteP | kPteRw | us};
  uint64_t pdpt[512] = {};
  for (uint64_t i = 0; i < 4; ++i) pdpt[i] = (layout::kPd + i * kPageSize) | kPteP | kPteRw | us;
  std::vector<uint64_t> pd(4 * 512);
  for (uint64_t i = 0; i < pd.size(); ++i) pd[i] = (i << 21) | kPteP | kPteRw | kPtePs | us;
  auto bytes = [](const uint64_t* p, size_t n) { return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(p), n * 8); };
  if (auto s = mem.Write(layout::kPml4, bytes(pml4, 512)); !s) return s;
  if (auto s = mem.Write(layout::kPdpt, bytes(pdpt, 512)); !s) return s;
  return mem.Write(layout::kPd, bytes(pd.data(), pd.size()));
}

Status EnterRealMode(Vcpu& vcpu, uint16_t cs, uint16_t ip) {
  kvm_sregs s{};
  if (auto st = GetSregs(vcpu, &s); !st) return st;
  s.cs.selector = cs;
  s.cs.base = uint64_t(cs) << 4;
  kvm_regs r{};
  r.rip = ip;
  r.rflags = 2;
  return SetSregsRegs(vcpu, s, r);
}

Status EnterProtected32(Vcpu& vcpu, uint32_t eip, uint32_t ebx) {
  kvm_sregs s{};
  if (auto st = GetSregs(vcpu, &s); !st) return st;
  FlatProtected(s, false);
  s.cr0 = kCr0Pe | kCr0Et;
  s.cr4 = 0;
  s.efer = 0;
  kvm_regs r{};
  r.rip = eip;
  r.rbx = ebx;
  r.rflags = 2;
  return SetSregsRegs(vcpu, s, r);
}

Status EnterLongMode(Vcpu& vcpu, GuestMemory& mem, uint64_t rip, uint64_t rsi, uint64_t rsp, bool ring3) {
  kvm_sregs s{};
  if (auto st = GetSregs(vcpu, &s); !st) return st;
  FlatProtected(s, true);
  s.cr0 = kCr0Pe | kCr0Mp | kCr0Et | kCr0Ne | kCr0Wp | kCr0Pg;
  s.cr3 = layout::kPml4;
  s.cr4 = kCr4Pae | kCr4Osfxsr | kCr4Osxmmexcpt;
  s.efer = kEferLme | kEferLma;
  kvm_regs r{};
  r.rip = rip;
  r.rsi = rsi;
  r.rsp = rsp;
  r.rflags = 2;
  if (ring3) {
    // kvm_pvm does not take a vCPU whose first state is ring 3, so enter through
    // a ring-0 iretq: SS, RSP, RFLAGS (IOPL 3), CS, RIP.
    std::vector<uint8_t> t;
    auto push = [&t](uint64_t v) {
      t.insert(t.end(), {0x48, 0xb8});  // mov rax, imm64
      for (int i = 0; i < 8; ++i) t.push_back(static_cast<uint8_t>(v >> (8 * i)));
      t.push_back(0x50);  // push rax
    };
    push(layout::kUserDataSel);
    push(rsp);
    push(0x3002);
    push(layout::kUserCode64Sel);
    push(rip);
    t.insert(t.end(), {0x48, 0xcf});  // iretq
    if (auto st = mem.Write(layout::kRing3Trampoline, t); !st) return st;
    r.rip = layout::kRing3Trampoline;
    r.rsp = layout::kBootStack;
  }
  return SetSregsRegs(vcpu, s, r);
}

}  // namespace twinstep::host
