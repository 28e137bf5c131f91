// The witness the host asks before its NIC may fail over: one owner per epoch
// of the pair, decided by a compare-and-swap (docs/failover.md). Host side.
#pragma once

#include <cstdint>

#include "common/expected.h"
#include "firmware/role.h"

namespace twinstep::witness {

enum class WitnessError : uint8_t {
  kUnreachable = 1,  // no connection to etcd
  kTimeout,          // etcd did not answer in time (the request may still have applied)
  kHttpStatus,       // etcd answered with an HTTP error
  kBadResponse,      // etcd's answer was not what the v3 API promises
  kLeaseNotFound,    // our lease expired
};
const char* WitnessErrorMessage(WitnessError e);

// The witness's answer. Denied: `epoch`/`owner` say who holds the newer epoch.
struct Decision {
  bool granted = false;
  uint64_t epoch = 0;  // granted: our new epoch; denied: the stored epoch
  uint32_t owner = 0;  // the node the stored epoch belongs to
  bool owner_live = false;  // the owner's lease is alive
};

class Witness {
 public:
  virtual ~Witness() = default;
  // Asks to own the pair at epoch + 1. An error is no answer: ask again later;
  // it never means granted or denied.
  virtual Expected<Decision, WitnessError> Arbitrate(uint32_t node_id, firmware::ArbitrationKind kind,
                                                     uint64_t epoch) = 0;
  // Renews our lease; returns its remaining seconds.
  virtual Expected<int64_t, WitnessError> KeepAlive() = 0;
  // Gives our lease up at once (a stopped or fenced node is not live): the
  // owner key on it goes with it. The next request takes a new lease.
  virtual Expected<void, WitnessError> Release() = 0;
};

}  // namespace twinstep::witness
