// A synthetic, deterministic guest endpoint for dataplane tests and benchmarks:
// it answers every IPv4/UDP input with a reply whose payload depends only on the
// input and the flow's reply count, so two replicas fed the same inputs in the
// same order produce the same outputs (up to the fields the digest normalizes:
// the IP ID carries a per-replica salt). A test can tell it to diverge: the
// reply with a given output number gets one byte flipped.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "dataplane/guest_port.h"

namespace twinstep::dataplane {

class SyntheticGuest {
 public:
  SyntheticGuest(GuestPort* port, rte_mempool* pool, uint16_t ip_id_salt = 0) : port_(port), pool_(pool), salt_(ip_id_salt) {}

  // Answers what is waiting (back-pressure: stops while the TX queue is full).
  size_t Poll();
  // Corrupts the reply numbered `n` (0-based, across all flows); UINT64_MAX: never.
  void set_diverge_at(uint64_t n) { diverge_at_.store(n); }

  uint64_t inputs() const { return inputs_; }
  uint64_t outputs() const { return outputs_; }
  uint64_t ignored() const { return ignored_; }

 private:
  rte_mbuf* Reply(const rte_mbuf* in);
  // The flow's reply count, by open addressing (a node-based map cost more
  // than the rest of a reply); doubles at half full.
  uint64_t& FlowCount(uint64_t flow);
  GuestPort* port_;
  rte_mempool* pool_;
  uint16_t salt_;
  std::atomic<uint64_t> diverge_at_{UINT64_MAX};
  struct FlowSlot {
    uint64_t flow = 0, count = 0;
    bool used = false;
  };
  std::vector<FlowSlot> flow_slots_ = std::vector<FlowSlot>(64);
  size_t flows_ = 0;
  uint64_t inputs_ = 0, outputs_ = 0, ignored_ = 0;
};

}  // namespace twinstep::dataplane
