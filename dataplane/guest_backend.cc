// virtio-net backend over the guest port (see guest_backend.h).
#include "dataplane/guest_backend.h"

#include <cstring>

namespace twinstep::dataplane {

host::NetStatus GuestNetBackend::Send(std::span<const uint8_t> frame) {
  if (port_->GuestTransmitRoom() == 0) return host::NetStatus::kAgain;
  if (frame.size() > UINT16_MAX) return host::NetStatus::kError;
  rte_mbuf* m = rte_pktmbuf_alloc(port_->pool());
  if (m == nullptr) return host::NetStatus::kAgain;  // the pool refills as the dataplane sends
  char* dst = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
  if (dst == nullptr) {
    rte_pktmbuf_free(m);
    ++oversized_;
    return host::NetStatus::kError;
  }
  std::memcpy(dst, frame.data(), frame.size());
  if (port_->GuestTransmit(&m, 1) != 1) {  // only this thread produces: cannot happen after the room check
    rte_pktmbuf_free(m);
    return host::NetStatus::kAgain;
  }
  return host::NetStatus::kOk;
}

host::NetStatus GuestNetBackend::Receive(std::span<uint8_t> buf, size_t* len) {
  rte_mbuf* m = nullptr;
  if (port_->GuestReceive(&m, 1) != 1) return host::NetStatus::kAgain;
  const size_t n = rte_pktmbuf_pkt_len(m);
  if (n > buf.size()) {
    rte_pktmbuf_free(m);
    ++oversized_;
    return host::NetStatus::kError;
  }
  // rte_pktmbuf_read copies across segments when the packet has several.
  const void* p = rte_pktmbuf_read(m, 0, static_cast<uint32_t>(n), buf.data());
  if (p != buf.data()) std::memcpy(buf.data(), p, n);
  *len = n;
  rte_pktmbuf_free(m);
  return host::NetStatus::kOk;
}

}  // namespace twinstep::dataplane
