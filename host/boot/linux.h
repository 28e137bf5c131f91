// The Linux x86 boot protocol: a bzImage's setup header, the zero page
// (boot_params) with the e820 map, command line and initramfs, and the 64-bit
// entry at the protected-mode kernel's start + 0x200.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "host/boot/e820.h"
#include "host/error.h"
#include "host/memory.h"

namespace twinstep::host {

struct BzImage {
  uint8_t setup_sects = 0;
  uint16_t version = 0;         // boot protocol version, e.g. 0x020f
  uint8_t loadflags = 0;
  uint32_t initrd_addr_max = 0;
  uint32_t cmdline_size = 0;
  uint16_t xloadflags = 0;
  uint64_t kernel_offset = 0;   // protected-mode kernel's offset in the file
  uint64_t kernel_size = 0;
  uint32_t init_size = 0;       // memory the kernel needs from its load address
  std::vector<uint8_t> header;  // bytes 0x1f1 .. end of the setup header
};

// Parses and checks the setup header (boot protocol >= 2.12 with a 64-bit
// entry). Pure.
Result<BzImage> ParseBzImage(std::span<const uint8_t> file);

// The compressed kernel inside a bzImage (payload_offset/length, protocol
// 2.08+) and the name of its compression ("gzip", "xz", "zstd", "lz4",
// "bzip2", "lzma", "lzo" or "unknown"). Pure. Tests use it to boot the
// uncompressed vmlinux through PVH where the decompressor would run emulated.
Result<std::span<const uint8_t>> BzImagePayload(std::span<const uint8_t> file, const BzImage& image);
const char* PayloadCompression(std::span<const uint8_t> payload);

// The zero page for a kernel loaded at 1 MiB. Pure.
inline constexpr size_t kBootParamsSize = 4096;
inline constexpr uint64_t kE820TableOffset = 0x2d0;
inline constexpr uint64_t kE820EntriesOffset = 0x1e8;
inline constexpr size_t kE820Max = 128;
Result<std::vector<uint8_t>> BuildBootParams(const BzImage& image, uint64_t cmdline_addr, uint64_t cmdline_len,
                                              uint64_t initrd_addr, uint64_t initrd_size,
                                              std::span<const E820Entry> e820);

// Where the initramfs goes: the highest page-aligned address below both the
// kernel's limit and the end of low RAM, above the kernel. Pure.
Result<uint64_t> PlaceInitrd(const BzImage& image, uint64_t low_ram_end, uint64_t initrd_size);

// Loads kernel, initramfs, command line and zero page; returns the 64-bit entry.
Result<uint64_t> LoadLinux(GuestMemory& mem, std::span<const uint8_t> file, const BzImage& image,
                           std::span<const uint8_t> initrd, const std::string& cmdline,
                           std::span<const E820Entry> e820);

}  // namespace twinstep::host
