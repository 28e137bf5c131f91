// LoadKernel: format detection, then the PVH or Linux loader and entry state.
#include "host/boot/loader.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include "host/boot/e820.h"
#include "host/boot/layout.h"
#include "host/boot/linux.h"
#include "host/boot/pvh.h"
#include "host/boot/x86_setup.h"

namespace twinstep::host {

Result<std::vector<uint8_t>> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return FailErrno(Errc::kIo, "open " + path);
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return FailErrno(Errc::kIo, "read " + path);
  return data;
}

Result<BootResult> LoadKernel(Vm& vm, std::span<const uint8_t> kernel, std::span<const uint8_t> initrd,
                              const std::string& cmdline) {
  GuestMemory& mem = vm.memory();
  const auto e820 = BuildE820(mem.regions());
  if (auto s = WriteBootTables(mem, false); !s) return MakeUnexpected(s.error());
  if (kernel.size() >= 4 && std::memcmp(kernel.data(), "\177ELF", 4) == 0) {
    if (!initrd.empty()) return Fail(Errc::kArgument, "an initramfs is only supported with a bzImage");
    auto img = ParsePvhElf(kernel);
    if (!img) return MakeUnexpected(img.error());
    auto entry = LoadPvh(mem, kernel, *img, cmdline, e820);
    if (!entry) return MakeUnexpected(entry.error());
    if (auto s = EnterProtected32(vm.vcpu(0), *entry, layout::kPvhStartInfo); !s) return MakeUnexpected(s.error());
    return BootResult{KernelFormat::kPvhElf, *entry};
  }
  auto img = ParseBzImage(kernel);
  if (!img) {
    Error e = img.error();
    e.detail = "neither a PVH ELF nor a bzImage: " + e.detail;
    return MakeUnexpected(e);
  }
  auto entry = LoadLinux(mem, kernel, *img, initrd, cmdline, e820);
  if (!entry) return MakeUnexpected(entry.error());
  if (auto s = EnterLongMode(vm.vcpu(0), mem, *entry, layout::kBootParams, 0, false); !s) return MakeUnexpected(s.error());
  return BootResult{KernelFormat::kBzImage, *entry};
}

}  // namespace twinstep::host
