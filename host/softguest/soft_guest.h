// The soft guest: a guest without a VM, for machines where KVM is missing
// (this project's build machines run inside a KVM guest that cannot nest).
// It speaks what the test guest speaks on the network — ARP, ICMP echo, UDP
// echo on port 7 and memcached's ASCII protocol over UDP on 11211 — from one
// thread, deterministically, and keeps its whole state (the key-value store)
// in a GuestMemory, so that the replication controller checkpoints, moves and
// repairs it exactly as it does a VM's RAM. It does not exercise the VMM
// (vCPUs, virtio, KVM's dirty log): that is what the test guest on KVM is for.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <condition_variable>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "host/devices/net_backend.h"
#include "host/memory.h"
#include "host/replication/guest.h"

namespace twinstep::softguest {

struct SoftGuestConfig {
  uint64_t mem_bytes = 64ull << 20;
  uint8_t mac[6] = {0x52, 0x54, 0x00, 0x77, 0x00, 0x10};
  uint32_t ip = 0x0A4D000A;  // 10.77.0.10, host order
};

// Counters (the guest thread writes, anyone reads).
struct SoftGuestCounters {
  std::atomic<uint64_t> frames_in{0}, frames_out{0}, requests{0}, bad_frames{0};
};

class SoftGuest final : public replication::ReplicatedGuest {
 public:
  static constexpr size_t kSlots = 4096;
  static constexpr size_t kSlotBytes = 2048;
  static constexpr size_t kKeyMax = 250;
  static constexpr size_t kValueMax = 1400;

  // `net` is not owned; only the guest thread calls it while running.
  static host::Result<std::unique_ptr<SoftGuest>> Create(const SoftGuestConfig& config, host::NetBackend* net);
  ~SoftGuest() override;

  host::GuestMemory& memory() override { return *memory_; }
  host::Status Boot() override;
  host::Status Resume() override;
  void Pause() override;
  host::Result<std::vector<uint64_t>> DirtyPages() override { return memory_->CollectDirty(); }
  host::Result<std::vector<uint8_t>> EncodeCheckpoint(std::span<const uint64_t> gfns,
                                                      std::span<const uint8_t> extra) override;
  host::Status ApplyCheckpoint(std::span<const uint8_t> image, std::vector<uint8_t>* extra) override;

  const SoftGuestCounters& counters() const { return counters_; }
  // One frame in, the replies out through `reply` (the guest thread's work;
  // public for tests).
  void Handle(std::span<const uint8_t> frame, std::vector<std::vector<uint8_t>>& replies);

 private:
  explicit SoftGuest(const SoftGuestConfig& config, host::NetBackend* net) : config_(config), net_(net) {}
  void Run();
  // Idle: sleeps until the network backend has a frame or Pause/quit kicks.
  void Idle();
  void Kick();
  void HandleArp(std::span<const uint8_t> f, std::vector<std::vector<uint8_t>>& replies);
  void HandleIpv4(std::span<const uint8_t> f, std::vector<std::vector<uint8_t>>& replies);
  std::string Memcached(std::string_view request);
  // The store, in guest memory.
  uint8_t* Slot(size_t i) const;
  long Find(std::string_view key) const;
  void Store(size_t slot, std::string_view key, uint32_t flags, std::string_view value);
  void Erase(size_t slot);

  SoftGuestConfig config_;
  host::NetBackend* net_;
  std::unique_ptr<host::GuestMemory> memory_;
  SoftGuestCounters counters_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool run_ = false;      // wanted state
  bool running_ = false;  // the thread is inside its loop (not parked)
  bool quit_ = false;
  std::atomic<bool> pause_requested_{false};
  int kick_fd_ = -1;  // wakes the idle guest thread for Pause and shutdown
};

}  // namespace twinstep::softguest
