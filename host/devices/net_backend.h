// Where virtio-net's frames go and come from: one frame in, one frame out,
// never blocking, with back-pressure in the return value. Implemented by the
// TAP device, the loopback (tests) and the dataplane's guest port (SPSC
// queues); the device calls one backend from one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace twinstep::host {

enum class NetStatus : uint8_t {
  kOk,     // done
  kAgain,  // Send: the backend is full, retry later. Receive: no frame now.
  kError,  // the backend failed; the frame is dropped
};

class NetBackend {
 public:
  virtual ~NetBackend() = default;
  // Hands one Ethernet frame (no virtio header) to the outside; copies it.
  virtual NetStatus Send(std::span<const uint8_t> frame) = 0;
  // Copies the next incoming frame into buf and sets *len. A frame longer
  // than buf is dropped and reported as kError.
  virtual NetStatus Receive(std::span<uint8_t> buf, size_t* len) = 0;
  // A file descriptor that polls readable when Receive may have a frame, or -1
  // when the device must poll Receive.
  virtual int ReadableFd() const { return -1; }
  // Called by an idle device just before it sleeps on ReadableFd(): false when
  // a frame is already there (do not sleep). A backend whose fd is a doorbell
  // arms it here, so that the next frame wakes the device.
  virtual bool ArmReadable() { return true; }
};

}  // namespace twinstep::host
