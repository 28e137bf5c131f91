// Real VMs on /dev/kvm: real-mode and long-mode guests, exits, stops and the
// dirty log.
#include "host/vm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "host/testing/kvm_guest.h"

namespace twinstep::host {
namespace {

using testing::GuestAsm;

TEST(VmTest, RealModeGuestPrintsAndExits) {
  TWINSTEP_SKIP_WITHOUT_KVM();
  auto vm = testing::MakeTestVm();
  ASSERT_TRUE(vm);
  testing::PortCapture console;
  ASSERT_TRUE(vm->pio().Register(0x3f8, 1, &console));
  GuestAsm prog(GuestAsm::Mode::k16);
  prog.Print("hi\n").Exit(7);
  ASSERT_TRUE(vm->memory().Write(0x1000, prog.bytes()));
  ASSERT_TRUE(EnterRealMode(vm->vcpu(0), 0, 0x1000));
  const VmStop why = testing::RunToStop(*vm);
  EXPECT_EQ(why.kind, VmStop::Kind::kGuestExit) << why.ToString();
  EXPECT_EQ(why.code, 7u);
  EXPECT_EQ(console.text(), "hi\n");
  EXPECT_GE(vm->vcpu(0).counters().io_exits.load(), 4u);
}

TEST(VmTest, Ring3LongModeGuestRunsWithIopl3) {
  TWINSTEP_SKIP_WITHOUT_KVM();
  auto vm = testing::MakeTestVm();
  ASSERT_TRUE(vm);
  testing::PortCapture console;
  ASSERT_TRUE(vm->pio().Register(0x3f8, 1, &console));
  GuestAsm prog(GuestAsm::Mode::k64);
  prog.Print("ring3\n").Exit(42);
  testing::LoadLongMode(*vm, prog);
  const VmStop why = testing::RunToStop(*vm);
  EXPECT_EQ(why.kind, VmStop::Kind::kGuestExit) << why.ToString();
  EXPECT_EQ(why.code, 42u);
  EXPECT_EQ(console.text(), "ring3\n");
}

TEST(VmTest, UnhandledPortReadsAllOnesAndIsCounted) {
  TWINSTEP_SKIP_WITHOUT_KVM();
  auto vm = testing::MakeTestVm();
  ASSERT_TRUE(vm);
  GuestAsm prog(GuestAsm::Mode::k64);
  // in al, 0x80 then exit with al as the code.
  prog.MovDx(0x80).InAlDx().MovDx(0x501).OutDxAl();
  testing::LoadLongMode(*vm, prog);
  const VmStop why = testing::RunToStop(*vm);
  EXPECT_EQ(why.kind, VmStop::Kind::kGuestExit) << why.ToString();
  EXPECT_EQ(why.code, 0xffu);
  EXPECT_EQ(vm->pio().unhandled(), 1u);
}

TEST(VmTest, StopInterruptsASpinningGuest) {
  TWINSTEP_SKIP_WITHOUT_KVM();
  auto vm = testing::MakeTestVm();
  ASSERT_TRUE(vm);
  GuestAsm prog(GuestAsm::Mode::k64);
  const size_t top = prog.here();
  prog.Pause().Jmp(top);
  testing::LoadLongMode(*vm, prog);
  ASSERT_TRUE(vm->Start());
  EXPECT_EQ(vm->WaitForStop(100).kind, VmStop::Kind::kNone);
  vm->Stop();
  EXPECT_EQ(vm->WaitForStop(0).kind, VmStop::Kind::kRequested);
  // And it runs again after a stop.
  vm->ClearStop();
  ASSERT_TRUE(vm->Start());
  EXPECT_EQ(vm->WaitForStop(50).kind, VmStop::Kind::kNone);
  vm->Stop();
}

TEST(VmTest, TripleFaultIsReportedAsShutdown) {
  TWINSTEP_SKIP_WITHOUT_KVM();
  auto vm = testing::MakeTestVm();
  ASSERT_TRUE(vm);
  GuestAsm prog(GuestAsm::Mode::k64);
  prog.MovRdi(0x7fff'0000'0000).StoreAlAtRdi();  // non-canonical-free but unmapped: #PF, no IDT
  testing::LoadLongMode(*vm, prog);
  const VmStop why = testing::RunToStop(*vm);
  EXPECT_EQ(why.kind, VmStop::Kind::kShutdown) << why.ToString();
}

TEST(VmTest, DirtyPagesReportsGuestWritesOnceEach) {
  TWINSTEP_SKIP_WITHOUT_KVM();
  auto vm = testing::MakeTestVm();
  ASSERT_TRUE(vm);
  constexpr uint64_t kFirst = 0x400000, kPages = 100;
  GuestAsm prog(GuestAsm::Mode::k64);
  prog.MovRdi(kFirst).MovRcx(kPages).MovAl(1);
  const size_t loop = prog.here();
  prog.StoreAlAtRdi().AddRdi(2 * kPageSize).DecRcx().Jnz(loop).Exit(0);
  testing::LoadLongMode(*vm, prog);
  ASSERT_TRUE(vm->DirtyPages());  // the loader's own writes
  const VmStop why = testing::RunToStop(*vm);
  ASSERT_EQ(why.kind, VmStop::Kind::kGuestExit) << why.ToString();
  auto dirty = vm->DirtyPages();
  ASSERT_TRUE(dirty) << dirty.error().ToString();
  const std::set<uint64_t> got(dirty->begin(), dirty->end());
  for (uint64_t i = 0; i < kPages; ++i) EXPECT_TRUE(got.count((kFirst >> 12) + 2 * i)) << i;
  // Every other page was skipped by the guest; none of them may show up.
  for (uint64_t i = 0; i < kPages; ++i) EXPECT_FALSE(got.count((kFirst >> 12) + 2 * i + 1)) << i;
  auto again = vm->DirtyPages();
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty());
}

TEST(VmTest, VmmWritesAreDirtyToo) {
  TWINSTEP_SKIP_WITHOUT_KVM();
  auto vm = testing::MakeTestVm();
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->DirtyPages());
  const uint8_t b[2] = {1, 2};
  ASSERT_TRUE(vm->memory().Write(0x5fff, b));  // straddles two pages
  auto dirty = vm->DirtyPages();
  ASSERT_TRUE(dirty);
  EXPECT_EQ(*dirty, (std::vector<uint64_t>{5, 6}));
}

TEST(VmTest, BadConfigIsRefused) {
  TWINSTEP_SKIP_WITHOUT_KVM();
  auto vm = Vm::Create(VmConfig{3ull << 20, 1, false});
  ASSERT_FALSE(vm);
  EXPECT_EQ(vm.error().code, Errc::kArgument);
  auto vm2 = Vm::Create(VmConfig{64ull << 20, 0, false});
  ASSERT_FALSE(vm2);
}

}  // namespace
}  // namespace twinstep::host
