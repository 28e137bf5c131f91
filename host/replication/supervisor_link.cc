// The supervisor's share of the sync port (see supervisor_link.h).
#include "host/replication/supervisor_link.h"

#include <algorithm>
#include <cstring>

namespace twinstep::replication {

bool SupervisorLink::Send(std::span<const uint8_t> frame) {
  if (!pipeline_ || !pipeline_->sync_tx()) return false;
  return pipeline_->sync_tx()->Transmit(frame);
}

size_t SupervisorLink::Receive(std::span<uint8_t> buf) {
  if (count_ == 0) return 0;
  const Slot& s = slots_[head_];
  const size_t n = std::min<size_t>(s.length, buf.size());
  std::memcpy(buf.data(), s.bytes.data(), n);
  head_ = (head_ + 1) % kSlots;
  --count_;
  return n;
}

void SupervisorLink::OnPriorityFrame(std::span<const uint8_t> frame) {
  if (count_ == kSlots || frame.size() > kSlotBytes) {
    ++dropped_;  // the supervisor counts the heartbeat as missing; the next one comes
    return;
  }
  Slot& s = slots_[(head_ + count_) % kSlots];
  s.length = static_cast<uint16_t>(frame.size());
  std::memcpy(s.bytes.data(), frame.data(), frame.size());
  ++count_;
}

}  // namespace twinstep::replication
