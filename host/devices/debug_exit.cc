// DebugExit: reads as all ones, a write ends the run with its value.
#include "host/devices/debug_exit.h"

#include <algorithm>
#include <cstring>

namespace twinstep::host {

void DebugExit::Read(uint64_t, std::span<uint8_t> data) { std::memset(data.data(), 0xff, data.size()); }

void DebugExit::Write(uint64_t, std::span<const uint8_t> data) {
  uint32_t v = 0;
  std::memcpy(&v, data.data(), std::min<size_t>(data.size(), sizeof v));
  on_exit_(v);
}

}  // namespace twinstep::host
