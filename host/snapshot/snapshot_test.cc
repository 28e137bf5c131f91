// Whole-machine snapshots on /dev/kvm: a running guest saved and restored into
// another VM (here and in another process), twice-restored replicas that give
// the same outputs for the same inputs, and refused bad snapshots.
#include "host/snapshot/snapshot.h"

#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "host/testing/kvm_guest.h"
#include "host/testing/test_guest.h"

extern char** environ;

namespace twinstep::host {
namespace {

using testing::Guest;
using testing::Memcached;
using testing::TempDisk;

std::string TempPath(const char* what) {
  return std::string("/tmp/twinstep-") + what + "-" + std::to_string(getpid()) + "-" +
         ::testing::UnitTest::GetInstance()->current_test_info()->name();
}

// Restores path into a fresh guest with disk and starts it.
bool RestoreInto(Guest& g, const std::string& disk, const std::string& path) {
  if (!g.Create(disk)) return false;
  auto f = SnapshotFile::Open(path);
  if (!f) {
    ADD_FAILURE() << f.error().ToString();
    return false;
  }
  auto s = RestoreSnapshot(*g.m, **f);
  if (!s) {
    ADD_FAILURE() << s.error().ToString();
    return false;
  }
  return static_cast<bool>(g.m->Resume());
}

TEST(SnapshotTest, SpinningAsmGuestContinuesAfterRestore) {
  TWINSTEP_SKIP_WITHOUT_KVM();
  MachineConfig c;
  c.mem_bytes = 32ull << 20;
  c.console_fd = -1;
  auto a = Machine::Create(c);
  ASSERT_TRUE(a) << a.error().ToString();
  testing::GuestAsm prog(testing::GuestAsm::Mode::k64);
  prog.MovRdi(0x400000);
  const size_t loop = prog.here();
  prog.IncQwordAtRdi().Jmp(loop);
  testing::LoadLongMode((*a)->vm(), prog);
  ASSERT_TRUE((*a)->Start());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  (*a)->Pause();
  uint64_t counter_a = 0;
  ASSERT_TRUE((*a)->vm().memory().Read(0x400000, {reinterpret_cast<uint8_t*>(&counter_a), 8}));
  EXPECT_GT(counter_a, 0u);
  const std::string path = TempPath("snap");
  auto st = SaveSnapshot(**a, path);
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_LT(st->pages_saved, 64u);  // zero pages are not stored

  auto b = Machine::Create(c);
  ASSERT_TRUE(b);
  auto f = SnapshotFile::Open(path);
  ASSERT_TRUE(f) << f.error().ToString();
  ASSERT_TRUE(RestoreSnapshot(**b, **f));
  uint64_t counter_b = 0;
  ASSERT_TRUE((*b)->vm().memory().Read(0x400000, {reinterpret_cast<uint8_t*>(&counter_b), 8}));
  EXPECT_EQ(counter_a, counter_b);
  EXPECT_EQ(std::memcmp((*a)->vm().memory().base(), (*b)->vm().memory().base(), c.mem_bytes), 0);
  kvm_regs ra{}, rb{};
  ASSERT_EQ(ioctl((*a)->vm().vcpu(0).fd(), KVM_GET_REGS, &ra), 0);
  ASSERT_EQ(ioctl((*b)->vm().vcpu(0).fd(), KVM_GET_REGS, &rb), 0);
  EXPECT_EQ(ra.rip, rb.rip);
  EXPECT_EQ(ra.rdi, rb.rdi);
  ASSERT_TRUE((*b)->Resume());
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        uint64_t v = 0;
        (void)(*b)->vm().memory().Read(0x400000, {reinterpret_cast<uint8_t*>(&v), 8});
        return v > counter_b;
      },
      10000));
  (*b)->Pause();
  std::remove(path.c_str());
}

TEST(SnapshotTest, TwoVcpuMachineRunsStopsAndRestores) {
  TWINSTEP_SKIP_WITHOUT_KVM();
  MachineConfig c;
  c.mem_bytes = 16ull << 20;
  c.vcpus = 2;
  c.console_fd = -1;
  auto a = Machine::Create(c);
  ASSERT_TRUE(a) << a.error().ToString();
  // vCPU 1 is an AP waiting for INIT/SIPI in the in-kernel LAPIC; vCPU 0 spins.
  testing::GuestAsm prog(testing::GuestAsm::Mode::k64);
  prog.MovRdi(0x400000);
  const size_t loop = prog.here();
  prog.IncQwordAtRdi().Jmp(loop);
  testing::LoadLongMode((*a)->vm(), prog);
  ASSERT_TRUE((*a)->Start());
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  (*a)->Pause();
  EXPECT_EQ((*a)->vm().WaitForStop(0).kind, VmStop::Kind::kRequested);
  const std::string path = TempPath("smp");
  ASSERT_TRUE(SaveSnapshot(**a, path));
  auto f = SnapshotFile::Open(path);
  ASSERT_TRUE(f);
  std::span<const uint8_t> b;
  EXPECT_TRUE((*f)->index().Find(VcpuSectionId(1), &b));
  auto target = Machine::Create(c);
  ASSERT_TRUE(target);
  ASSERT_TRUE(RestoreSnapshot(**target, **f));
  kvm_mp_state mp{};
  ASSERT_EQ(ioctl((*target)->vm().vcpu(1).fd(), KVM_GET_MP_STATE, &mp), 0);
  EXPECT_NE(mp.mp_state, static_cast<uint32_t>(KVM_MP_STATE_RUNNABLE)) << "the AP was never started";
  // A one-vCPU machine does not take a two-vCPU snapshot.
  c.vcpus = 1;
  auto one = Machine::Create(c);
  ASSERT_TRUE(one);
  auto r = RestoreSnapshot(**one, **f);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kSnapshotMismatch);
  std::remove(path.c_str());
}

TEST(SnapshotTest, CorruptOrMismatchedSnapshotsAreRefusedAndNotApplied) {
  TWINSTEP_SKIP_WITHOUT_KVM();
  MachineConfig c;
  c.mem_bytes = 16ull << 20;
  c.console_fd = -1;
  auto a = Machine::Create(c);
  ASSERT_TRUE(a);
  const uint8_t marker[4] = {'s', 'n', 'a', 'p'};
  ASSERT_TRUE((*a)->vm().memory().Write(0x200000, marker));
  const std::string path = TempPath("bad");
  ASSERT_TRUE(SaveSnapshot(**a, path));
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  auto write = [&](const std::string& b) { std::ofstream(path, std::ios::binary | std::ios::trunc) << b; };
  // A flipped byte in the memory image.
  std::string corrupt = bytes;
  corrupt[corrupt.size() - 100] ^= 1;
  write(corrupt);
  auto f = SnapshotFile::Open(path);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, Errc::kSnapshotCorrupt) << f.error().ToString();
  // Truncated.
  write(bytes.substr(0, bytes.size() / 2));
  f = SnapshotFile::Open(path);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, Errc::kSnapshotTruncated) << f.error().ToString();
  // A valid snapshot of another machine size is refused and leaves the target alone.
  write(bytes);
  c.mem_bytes = 32ull << 20;
  auto other = Machine::Create(c);
  ASSERT_TRUE(other);
  const uint8_t other_marker[4] = {'k', 'e', 'e', 'p'};
  ASSERT_TRUE((*other)->vm().memory().Write(0x200000, other_marker));
  f = SnapshotFile::Open(path);
  ASSERT_TRUE(f) << f.error().ToString();
  auto r = RestoreSnapshot(**other, **f);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kSnapshotMismatch);
  EXPECT_EQ(std::memcmp((*other)->vm().memory().HostPtr(0x200000, 4), "keep", 4), 0);
  std::remove(path.c_str());
}

TEST(SnapshotTest, TwoRestoresOfOneSnapshotGiveTheSameOutputs) {
  TWINSTEP_SKIP_WITHOUT_KVM();
  TempDisk disk(8 << 20);
  const std::string path = TempPath("twin");
  {
    Guest g;
    ASSERT_TRUE(g.Boot(disk.path));
    ASSERT_TRUE(g.WaitReady());
    ASSERT_NE(g.Ask(11211, Memcached("set a 0 0 1\r\n1\r\n")).find("STORED"), std::string::npos);
    g.m->Pause();
    ASSERT_TRUE(SaveSnapshot(*g.m, path));
  }
  const std::vector<std::string> inputs = {
      Memcached("incr a 41\r\n"), Memcached("set b 5 0 3\r\nxyz\r\n"), Memcached("append b 0 0 2\r\n!!\r\n"),
      Memcached("get a b\r\n"),  Memcached("stats\r\n"),                Memcached("delete a\r\n")};
  std::vector<std::string> outputs[2];
  for (int replica = 0; replica < 2; ++replica) {
    Guest g;
    ASSERT_TRUE(RestoreInto(g, disk.path, path));
    for (const auto& in : inputs) outputs[replica].push_back(g.Ask(11211, in));
    outputs[replica].push_back(g.Ask(7, "echo after"));
    g.m->Pause();
  }
  EXPECT_EQ(outputs[0], outputs[1]);
  EXPECT_NE(outputs[0][3].find("VALUE a 0 2\r\n42\r\nVALUE b 5 5\r\nxyz!!\r\nEND"), std::string::npos) << outputs[0][3];
  std::remove(path.c_str());
}

// Run by StoreSurvivesRestoreInAnotherProcess in a child process.
TEST(SnapshotTest, DISABLED_ChildRestoresAndReads) {
  const char* path = std::getenv("TWINSTEP_SNAPSHOT");
  const char* disk = std::getenv("TWINSTEP_DISK");
  ASSERT_TRUE(path && disk);
  Guest g;
  ASSERT_TRUE(RestoreInto(g, disk, path));
  const std::string r = g.Ask(11211, Memcached("get city\r\n"));
  EXPECT_NE(r.find("VALUE city 0 5\r\nParis\r\nEND"), std::string::npos) << r;
  g.m->Pause();
}

TEST(SnapshotTest, StoreSurvivesRestoreInAnotherProcess) {
  TWINSTEP_SKIP_WITHOUT_KVM();
  TempDisk disk(8 << 20);
  const std::string path = TempPath("xproc");
  {
    Guest g;
    ASSERT_TRUE(g.Boot(disk.path));
    ASSERT_TRUE(g.WaitReady());
    ASSERT_NE(g.Ask(11211, Memcached("set city 0 0 5\r\nParis\r\n")).find("STORED"), std::string::npos);
    g.m->Pause();
    ASSERT_TRUE(SaveSnapshot(*g.m, path));
  }
  setenv("TWINSTEP_SNAPSHOT", path.c_str(), 1);
  setenv("TWINSTEP_DISK", disk.path.c_str(), 1);
  std::string self = std::filesystem::read_symlink("/proc/self/exe");
  const char* argv[] = {self.c_str(), "--gtest_also_run_disabled_tests",
                        "--gtest_filter=SnapshotTest.DISABLED_ChildRestoresAndReads", nullptr};
  pid_t pid;
  ASSERT_EQ(posix_spawn(&pid, self.c_str(), nullptr, nullptr, const_cast<char**>(argv), environ), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  std::remove(path.c_str());
}

}  // namespace
}  // namespace twinstep::host
