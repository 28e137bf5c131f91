// The debug-exit port (QEMU's isa-debug-exit at 0x501): a guest write of v
// stops the VM with exit code v, so tests and guests end without a reset.
#pragma once

#include <functional>

#include "host/bus.h"

namespace twinstep::host {

inline constexpr uint16_t kDebugExitPort = 0x501;
inline constexpr uint16_t kDebugExitLen = 4;  // takes 8-, 16- and 32-bit writes

class DebugExit : public BusDevice {
 public:
  explicit DebugExit(std::function<void(uint32_t code)> on_exit) : on_exit_(std::move(on_exit)) {}
  void Read(uint64_t, std::span<uint8_t> data) override;
  void Write(uint64_t, std::span<const uint8_t> data) override;

 private:
  std::function<void(uint32_t)> on_exit_;
};

}  // namespace twinstep::host
