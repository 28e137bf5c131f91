// Boots a kernel file: a PVH ELF (the test guest, or any PVH kernel) or a Linux
// bzImage, chosen by the file's magic; sets up memory and vCPU 0.
#pragma once

#include <span>
#include <string>

#include "host/error.h"
#include "host/vm.h"

namespace twinstep::host {

enum class KernelFormat { kPvhElf, kBzImage };

struct BootResult {
  KernelFormat format;
  uint64_t entry;
};

Result<BootResult> LoadKernel(Vm& vm, std::span<const uint8_t> kernel, std::span<const uint8_t> initrd,
                              const std::string& cmdline);

// Reads a whole file (kernel, initrd): a clear error naming the path on failure.
Result<std::vector<uint8_t>> ReadFile(const std::string& path);

}  // namespace twinstep::host
