// The NIC in simulation (see sim_nic.h).
#include "firmware/sim/sim_nic.h"

#include <algorithm>
#include <chrono>

namespace twinstep::firmware::sim {

bool LoopbackLink::Port::Send(std::span<const uint8_t> frame) {
  if (link_.cut_.load()) return true;  // a cut link loses frames silently
  std::lock_guard<std::mutex> lock(link_.mu_);
  link_.queue_[1 - side_].emplace_back(frame.begin(), frame.end());
  return true;
}

size_t LoopbackLink::Port::Receive(std::span<uint8_t> buf) {
  std::lock_guard<std::mutex> lock(link_.mu_);
  auto& q = link_.queue_[side_];
  if (q.empty()) return 0;
  const size_t n = std::min(buf.size(), q.front().size());
  std::copy_n(q.front().begin(), n, buf.begin());
  q.pop_front();
  return n;
}

uint64_t SimNic::NowNs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

}  // namespace twinstep::firmware::sim
