// A NetBackend for tests and local use: frames the guest sends are kept for the
// test to take; frames the test injects are delivered to the guest. Bounded.
#pragma once

#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "host/devices/net_backend.h"

namespace twinstep::host {

class LoopbackBackend : public NetBackend {
 public:
  explicit LoopbackBackend(size_t capacity = 256) : capacity_(capacity) {}
  NetStatus Send(std::span<const uint8_t> frame) override;
  NetStatus Receive(std::span<uint8_t> buf, size_t* len) override;

  // Test side: injects a frame for the guest (false if full) and takes one sent.
  bool Inject(std::span<const uint8_t> frame);
  std::optional<std::vector<uint8_t>> TakeSent();
  // With echo on, every frame the guest sends comes straight back to it.
  void set_echo(bool on);

 private:
  size_t capacity_;
  std::mutex mu_;
  bool echo_ = false;
  std::deque<std::vector<uint8_t>> to_guest_;
  std::deque<std::vector<uint8_t>> from_guest_;
};

}  // namespace twinstep::host
