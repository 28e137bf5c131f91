// The guest port: the packet path between the dataplane's poll loop and the
// VMM's virtio-net device, as two single-producer single-consumer lock-free
// queues of mbuf pointers (Boost.Lockfree). The dataplane thread owns one end
// of each queue and the VMM's device thread the other; nothing locks. A full
// queue pushes back (the producer keeps its packets) instead of dropping.
// Each side has a doorbell, rung by a push into the queue it reads, so that
// an idle side can sleep instead of polling (on shared cores) and still wake
// at once: the guest side sleeps on guest_bell(), the poll loop on
// dataplane_bell() (which the replication controller rings too).
// Independent of host/: the VMM adapts it to its NetBackend interface.
#pragma once

#include <cstddef>
#include <cstdint>

#include <boost/lockfree/spsc_queue.hpp>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include "dataplane/core/doorbell.h"

namespace twinstep::dataplane {

// Every packet for the guest carries its input sequence number in an mbuf
// dynamic field, so that the VMM's backend can skip inputs a checkpoint already
// holds and replay those its guest consumed past one (docs/replication.md).
inline constexpr uint64_t kNoInputSeq = UINT64_MAX;
inline constexpr const char* kInputSeqFieldName = "twinstep_input_seq";
// The field's offset in the mbuf, registered by InitEal.
extern int g_input_seq_offset;
inline uint64_t InputSeq(const rte_mbuf* m) { return *RTE_MBUF_DYNFIELD(m, g_input_seq_offset, const uint64_t*); }
inline void SetInputSeq(rte_mbuf* m, uint64_t seq) { *RTE_MBUF_DYNFIELD(m, g_input_seq_offset, uint64_t*) = seq; }

class GuestPort {
 public:
  explicit GuestPort(size_t depth = 1024) : to_guest_(depth), from_guest_(depth), pool_(nullptr) {}
  explicit GuestPort(rte_mempool* pool, size_t depth = 1024) : to_guest_(depth), from_guest_(depth), pool_(pool) {}

  // --- dataplane side (the poll loop) ---
  size_t ToGuestRoom() const { return to_guest_.write_available(); }
  // EnqueueBurst: returns how many went in; the caller keeps the rest.
  size_t PushToGuest(rte_mbuf* const* pkts, size_t n) {
    const size_t pushed = to_guest_.push(pkts, n);
    if (pushed) guest_bell_.Ring();
    return pushed;
  }
  size_t PopFromGuest(rte_mbuf** pkts, size_t n) { return from_guest_.pop(pkts, n); }
  size_t FromGuestPending() const { return from_guest_.read_available(); }

  // --- guest side (the VMM's device thread) ---
  // Packets for the guest's receive queue.
  size_t GuestReceive(rte_mbuf** pkts, size_t n) { return to_guest_.pop(pkts, n); }
  size_t GuestReceivePending() const { return to_guest_.read_available(); }
  // Packets the guest transmitted; returns how many were taken (back-pressure).
  size_t GuestTransmit(rte_mbuf* const* pkts, size_t n) {
    const size_t pushed = from_guest_.push(pkts, n);
    if (pushed) dataplane_bell_.Ring();
    return pushed;
  }
  size_t GuestTransmitRoom() const { return from_guest_.write_available(); }
  // The pool the guest side allocates its transmit mbufs from (thread-safe).
  rte_mempool* pool() const { return pool_; }

  // What wakes the guest side (rung by PushToGuest) and the poll loop (rung
  // by GuestTransmit and by whoever else hands the loop work).
  Doorbell& guest_bell() { return guest_bell_; }
  Doorbell& dataplane_bell() { return dataplane_bell_; }

 private:
  // Producer and consumer indices of each queue live on their own cache lines
  // inside boost::lockfree::spsc_queue.
  boost::lockfree::spsc_queue<rte_mbuf*> to_guest_;
  boost::lockfree::spsc_queue<rte_mbuf*> from_guest_;
  rte_mempool* pool_;
  Doorbell guest_bell_;
  Doorbell dataplane_bell_;
};

}  // namespace twinstep::dataplane
