// The VMM's virtio-net backend over the dataplane's guest port: the device
// thread's Send becomes a guest-TX mbuf and Receive takes the next mbuf the
// dataplane queued for the guest. Copies once each way; a full queue is
// back-pressure (kAgain), never a drop.
//
// For checkpoints it also keeps the input side of the guest's state: the next
// input number the guest has not seen, inputs taken from the port but not yet
// given to the guest, and (on a secondary) the inputs its guest consumed since
// the last checkpoint, so that a restored replica gets every input exactly
// once whether it was behind or ahead of the primary (docs/replication.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "common/expected.h"
#include "dataplane/guest_port.h"
#include "host/devices/net_backend.h"

namespace twinstep::dataplane {

class GuestNetBackend final : public host::NetBackend {
 public:
  // Inputs a secondary remembers between checkpoints; past this it counts
  // log_overflows() and a restore may miss inputs (the controller checkpoints
  // well before).
  static constexpr size_t kDefaultLogLimit = 16384;

  explicit GuestNetBackend(GuestPort* port) : port_(port) {}
  host::NetStatus Send(std::span<const uint8_t> frame) override;
  host::NetStatus Receive(std::span<uint8_t> buf, size_t* len) override;
  // The guest port's guest-side doorbell: a device sleeps until the dataplane
  // queues a frame for it.
  int ReadableFd() const override { return port_->guest_bell().fd(); }
  bool ArmReadable() override;

  // --- checkpoints: only while the device is quiesced or not started ---
  // Moves what waits in the guest port into the backend (the controller's
  // thread acts as the queue's consumer while the device thread is still).
  void TakeQueued();
  // next input number + the inputs taken but not given to the guest.
  std::vector<uint8_t> SaveState() const;
  // Takes a primary's SaveState: its pending inputs first, then this
  // replica's own inputs numbered from the primary's next one on (consumed
  // since the last checkpoint, or taken). The log starts over. Checks the
  // whole blob before changing anything.
  Expected<void, std::string> LoadState(std::span<const uint8_t> state);
  // A secondary keeps what its guest consumed since the last checkpoint.
  // Any thread: the device thread reads it for each input.
  void set_keep_log(bool keep) { keep_log_.store(keep, std::memory_order_relaxed); }
  void ClearLog() { log_.clear(); }

  GuestPort* port() const { return port_; }
  uint64_t next_input_seq() const { return next_seq_; }
  size_t pending() const { return pending_.size(); }
  uint64_t oversized() const { return oversized_; }
  uint64_t skipped() const { return skipped_; }
  uint64_t log_overflows() const { return log_overflows_; }

 private:
  struct Input {
    uint64_t seq = kNoInputSeq;
    std::vector<uint8_t> bytes;
  };
  // Whether an input numbered `seq` is new (and counts it as seen).
  bool Admit(uint64_t seq);
  void Consumed(Input&& in);

  GuestPort* port_;
  uint64_t next_seq_ = 0;
  std::deque<Input> pending_;
  std::deque<Input> log_;
  std::atomic<bool> keep_log_{false};
  size_t log_limit_ = kDefaultLogLimit;
  uint64_t oversized_ = 0;
  uint64_t skipped_ = 0;
  uint64_t log_overflows_ = 0;
};

}  // namespace twinstep::dataplane
