// The supervisor's hardware abstraction: the only way firmware code touches the
// NIC. Implemented by the card's runtime, by the simulation and by tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace twinstep::firmware {

struct TransitionRecord;

class Hal {
 public:
  // Monotonic nanoseconds; never goes backwards.
  virtual uint64_t NowNs() = 0;
  // 32-bit control/status registers (byte offsets in firmware/regs.h).
  virtual uint32_t ReadReg(uint32_t offset) = 0;
  virtual void WriteReg(uint32_t offset, uint32_t value) = 0;
  // The host's doorbell: a counter the host bumps while it is alive.
  virtual uint32_t Doorbell() = 0;
  // The sync link, one Ethernet frame per call. Send returns false when the
  // port took nothing (counted by the caller); Receive returns the frame's
  // length, 0 when nothing is waiting.
  virtual bool LinkSend(std::span<const uint8_t> frame) = 0;
  virtual size_t LinkReceive(std::span<uint8_t> buf) = 0;
  // Called for every role transition; a card prints it on its debug UART.
  virtual void OnTransition(const TransitionRecord& /*record*/) {}

 protected:
  ~Hal() = default;  // never deleted through the interface (no heap in firmware)
};

}  // namespace twinstep::firmware
