// A wake-up between threads for loops that sleep when idle on shared cores:
// the sleeper arms the bell, looks at its queues once more and sleeps on an
// eventfd; a producer rings after publishing work and pays a system call only
// when the sleeper is armed, so a busy pair of threads never makes one.
// Any number of producers, one sleeper.
#pragma once

#include <atomic>
#include <cstdint>

namespace twinstep::dataplane {

class Doorbell {
 public:
  Doorbell();
  ~Doorbell();
  Doorbell(const Doorbell&) = delete;
  Doorbell& operator=(const Doorbell&) = delete;

  // --- the sleeper ---
  // Before the last look at the queues: from here a Ring wakes the next Wait
  // (or the fd polls readable). Clears what earlier rings left on the fd.
  void Arm();
  // The last look found work: no Wait follows.
  void Disarm() { armed_.store(false, std::memory_order_relaxed); }
  // Sleeps until rung or for timeout_ns; returns whether it was rung. Without
  // an eventfd (none could be made) it sleeps the whole timeout.
  bool Wait(uint64_t timeout_ns);
  // For a sleeper that polls several descriptors: readable once rung after Arm.
  int fd() const { return fd_; }

  // --- producers: after making work visible (a queue push) ---
  void Ring() {
    // Pairs with Arm's fence: either the sleeper's last look sees the work,
    // or this load sees the sleeper armed (Dekker's store-fence-load).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (armed_.load(std::memory_order_relaxed) && armed_.exchange(false, std::memory_order_relaxed)) Wake();
  }
  // Wake-ups a Ring caused (for statistics).
  uint64_t wakes() const { return wakes_.load(std::memory_order_relaxed); }

 private:
  void Wake();

  int fd_ = -1;
  alignas(64) std::atomic<bool> armed_{false};
  std::atomic<uint64_t> wakes_{0};
};

}  // namespace twinstep::dataplane
