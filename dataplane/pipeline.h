// The node's poll-mode pipeline (docs/dataplane.md), one object per node with
// a role that can change at run time:
//   primary:   client RX -> input stamp -> guest port + mirrored-input record on
//              the sync link; guest TX -> digest -> comparator (held); sync RX ->
//              the secondary's digest records -> comparator; verdicts -> client
//              TX, or a divergence event to the replication controller.
//   secondary: mirrored inputs -> guest port in input order (TCP acks
//              translated); guest TX -> digest records -> sync TX; never client TX.
//   solo:      client RX -> guest; guest TX -> client TX at once.
// PollOnce runs one round of every loop; Run polls until stopped with adaptive
// idle back-off. Nothing in PollOnce allocates, locks or makes a system call.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include <boost/lockfree/spsc_queue.hpp>

#include "common/digest.h"
#include "dataplane/comparator/comparator.h"
#include "dataplane/comparator/conformance.h"
#include "dataplane/core/idle_backoff.h"
#include "dataplane/core/sync_link.h"
#include "dataplane/core/tcp_translate.h"
#include "dataplane/eth_port.h"
#include "dataplane/guest_port.h"
#include "dataplane/sync_port.h"

namespace twinstep::dataplane {

enum class Role : uint8_t { kSolo = 1, kPrimary, kSecondary };
const char* RoleName(Role r);

// A divergence found by the primary's comparator (mismatch, missing
// counterpart or a memory bound), with both digests where both exist.
struct DivergenceEvent {
  compare::VerdictKind kind = compare::VerdictKind::kMismatch;
  uint64_t flow = 0;
  uint64_t out_seq = 0;
  uint32_t length = 0;
  uint64_t primary_digest = 0;
  uint64_t secondary_digest = 0;
  uint64_t epoch = 0;
  uint64_t now_ns = 0;
};

// Implemented by the replication controller (the lockstep issue). Called on
// the poll thread; must not block.
class ReplicationEvents {
 public:
  virtual ~ReplicationEvents() = default;
  virtual void OnDivergence(const DivergenceEvent& event) = 0;
  // Records for the controller: heartbeats, checkpoint begin/chunk/end, control.
  virtual void OnPeerRecord(const wire::Record& record, uint64_t epoch, uint64_t now_ns) = 0;
  // The peer's sync link started over (it restarted): what was in flight is gone.
  virtual void OnPeerRestart(uint64_t now_ns) { (void)now_ns; }
  // Called once per PollOnce on the poll thread, before the timers: the place
  // to send heartbeats, control records and checkpoint chunks (a
  // CheckpointSender's Pump) without locks. Returns the work done.
  virtual size_t OnPoll(SyncLink& link, uint64_t now_ns) {
    (void)link, (void)now_ns;
    return 0;
  }
};

// Takes the sync port's priority frames (heartbeats, fences) before the sync
// link sees them: in a node they belong to the supervisor (firmware/), which
// speaks on the same port. Called on the poll thread with the whole frame.
class PriorityFrameTap {
 public:
  virtual ~PriorityFrameTap() = default;
  virtual void OnPriorityFrame(std::span<const uint8_t> frame) = 0;
};

// Optional tracing hooks (tests, `twinstep status`); called on the poll thread.
class PipelineObserver {
 public:
  virtual ~PipelineObserver() = default;
  // Primary: a client packet was stamped; secondary: a mirrored input entered the guest.
  virtual void OnInput(uint64_t input_seq, const rte_mbuf* m) { (void)input_seq, (void)m; }
  // Primary: every comparator verdict, with the held packet when there is one.
  virtual void OnVerdict(const compare::Verdict& v, const rte_mbuf* m) { (void)v, (void)m; }
};

// The sync link as the pipeline runs it: a standalone ack waits up to 50 us
// for a data frame to ride on (the secondary's digest usually follows its
// input within microseconds), well inside the 500 us minimum retransmit timeout.
inline SyncLinkConfig PipelineSyncDefaults() {
  SyncLinkConfig c;
  c.ack_delay_ns = 50'000;
  return c;
}

struct PipelineConfig {
  Role role = Role::kSolo;
  uint32_t node_id = 0;
  uint16_t burst = 32;
  uint16_t guest_nic = 0;                        // MirroredInput.port
  SyncLinkConfig sync = PipelineSyncDefaults();  // local_mac is taken from the sync port
  uint8_t sync_peer_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  compare::ComparatorConfig comparator;
  uint64_t advance_interval_ns = 50'000;         // how often compare timeouts are checked
  uint64_t heartbeat_interval_ns = 0;            // 0: the controller sends heartbeats itself
  IdleBackoffConfig idle;
  uint32_t tcp_connections = 16384;
};

struct PipelineStats {
  uint64_t client_rx = 0;
  uint64_t inputs_stamped = 0;        // primary
  uint64_t inputs_to_guest = 0;
  uint64_t inputs_too_large = 0;      // client packets too big to mirror (dropped)
  uint64_t mirror_failures = 0;       // primary: the link refused a mirrored input (must stay 0)
  uint64_t mirrored_delivered = 0;    // secondary
  uint64_t input_seq_gaps = 0;        // secondary: mirrored input out of sequence (must stay 0)
  uint64_t guest_tx = 0;
  uint64_t released = 0;              // primary: verdict release
  uint64_t client_tx = 0;
  uint64_t client_tx_dropped = 0;
  uint64_t digests_sent = 0;          // secondary
  uint64_t records_received = 0;      // primary: digest records from the peer
  uint64_t divergences = 0;
  uint64_t overflow_drops = 0;        // outputs the comparator could not hold
  uint64_t secondary_client_rx_dropped = 0;
  uint64_t mbuf_alloc_failures = 0;
  uint64_t stale_records = 0;         // primary: digest records of another epoch (dropped)
  uint64_t gate_closed_polls = 0;     // polls that kept released outputs back: the release gate was closed
  uint64_t guest_backpressure = 0;    // polls that left client or sync input waiting for guest room
  uint64_t idle_sleeps = 0;
  uint64_t idle_wakeups = 0;          // sleeps a doorbell ended early (guest output, control work, the peer's frames)
};

class Pipeline final : public compare::VerdictSink, public RecordSink {
 public:
  // `sync` may be null (solo without a peer port). `comparator` null: software.
  Pipeline(const PipelineConfig& config, EthPort* client, EthPort* sync, GuestPort* guest, ReplicationEvents* events,
           const compare::ComparatorFactory& comparator = nullptr);
  ~Pipeline() override;

  // One round of every loop; returns the work done (packets and records).
  size_t PollOnce(uint64_t now_ns);
  // Polls until `stop`, sleeping by the adaptive back-off when idle; the
  // guest port's dataplane doorbell (guest output, Wake) ends a sleep early.
  void Run(const std::atomic<bool>& stop);

  // --- control: on the poll thread, or from one other thread through Post*. ---
  void SetRole(Role role, uint64_t now_ns);
  void SetEpoch(uint64_t epoch) { link_->set_epoch(epoch); }
  // After a checkpoint, both replicas start epoch `epoch` from one state and
  // number each flow's outputs from 0 again: the primary releases what it
  // held and takes a fresh comparator; the secondary sends what it has in the
  // old epoch, drops digests the window could not take, and clears its
  // digester and TCP offsets. The guest is paused. A primary given `fresh`
  // (from MakeComparator) swaps it in and hands the old one back through it,
  // so that building and freeing tables (tens of ms of page faults) stays off
  // the poll thread; without it the comparator is built here.
  void CheckpointDone(uint64_t epoch, uint64_t now_ns, std::unique_ptr<compare::Comparator>* fresh = nullptr);
  // A new comparator of this pipeline's kind and config, reporting to it;
  // callable from any thread.
  std::unique_ptr<compare::Comparator> MakeComparator() { return make_comparator_(config_.comparator, this); }
  // The release gate (the supervisor's): while closed, released outputs wait.
  void SetReleaseGate(bool open) { gate_open_ = open; }
  // Sends one frame of our own on the client port (a gratuitous ARP).
  bool SendClientFrame(std::span<const uint8_t> frame);
  void set_priority_tap(PriorityFrameTap* tap) { priority_tap_ = tap; }
  // The sync link's doorbell across a same-host link (a memif in simulation):
  // our sends ring the peer's, and an idle Run sleeps on ours too.
  void set_sync_bell(PeerBell* bell) {
    sync_bell_ = bell;
    if (sync_tx_) sync_tx_->set_bell(bell);
  }
  // A primary starting a checkpoint: its guest is paused while the
  // secondary's runs on until it hears of it, so records without their event
  // are expected; the checkpoint settles them. Until CheckpointDone or a role
  // change, no compare timeout runs.
  void SuspendCompareTimeouts() { timeouts_suspended_ = true; }
  // Runs the compare timeouts now (PollOnce also does, every advance_interval_ns).
  void AdvanceComparator(uint64_t now_ns) {
    now_ns_ = now_ns;
    comparator_->Advance(now_ns);
  }
  void PostRole(Role role) {
    commands_.push(Command{Command::kRole, role, 0});
    Wake();
  }
  void PostEpoch(uint64_t epoch) {
    commands_.push(Command{Command::kEpoch, Role::kSolo, epoch});
    Wake();
  }
  // Any thread, after handing the poll loop work: an idle loop wakes now
  // instead of at the end of its back-off sleep.
  void Wake() {
    if (guest_) guest_->dataplane_bell().Ring();
  }

  Role role() const { return role_; }
  SyncLink& sync_link() { return *link_; }
  SyncPortTx* sync_tx() { return sync_tx_.get(); }
  compare::Comparator& comparator() { return *comparator_; }
  TcpTranslator& tcp() { return tcp_; }
  const PipelineStats& stats() const { return stats_; }
  void set_observer(PipelineObserver* o) { observer_ = o; }
  // The replication controller, when it is made after the pipeline (before Run).
  void set_events(ReplicationEvents* events) { events_ = events; }
  // Flushes the sync link and the client TX queue (tests, shutdown).
  void Flush(uint64_t now_ns);

  // compare::VerdictSink
  void OnVerdict(const compare::Verdict& v) override;
  // RecordSink (the sync link's in-order delivery)
  void OnRecord(const wire::Record& record, uint64_t epoch, uint64_t now_ns) override;
  void OnPeerRestart(uint64_t now_ns) override;

 private:
  struct Command {
    enum Kind : uint8_t { kRole, kEpoch } kind;
    Role role;
    uint64_t epoch;
  };
  size_t PollClient(uint64_t now_ns);
  size_t PollGuestTx(uint64_t now_ns);
  size_t PollSync(uint64_t now_ns);
  void Timers(uint64_t now_ns);
  void QueueClientTx(rte_mbuf* m);
  size_t FlushClientTx();
  void DeliverToGuest(const wire::MirroredInput& in, uint64_t now_ns);
  bool SendDigest(const wire::OutputDigest& d, uint64_t now_ns);
  rte_mbuf* AllocInputMbuf();
  std::span<const uint8_t> View(const rte_mbuf* m);

  PipelineConfig config_;
  Role role_;
  EthPort* client_;
  EthPort* sync_;
  GuestPort* guest_;
  ReplicationEvents* events_;
  PipelineObserver* observer_ = nullptr;
  PriorityFrameTap* priority_tap_ = nullptr;
  PeerBell* sync_bell_ = nullptr;
  bool gate_open_ = true;
  std::unique_ptr<SyncPortTx> sync_tx_;
  std::unique_ptr<SyncLink> link_;
  compare::ComparatorFactory make_comparator_;
  bool timeouts_suspended_ = false;
  std::unique_ptr<compare::Comparator> comparator_;
  std::vector<digest::Digester::Slot> digester_slots_;
  digest::Digester digester_;  // the secondary's
  TcpTranslator tcp_;
  IdleBackoff backoff_;

  uint64_t next_input_seq_ = 0;      // primary: the next stamp
  uint64_t expect_input_seq_ = 0;    // secondary: the next mirrored input
  bool expect_known_ = false;        // secondary: expect_input_seq_ is set by a first input
  uint64_t now_ns_ = 0;              // this poll's time
  uint64_t last_advance_ns_ = 0;
  uint64_t last_heartbeat_ns_ = 0;

  // Primary: held outputs by comparator handle.
  std::vector<rte_mbuf*> held_;
  std::vector<uint32_t> held_free_;
  // Client TX queue (a ring): released outputs waiting for the port.
  std::vector<rte_mbuf*> tx_ring_;
  size_t tx_head_ = 0, tx_count_ = 0;
  // Secondary: digests the sync link's window could not take yet.
  std::vector<wire::OutputDigest> pending_digests_;
  size_t pending_head_ = 0;

  static constexpr size_t kMaxFrameBytes = 16384;  // jumbo frames, chained
  std::vector<uint8_t> scratch_;
  wire::Record scratch_record_;  // the one record PollClient and SendDigest fill
  // Secondary: mbufs for mirrored inputs, taken from the pool a burst at a
  // time; [kStash - stash_count_, kStash) are unused.
  static constexpr unsigned kStash = 32;
  rte_mbuf* stash_[kStash] = {};
  unsigned stash_count_ = 0;
  boost::lockfree::spsc_queue<Command> commands_{64};
  PipelineStats stats_;
};

}  // namespace twinstep::dataplane
