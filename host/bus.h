// The port-I/O and MMIO buses: address ranges mapped to per-device handlers.
#pragma once

#include <cstdint>
#include <map>
#include <shared_mutex>
#include <span>
#include <atomic>

#include "host/error.h"

namespace twinstep::host {

// A device's view of an access: offset from the start of its range. Handlers
// are called from vCPU threads; a device shared between vCPUs locks itself.
class BusDevice {
 public:
  virtual ~BusDevice() = default;
  virtual void Read(uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void Write(uint64_t offset, std::span<const uint8_t> data) = 0;
};

class Bus {
 public:
  explicit Bus(const char* name) : name_(name) {}
  // Fails on an empty range or one overlapping a registered range.
  Status Register(uint64_t base, uint64_t len, BusDevice* dev);
  // Removes the range starting at base; false if none does.
  bool Unregister(uint64_t base);
  // Dispatches an access; false (and a read of all ones) where no device sits.
  bool Read(uint64_t addr, std::span<uint8_t> data);
  bool Write(uint64_t addr, std::span<const uint8_t> data);
  uint64_t unhandled() const { return unhandled_.load(std::memory_order_relaxed); }

 private:
  struct Range {
    uint64_t len;
    BusDevice* dev;
  };
  // The device whose range holds [addr, addr + n), with *offset set.
  BusDevice* Lookup(uint64_t addr, uint64_t n, uint64_t* offset);

  const char* name_;
  std::shared_mutex mu_;
  std::map<uint64_t, Range> ranges_;  // keyed by base
  std::atomic<uint64_t> unhandled_{0};
};

}  // namespace twinstep::host
