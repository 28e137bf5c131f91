// The supervisor's (firmware/) side of the node's sync port: in simulation the
// NIC's supervisor runs on the dataplane's poll thread and shares the sync
// port with the reliable link. Its priority frames (heartbeats, fences) are
// taken from the port by the pipeline's tap and queued here; what it sends
// goes straight out through the pipeline's sync transmitter. Poll thread only:
// no locks, no allocation.
#pragma once

#include <array>
#include <cstdint>

#include "dataplane/pipeline.h"
#include "firmware/sim/sim_nic.h"

namespace twinstep::replication {

class SupervisorLink final : public firmware::sim::LinkPort, public dataplane::PriorityFrameTap {
 public:
  static constexpr size_t kSlots = 32;
  static constexpr size_t kSlotBytes = 512;  // heartbeat and control frames are ~120 bytes

  void set_pipeline(dataplane::Pipeline* pipeline) { pipeline_ = pipeline; }

  // LinkPort (the supervisor)
  bool Send(std::span<const uint8_t> frame) override;
  size_t Receive(std::span<uint8_t> buf) override;
  // PriorityFrameTap (the pipeline)
  void OnPriorityFrame(std::span<const uint8_t> frame) override;

  uint64_t dropped() const { return dropped_; }

 private:
  struct Slot {
    uint16_t length = 0;
    std::array<uint8_t, kSlotBytes> bytes;
  };
  dataplane::Pipeline* pipeline_ = nullptr;
  std::array<Slot, kSlots> slots_;
  size_t head_ = 0, count_ = 0;
  uint64_t dropped_ = 0;  // frames too large or arriving while every slot is full
};

}  // namespace twinstep::replication
