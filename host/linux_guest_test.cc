// Debian's cloud kernel on this VMM, as far as software KVM lets it run: its
// uncompressed vmlinux booted through PVH (the bzImage's decompressor would run
// emulated for hours), with earlyprintk=serial on our UART. Checks the version
// banner, the command line and the e820 map exactly as the VMM built it.
#include <gtest/gtest.h>
#include <sys/ioctl.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "host/boot/e820.h"
#include "host/boot/linux.h"
#include "host/boot/loader.h"
#include "host/machine.h"
#include "host/testing/kvm_guest.h"

namespace twinstep::host {
namespace {

namespace fs = std::filesystem;

// The kernel the Linux image builder caches (scripts/linux-guest/build-image.sh).
std::string FindKernel() {
  if (const char* k = std::getenv("TWINSTEP_LINUX_KERNEL")) return k;
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const fs::path cache = xdg ? fs::path(xdg) / "twinstep/linux" : fs::path(home ? home : "/root") / ".cache/twinstep/linux";
  std::error_code ec;
  for (const auto& d : fs::directory_iterator(cache, ec)) {
    if (d.path().filename().string().rfind("linux-image-", 0) != 0) continue;
    for (const auto& f : fs::directory_iterator(d.path() / "boot", ec)) {
      if (f.path().filename().string().rfind("vmlinuz-", 0) == 0) return f.path();
    }
  }
  return "";
}

std::string E820Line(const E820Entry& e) {
  char b[128];
  std::snprintf(b, sizeof b, "BIOS-e820: [mem 0x%016llx-0x%016llx] %s", static_cast<unsigned long long>(e.addr),
                static_cast<unsigned long long>(e.addr + e.size - 1), e.type == kE820Ram ? "usable" : "reserved");
  return b;
}

TEST(LinuxGuestTest, DebianCloudKernelPrintsBannerE820AndCommandLine) {
  TWINSTEP_SKIP_WITHOUT_KVM();
  const std::string kernel = FindKernel();
  if (kernel.empty()) GTEST_SKIP() << "no cached Debian cloud kernel: run scripts/linux-guest/build-image.sh first";
  auto bz = ReadFile(kernel);
  ASSERT_TRUE(bz) << bz.error().ToString();
  auto hdr = ParseBzImage(*bz);
  ASSERT_TRUE(hdr) << hdr.error().ToString();
  auto payload = BzImagePayload(*bz, *hdr);
  ASSERT_TRUE(payload) << payload.error().ToString();
  const std::string tool = std::string(PayloadCompression(*payload)) == "lz4"   ? "lz4 -dc"
                           : std::string(PayloadCompression(*payload)) == "xz"  ? "xz -dc"
                           : std::string(PayloadCompression(*payload)) == "zstd" ? "zstd -dc"
                           : std::string(PayloadCompression(*payload)) == "gzip" ? "gzip -dc"
                                                                                 : "";
  if (tool.empty()) GTEST_SKIP() << "kernel payload compressed with " << PayloadCompression(*payload);
  const std::string dir = fs::temp_directory_path() / ("twinstep-linux-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string packed = dir + "/payload", vmlinux = dir + "/vmlinux";
  std::ofstream(packed, std::ios::binary).write(reinterpret_cast<const char*>(payload->data()), payload->size());
  const std::string cmd = tool + " " + packed + " > " + vmlinux + " 2>/dev/null";
  // The tools may complain about the kernel's trailer (the appended size): judge by the output.
  (void)std::system(cmd.c_str());
  char magic[4] = {};
  std::ifstream(vmlinux, std::ios::binary).read(magic, 4);
  if (std::memcmp(magic, "\177ELF", 4) != 0) GTEST_SKIP() << "`" << cmd << "` gave no ELF (is the tool installed?)";

  MachineConfig c;
  c.mem_bytes = 128ull << 20;
  c.console_fd = -1;
  c.keep_console = true;
  auto m = Machine::Create(c);
  ASSERT_TRUE(m) << m.error().ToString();
  const std::string cmdline = "console=ttyS0 earlyprintk=serial,ttyS0 twinstep.test=e820-check";
  auto s = (*m)->Boot(vmlinux, "", cmdline);
  ASSERT_TRUE(s) << s.error().ToString();
  ASSERT_TRUE((*m)->Start());
  const auto e820 = BuildE820((*m)->vm().memory().regions());
  const std::string last_line = E820Line(e820.back());
  // Bounded wait: ring-0 code is emulated here (~1 us per instruction).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(400);
  std::string out;
  while (std::chrono::steady_clock::now() < deadline) {
    out = (*m)->uart().output();
    if (out.find(last_line) != std::string::npos) break;
    if ((*m)->vm().WaitForStop(500).kind != VmStop::Kind::kNone) break;
  }
  (*m)->Pause();
  fs::remove_all(dir);
  std::printf("kernel console:\n%s\n", out.c_str());
  EXPECT_NE(out.find("Linux version 6."), std::string::npos) << "no version banner";
  EXPECT_NE(out.find("Command line: " + cmdline), std::string::npos) << "command line not echoed";
  // The map exactly as built, in order, and nothing else in it.
  size_t pos = out.find("BIOS-provided physical RAM map:");
  ASSERT_NE(pos, std::string::npos);
  for (const E820Entry& e : e820) {
    const size_t at = out.find(E820Line(e), pos);
    ASSERT_NE(at, std::string::npos) << "missing " << E820Line(e);
    pos = at;
  }
  size_t count = 0;
  for (size_t p = out.find("BIOS-e820: "); p != std::string::npos; p = out.find("BIOS-e820: ", p + 1)) ++count;
  EXPECT_EQ(count, e820.size());
}

// The bzImage path with the same kernel: its 64-bit entry and decompressor run
// (emulated here, far too slowly to finish). Checks that the boot protocol set
// up is accepted: after a few seconds the vCPU has neither faulted nor left
// the kernel's memory, and it has moved away from the entry point.
TEST(LinuxGuestTest, DebianBzImageEntersItsDecompressor) {
  TWINSTEP_SKIP_WITHOUT_KVM();
  const std::string kernel = FindKernel();
  if (kernel.empty()) GTEST_SKIP() << "no cached Debian cloud kernel: run scripts/linux-guest/build-image.sh first";
  MachineConfig c;
  c.mem_bytes = 256ull << 20;
  c.console_fd = -1;
  c.keep_console = true;
  auto m = Machine::Create(c);
  ASSERT_TRUE(m) << m.error().ToString();
  ASSERT_TRUE((*m)->Boot(kernel, "", "console=ttyS0 earlyprintk=serial"));
  ASSERT_TRUE((*m)->Start());
  const VmStop why = (*m)->vm().WaitForStop(5000);
  (*m)->Pause();
  EXPECT_EQ(why.kind, VmStop::Kind::kNone) << why.ToString();
  kvm_regs r{};
  ASSERT_EQ(ioctl((*m)->vm().vcpu(0).fd(), KVM_GET_REGS, &r), 0);
  EXPECT_NE(r.rip, 0x100200u) << "never left the 64-bit entry";
  EXPECT_LT(r.rip & 0xffffffffull, c.mem_bytes) << std::hex << r.rip;
}

}  // namespace
}  // namespace twinstep::host
