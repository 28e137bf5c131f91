// The VMM's virtio-net backend over the dataplane's guest port: the device
// thread's Send becomes a guest-TX mbuf and Receive takes the next mbuf the
// dataplane queued for the guest. Copies once each way; a full queue is
// back-pressure (kAgain), never a drop.
#pragma once

#include "dataplane/guest_port.h"
#include "host/devices/net_backend.h"

namespace twinstep::dataplane {

class GuestNetBackend final : public host::NetBackend {
 public:
  explicit GuestNetBackend(GuestPort* port) : port_(port) {}
  host::NetStatus Send(std::span<const uint8_t> frame) override;
  host::NetStatus Receive(std::span<uint8_t> buf, size_t* len) override;

  uint64_t oversized() const { return oversized_; }

 private:
  GuestPort* port_;
  uint64_t oversized_ = 0;
};

}  // namespace twinstep::dataplane
