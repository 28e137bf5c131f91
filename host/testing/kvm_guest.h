// Test support: a VM with a debug-exit port and a console capture, that runs
// a GuestAsm program and reports how it stopped. Skips where /dev/kvm is absent.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <string>

#include "host/boot/layout.h"
#include "host/boot/x86_setup.h"
#include "host/devices/debug_exit.h"
#include "host/testing/guest_asm.h"
#include "host/vm.h"

namespace twinstep::host::testing {

#define TWINSTEP_SKIP_WITHOUT_KVM()                                    \
  do {                                                                 \
    std::string why_;                                                  \
    if (!::twinstep::host::KvmUsable(&why_)) GTEST_SKIP() << "no usable KVM: " << why_; \
  } while (0)

// Collects bytes written to one port (a stand-in console).
class PortCapture : public BusDevice {
 public:
  void Read(uint64_t, std::span<uint8_t> d) override {
    for (auto& b : d) b = 0;
  }
  void Write(uint64_t, std::span<const uint8_t> d) override {
    std::lock_guard l(mu_);
    text_.append(d.begin(), d.end());
  }
  std::string text() {
    std::lock_guard l(mu_);
    return text_;
  }

 private:
  std::mutex mu_;
  std::string text_;
};

inline constexpr uint64_t kTestCodeAddr = 0x100000;

// Creates a VM with the debug-exit port; aborts the test on failure.
inline std::unique_ptr<Vm> MakeTestVm(uint64_t mem_bytes = 64ull << 20) {
  auto vm = Vm::Create(VmConfig{mem_bytes, 1, false});
  if (!vm) {
    ADD_FAILURE() << vm.error().ToString();
    return nullptr;
  }
  Vm* raw = vm->get();
  static std::vector<std::unique_ptr<DebugExit>> exits;  // outlive every VM of the test binary
  exits.push_back(std::make_unique<DebugExit>(
      [raw](uint32_t code) { raw->RequestStop(VmStop{VmStop::Kind::kGuestExit, code, "debug exit"}); }));
  EXPECT_TRUE((*vm)->pio().Register(kDebugExitPort, kDebugExitLen, exits.back().get()));
  return std::move(*vm);
}

// Loads a 64-bit program at kTestCodeAddr and points vCPU 0 at it (ring 3 unless ring0).
inline void LoadLongMode(Vm& vm, const GuestAsm& prog, bool ring0 = false) {
  ASSERT_TRUE(WriteBootTables(vm.memory(), true));
  ASSERT_TRUE(vm.memory().Write(kTestCodeAddr, prog.bytes()));
  auto s = EnterLongMode(vm.vcpu(0), vm.memory(), kTestCodeAddr, 0, layout::kBootStack, !ring0);
  ASSERT_TRUE(s) << s.error().ToString();
}

// Runs until the guest stops or timeout_ms passes (then stops it).
inline VmStop RunToStop(Vm& vm, int64_t timeout_ms = 20000) {
  EXPECT_TRUE(vm.Start());
  VmStop why = vm.WaitForStop(timeout_ms);
  vm.Stop();
  vm.ClearStop();
  return why;
}

}  // namespace twinstep::host::testing
