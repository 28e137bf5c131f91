// The PVH boot protocol: an ELF kernel with a XEN_ELFNOTE_PHYS32_ENTRY note,
// entered in 32-bit protected mode with %ebx = hvm_start_info (command line
// and memory map). The test guest boots this way, as under QEMU's -kernel.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "host/boot/e820.h"
#include "host/error.h"
#include "host/memory.h"

namespace twinstep::host {

inline constexpr uint32_t kXenElfnotePhys32Entry = 18;
inline constexpr uint32_t kHvmStartMagic = 0x336ec578;

struct ElfSegment {
  uint64_t paddr;
  uint64_t offset;  // in the file
  uint64_t filesz;
  uint64_t memsz;
};

struct PvhImage {
  std::vector<ElfSegment> segments;
  uint32_t entry32 = 0;  // from the PVH note
};

// Parses an ELF32 or ELF64 x86 image: its PT_LOAD segments (checked against
// the file) and the PVH entry from a PT_NOTE. Pure.
Result<PvhImage> ParsePvhElf(std::span<const uint8_t> file);

// hvm_start_info version 1 and its memmap entries, as the guest reads them.
struct HvmStartInfo {
  uint32_t magic;
  uint32_t version;
  uint32_t flags;
  uint32_t nr_modules;
  uint64_t modlist_paddr;
  uint64_t cmdline_paddr;
  uint64_t rsdp_paddr;
  uint64_t memmap_paddr;
  uint32_t memmap_entries;
  uint32_t reserved;
};
static_assert(sizeof(HvmStartInfo) == 56);
struct HvmMemmapEntry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
  uint32_t reserved;
};
static_assert(sizeof(HvmMemmapEntry) == 24);

// Loads the segments, writes the command line, the start info and the memmap
// into guest memory; returns the 32-bit entry point. Segments must lie in RAM.
Result<uint32_t> LoadPvh(GuestMemory& mem, std::span<const uint8_t> file, const PvhImage& image,
                         const std::string& cmdline, std::span<const E820Entry> e820);

}  // namespace twinstep::host
