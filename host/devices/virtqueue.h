// A split virtqueue (virtio 1.0, section 2.4) read and written in guest memory
// by the device side, with event-index notification suppression.
#pragma once

#include <cstdint>
#include <vector>

#include "host/memory.h"
#include "host/snapshot/codec.h"

namespace twinstep::host {

struct VirtqBuffer {
  uint8_t* host;  // inside guest RAM (checked)
  uint64_t gpa;
  uint32_t len;
  bool device_writes;
};

struct VirtqChain {
  uint16_t head = 0;
  std::vector<VirtqBuffer> bufs;
};

class Virtqueue {
 public:
  static constexpr uint16_t kMaxSize = 256;

  // Guest-programmed configuration (the common config's queue_* fields).
  uint16_t size = kMaxSize;
  bool enabled = false;
  uint64_t desc_gpa = 0, avail_gpa = 0, used_gpa = 0;

  // Maps the rings (checked to lie in RAM) keeping the positions. False if not.
  bool Activate(GuestMemory& mem, bool event_idx);
  bool active() const { return avail_ != nullptr; }
  void Reset();

  // Whether the driver has published a buffer we have not taken.
  bool HasAvailable() const;
  // Takes the next available chain; false if none. A malformed chain (a
  // descriptor outside RAM, a loop, indirect descriptors) sets broken().
  bool Pop(VirtqChain* chain);
  // Gives back the chain taken last, untouched (the device could not use it now).
  void Unpop() { --last_avail_; }
  // Returns a chain to the driver with the bytes written into it.
  void Push(uint16_t head, uint32_t written);
  // Whether the driver wants an interrupt for what was pushed since the last call.
  bool NeedInterrupt();
  // Polling: ask the driver never to notify. Otherwise ask for the next one.
  void SuppressNotifications(bool suppress);
  bool broken() const { return broken_; }

  uint16_t last_avail() const { return last_avail_; }
  uint16_t used_idx() const { return used_idx_; }

  void SaveState(ByteWriter& w) const;
  // Loads configuration and positions; Activate must follow when enabled.
  bool LoadState(ByteReader& r);

 private:
  GuestMemory* mem_ = nullptr;
  bool event_idx_ = false;
  uint8_t* desc_ = nullptr;
  uint8_t* avail_ = nullptr;
  uint8_t* used_ = nullptr;
  uint16_t last_avail_ = 0;
  uint16_t used_idx_ = 0;
  uint16_t signalled_used_ = 0;
  bool broken_ = false;
  bool suppress_ = false;
};

}  // namespace twinstep::host
