// The KVM machine as a replicated guest (see kvm_guest.h).
#include "host/replication/kvm_guest.h"

#include "host/replication/state_image.h"

namespace twinstep::replication {

host::Result<std::vector<uint8_t>> KvmGuest::EncodeCheckpoint(std::span<const uint64_t> gfns,
                                                              std::span<const uint8_t> extra) {
  return host::EncodeCheckpoint(machine_, gfns, extra);
}

host::Status KvmGuest::ApplyCheckpoint(std::span<const uint8_t> image, std::vector<uint8_t>* extra) {
  return host::ApplyCheckpoint(machine_, image, extra);
}

}  // namespace twinstep::replication
