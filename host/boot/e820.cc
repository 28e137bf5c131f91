// BuildE820: the memory map given to both boot protocols.
#include "host/boot/e820.h"

#include "host/boot/layout.h"

namespace twinstep::host {

std::vector<E820Entry> BuildE820(std::span<const MemRegion> regions) {
  std::vector<E820Entry> map;
  for (const MemRegion& r : regions) {
    if (r.gpa == 0) {
      map.push_back({0, layout::kEbdaStart, kE820Ram});
      map.push_back({layout::kEbdaStart, layout::kHighStart - layout::kEbdaStart, kE820Reserved});
      if (r.size > layout::kHighStart) map.push_back({layout::kHighStart, r.size - layout::kHighStart, kE820Ram});
    } else {
      map.push_back({r.gpa, r.size, kE820Ram});
    }
  }
  return map;
}

}  // namespace twinstep::host
