// What the replication controller needs of a guest: run it, stop it still,
// read its dirty pages, and move its whole state as an image. Two kinds: the
// KVM machine (the VMM, the product) and the soft guest (host/softguest/: a
// guest without a VM for machines where KVM is missing).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "host/error.h"
#include "host/memory.h"

namespace twinstep::replication {

class ReplicatedGuest {
 public:
  virtual ~ReplicatedGuest() = default;
  virtual host::GuestMemory& memory() = 0;
  // Cold start: loads the guest (not running yet).
  virtual host::Status Boot() = 0;
  // Runs it (after Boot, after a restore, after Pause).
  virtual host::Status Resume() = 0;
  // Stops it still: no guest code runs and no device touches its memory.
  virtual void Pause() = 0;
  // Frames written since the last call (guest and VMM writes).
  virtual host::Result<std::vector<uint64_t>> DirtyPages() = 0;
  // The state of a paused guest: the pages `gfns`, everything else it has
  // (vCPUs, devices) and `extra` as is.
  virtual host::Result<std::vector<uint8_t>> EncodeCheckpoint(std::span<const uint64_t> gfns,
                                                              std::span<const uint8_t> extra) = 0;
  // Loads such an image into a guest that is not running; checks it whole
  // first; the pages it writes are not reported by DirtyPages.
  virtual host::Status ApplyCheckpoint(std::span<const uint8_t> image, std::vector<uint8_t>* extra) = 0;
};

}  // namespace twinstep::replication
