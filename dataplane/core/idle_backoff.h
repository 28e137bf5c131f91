// Adaptive idle back-off for poll loops on shared cores: after a run of empty
// polls the loop sleeps, for longer each time it stays idle, and snaps back to
// busy polling on the first work. Pure: the caller performs the sleep.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace twinstep::dataplane {

struct IdleBackoffConfig {
  bool busy_poll = false;          // dedicated core: never sleep
  uint32_t spin_polls = 256;       // empty polls before the first sleep
  uint64_t min_sleep_ns = 20'000;  // first sleep (doorbells wake the loop for the guest and the peer)
  uint64_t max_sleep_ns = 200'000; // the sleep doubles up to this
};

class IdleBackoff {
 public:
  explicit IdleBackoff(const IdleBackoffConfig& config = {}) : config_(config) {}
  // Called after each poll with the work it did; returns how long to sleep now.
  uint64_t OnPoll(size_t work) {
    if (work > 0 || config_.busy_poll) {
      idle_polls_ = 0;
      sleep_ns_ = 0;
      return 0;
    }
    if (++idle_polls_ <= config_.spin_polls) return 0;
    sleep_ns_ = sleep_ns_ == 0 ? config_.min_sleep_ns : std::min(sleep_ns_ * 2, config_.max_sleep_ns);
    ++sleeps_;
    return sleep_ns_;
  }
  uint64_t sleeps() const { return sleeps_; }

 private:
  IdleBackoffConfig config_;
  uint32_t idle_polls_ = 0;
  uint64_t sleep_ns_ = 0;
  uint64_t sleeps_ = 0;
};

}  // namespace twinstep::dataplane
