// Bus: an ordered map of ranges, read-locked on the access path.
#include "host/bus.h"

#include <cstring>
#include <mutex>
#include <string>

namespace twinstep::host {

Status Bus::Register(uint64_t base, uint64_t len, BusDevice* dev) {
  if (len == 0 || dev == nullptr || base + len < base) {
    return Fail(Errc::kDevice, std::string(name_) + " bus: empty or wrapping range at " + std::to_string(base));
  }
  std::unique_lock lock(mu_);
  auto next = ranges_.lower_bound(base);
  if (next != ranges_.end() && next->first < base + len) {
    return Fail(Errc::kDevice, std::string(name_) + " bus: range at " + std::to_string(base) + " overlaps one at " +
                                   std::to_string(next->first));
  }
  if (next != ranges_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second.len > base) {
      return Fail(Errc::kDevice, std::string(name_) + " bus: range at " + std::to_string(base) +
                                     " overlaps one at " + std::to_string(prev->first));
    }
  }
  ranges_.emplace(base, Range{len, dev});
  return {};
}

bool Bus::Unregister(uint64_t base) {
  std::unique_lock lock(mu_);
  return ranges_.erase(base) != 0;
}

BusDevice* Bus::Lookup(uint64_t addr, uint64_t n, uint64_t* offset) {
  auto it = ranges_.upper_bound(addr);
  if (it == ranges_.begin()) return nullptr;
  --it;
  const uint64_t off = addr - it->first;
  if (off >= it->second.len || n > it->second.len - off) return nullptr;
  *offset = off;
  return it->second.dev;
}

bool Bus::Read(uint64_t addr, std::span<uint8_t> data) {
  std::shared_lock lock(mu_);
  uint64_t off = 0;
  BusDevice* dev = Lookup(addr, data.size(), &off);
  if (dev == nullptr) {
    std::memset(data.data(), 0xff, data.size());
    unhandled_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  dev->Read(off, data);
  return true;
}

bool Bus::Write(uint64_t addr, std::span<const uint8_t> data) {
  std::shared_lock lock(mu_);
  uint64_t off = 0;
  BusDevice* dev = Lookup(addr, data.size(), &off);
  if (dev == nullptr) {
    unhandled_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  dev->Write(off, data);
  return true;
}

}  // namespace twinstep::host
