// A doorbell across a same-host link (the simulation's memif sync link),
// after memif's own interrupt mode: each side has an "armed" flag in a small
// shared file and a Unix datagram socket; a sender that finds the peer armed
// clears the flag and sends the peer one byte, which wakes its poll loop. So a
// poll loop that sleeps on shared cores wakes when the peer sends instead of at
// the end of its back-off sleep, and a busy pair makes no system call for it.
// DPDK 22.11's memif PMD has no Rx interrupts (its rx_queue_intr_enable
// refuses); a NIC PMD that has them would take this place on hardware.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "common/expected.h"

namespace twinstep::dataplane {

class PeerBell {
 public:
  // `base`: a path both sides agree on (the memif socket's); side 0 or 1.
  // Creates <base>.bells (the flags) and binds <base>.bell<side>.
  static Expected<std::unique_ptr<PeerBell>, std::string> Open(const std::string& base, int side);
  ~PeerBell();
  PeerBell(const PeerBell&) = delete;
  PeerBell& operator=(const PeerBell&) = delete;

  // --- this side's sleeper (as Doorbell) ---
  // Clears what the peer sent and arms: from here its next send rings fd().
  void Arm();
  void Disarm() { mine_->store(false, std::memory_order_relaxed); }
  int fd() const { return fd_; }

  // --- this side's sender: after frames went out toward the peer ---
  void RingPeer() {
    std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with the peer's Arm
    if (peer_->load(std::memory_order_relaxed) && peer_->exchange(false, std::memory_order_relaxed)) Wake();
  }
  uint64_t rings() const { return rings_; }

 private:
  PeerBell() = default;
  void Wake();

  int fd_ = -1;
  void* map_ = nullptr;
  std::atomic<bool>* mine_ = nullptr;
  std::atomic<bool>* peer_ = nullptr;
  std::string my_path_, peer_path_;
  uint64_t rings_ = 0;
};

}  // namespace twinstep::dataplane
