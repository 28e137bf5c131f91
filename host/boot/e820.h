// The guest's physical memory map (e820 / PVH memmap), built from the RAM
// regions: pure, so the Linux test can compare what the kernel prints to it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "host/memory.h"

namespace twinstep::host {

enum E820Type : uint32_t { kE820Ram = 1, kE820Reserved = 2 };

struct E820Entry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
};

// RAM below the EBDA, the EBDA/VGA/BIOS hole reserved, RAM from 1 MiB, and
// RAM above 4 GiB when there is any.
std::vector<E820Entry> BuildE820(std::span<const MemRegion> regions);

}  // namespace twinstep::host
