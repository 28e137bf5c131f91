// LoopbackBackend: two bounded queues under a mutex.
#include "host/devices/loopback_backend.h"

#include <cstring>

namespace twinstep::host {

NetStatus LoopbackBackend::Send(std::span<const uint8_t> frame) {
  std::lock_guard l(mu_);
  auto& q = echo_ ? to_guest_ : from_guest_;
  if (q.size() >= capacity_) return NetStatus::kAgain;
  q.emplace_back(frame.begin(), frame.end());
  return NetStatus::kOk;
}

NetStatus LoopbackBackend::Receive(std::span<uint8_t> buf, size_t* len) {
  std::lock_guard l(mu_);
  if (to_guest_.empty()) return NetStatus::kAgain;
  std::vector<uint8_t> f = std::move(to_guest_.front());
  to_guest_.pop_front();
  if (f.size() > buf.size()) return NetStatus::kError;
  std::memcpy(buf.data(), f.data(), f.size());
  *len = f.size();
  return NetStatus::kOk;
}

bool LoopbackBackend::Inject(std::span<const uint8_t> frame) {
  std::lock_guard l(mu_);
  if (to_guest_.size() >= capacity_) return false;
  to_guest_.emplace_back(frame.begin(), frame.end());
  return true;
}

std::optional<std::vector<uint8_t>> LoopbackBackend::TakeSent() {
  std::lock_guard l(mu_);
  if (from_guest_.empty()) return std::nullopt;
  std::vector<uint8_t> f = std::move(from_guest_.front());
  from_guest_.pop_front();
  return f;
}

void LoopbackBackend::set_echo(bool on) {
  std::lock_guard l(mu_);
  echo_ = on;
}

}  // namespace twinstep::host
