// The replication controller (docs/replication.md): one per node, between the
// VMM, the dataplane and the supervisor. It starts the node (join a running
// peer by live state transfer, or cold-start through the witness), runs
// lockstep checkpoints (on divergence, on a period, on a dirty-page bound),
// and follows the supervisor's roles: failover to solo, fencing.
//
// Two threads: the control thread runs Run() (it pauses the guest, encodes
// and applies state: slow, blocking work); the dataplane's poll thread calls
// the ReplicationEvents hooks, which only queue. Between them, two lock-free
// SPSC queues: messages up (peer records, finished transfers, divergences),
// tasks down (sends, role and epoch changes the pipeline must see in order).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/lockfree/spsc_queue.hpp>

#include "dataplane/core/doorbell.h"
#include "dataplane/core/checkpoint_transfer.h"
#include "dataplane/guest_backend.h"
#include "dataplane/pipeline.h"
#include "firmware/sim/sim_node.h"
#include "host/replication/guest.h"
#include "host/replication/dirty_set.h"
#include "host/replication/event_log.h"

namespace twinstep::replication {

enum class StartMode : uint8_t {
  kAuto,       // join the peer if it answers within the probe time, else cold-start
  kColdStart,  // never join: ask the witness for a cold start
  kJoinOnly,   // wait for a peer to join, however long
};

struct ControllerConfig {
  std::string name = "node";
  uint32_t node_id = 1;
  StartMode start = StartMode::kAuto;
  uint64_t join_probe_ns = 1'000'000'000;
  uint64_t checkpoint_period_ns = 100'000'000;  // 0: no periodic checkpoints
  uint64_t dirty_page_bound = 16384;            // 0: no bound
  uint64_t checkpoint_timeout_ns = 5'000'000'000;  // a checkpoint step unanswered this long: the peer's host is dead
  uint32_t precopy_max_rounds = 8;              // join: dirty rounds before the stop-and-copy
  uint64_t precopy_stop_pages = 256;            // join: stop-and-copy once a round is this small
  uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x77, 0x00, 0x10};
  uint32_t guest_ip = 0x0A4D000A;               // 10.77.0.10
};

// Why Run() ended.
enum class StopReason : uint8_t { kRequested, kFenced, kFatal };

class Controller final : public dataplane::ReplicationEvents {
 public:
  Controller(const ControllerConfig& config, ReplicatedGuest& guest, dataplane::Pipeline& pipeline,
             dataplane::GuestNetBackend& backend, firmware::sim::SimNode& firmware, EventLog& log);
  ~Controller() override;

  // The control thread. Returns when `stop` is set (kRequested), when the
  // supervisor fences or stops this node (kFenced), or on an error that
  // leaves no safe way on (kFatal, *error says what).
  StopReason Run(const std::atomic<bool>& stop, std::string* error);
  // A control-socket request line; returns one JSON reply line. Any thread.
  std::string HandleRequest(const std::string& request);
  // The host loop's bell (it runs the witness agent): rung from the poll
  // thread when the supervisor's role or witness request changes. Set before Run.
  void set_host_bell(dataplane::Doorbell* bell) { host_bell_ = bell; }

  // --- ReplicationEvents: the poll thread ---
  void OnDivergence(const dataplane::DivergenceEvent& event) override;
  void OnPeerRecord(const wire::Record& record, uint64_t epoch, uint64_t now_ns) override;
  void OnPeerRestart(uint64_t now_ns) override;
  size_t OnPoll(dataplane::SyncLink& link, uint64_t now_ns) override;

 private:
  // Poll thread -> control thread.
  struct Message {
    enum Kind : uint8_t { kControl, kBulk, kBulkFailed, kDivergence, kPeerRestart } kind = kControl;
    wire::Control control;
    wire::CheckpointKind bulk_kind = wire::CheckpointKind::kPeriodic;
    std::vector<uint8_t> data;
    dataplane::DivergenceEvent divergence;
    std::string error;
  };
  // Control thread -> poll thread: runs there, in order, with the poll's time.
  using Task = std::function<void(uint64_t now_ns)>;
  // One item of the poll thread's ordered send queue.
  struct Outgoing {
    wire::Control control;
    std::shared_ptr<const std::vector<uint8_t>> bulk;  // null: a control record
    wire::CheckpointKind bulk_kind = wire::CheckpointKind::kPeriodic;
    std::unique_ptr<dataplane::CheckpointSender> sender;
  };

  // --- poll thread ---
  // Hands a message to the control thread and wakes it.
  void Deliver(Message* m);

  // --- control thread ---
  void Post(Task task);
  void PostAndWait(Task task);
  void Send(wire::ControlOp op, uint64_t arg0 = 0, uint64_t arg1 = 0);
  // Waits until everything sent so far is on the link: what the guest sends
  // next must come after it (a checkpoint's confirmation before the new
  // epoch's digests).
  void WaitSent();
  // Queues a bulk transfer; WaitBulkSent waits until its last record is on
  // the link (false: given up, and the queue is dropped).
  void QueueBulk(wire::CheckpointKind kind, std::vector<uint8_t> data);
  bool WaitBulkSent(const std::function<bool()>& still, uint64_t deadline_ns = 0);
  bool Stopping() const;
  // Housekeeping between steps: the supervisor's roles, messages, the dirty log.
  void Housekeep();
  // At a join's start, both sides: a memif sync link's rings mapped in.
  void PrefaultSyncRings();
  // A primary in lockstep with a running guest: checkpoints are due.
  bool TakesCheckpoints() const;
  // The main loop's nap: kIdleNapNs, or less when a periodic checkpoint is due sooner.
  uint64_t IdleNapNs() const;
  // Runs Housekeep until done(); false when still() turned false, the node
  // stops or the deadline (0: none) passed. A progress line every 5 s.
  bool WaitUntil(const std::function<bool()>& done, const std::function<bool()>& still, const std::string& what,
                 uint64_t deadline_ns = 0);
  // Waits for a message the predicate accepts; nullopt when the roles
  // changed under the step (`still` turned false), `stop` is set or the node
  // failed. No timeout: a dead peer ends the wait through the supervisor's
  // failover, a live one gets a progress line every few seconds.
  std::optional<Message> WaitFor(const std::function<bool(const Message&)>& match, const std::function<bool()>& still,
                                 const char* what, uint64_t deadline_ns = 0);
  void FollowSupervisor();
  void SetPipelineRole(dataplane::Role role);
  void GatherDirty();
  void PauseGuest();
  bool ResumeGuest();
  void WaitGuestOutputsDrained();
  // Builds the comparator the primary takes when the secondary confirms a
  // state (OnPeerRecord swaps it in), freeing the one swapped out: tables are
  // built and freed on the control thread, off the poll thread and outside
  // the guest's pause.
  // The old one is freed first: the new one takes its memory, already mapped
  // in, instead of fresh pages (~6 MB of tables, a page fault per 4 KiB).
  void PrepareComparator() {
    spare_comparator_.reset();
    spare_comparator_ = pipeline_.MakeComparator();
  }

  bool ColdStart();
  bool Join();
  // The secondary's side of a loaded image: its inputs, the pipeline's new
  // epoch, a fresh dirty log.
  bool AdoptState(std::span<const uint8_t> extra, uint64_t epoch);
  void ServeJoin();
  void Checkpoint(wire::CheckpointKind kind);
  void FollowCheckpoint(const wire::Control& prepare);
  void AnnounceGuest();
  // After a wait that gave up: if it ran past `deadline` with our role
  // (`still`) unchanged, the peer left the checkpoint step unanswered while its
  // NIC still beats; the supervisor is told its host is dead, and the witness
  // decides.
  void PeerUnresponsiveIfExpired(const std::function<bool()>& still, uint64_t deadline, const std::string& what);
  void Fatal(const std::string& what);

  ControllerConfig config_;
  ReplicatedGuest& guest_;
  dataplane::Pipeline& pipeline_;
  dataplane::GuestNetBackend& backend_;
  firmware::sim::SimNode& firmware_;
  EventLog& log_;

  const std::atomic<bool>* stop_ = nullptr;
  std::string fatal_;
  std::deque<Message> messages_;  // received, not yet consumed
  DirtySet dirty_;
  dataplane::Role role_ = dataplane::Role::kSecondary;  // the pipeline's role, as last set
  firmware::Role fw_role_ = firmware::Role::kJoining;
  bool gate_open_ = true;
  bool guest_running_ = false;
  uint64_t epoch_ = 0;  // the lockstep epoch: advanced by every checkpoint
  uint64_t last_checkpoint_ns_ = 0;
  uint64_t last_gather_ns_ = 0;
  uint64_t bulks_queued_ = 0;
  uint64_t bulk_target_ = 0;
  bool divergence_seen_ = false;
  std::atomic<bool> checkpoint_requested_{false};
  bool peer_reported_dead_ = false;  // PeerUnresponsive: no checkpoint until the roles change
  std::atomic<uint64_t> stall_until_ns_{0};  // fault injection: the control thread stops (control socket `stall`)

  // Counters for `status` (control thread writes, any thread reads).
  std::atomic<uint64_t> checkpoints_{0};
  std::atomic<uint64_t> divergences_{0};
  std::atomic<uint64_t> joins_served_{0};
  std::atomic<int> status_role_{0};
  std::atomic<uint64_t> status_epoch_{0};

  // --- poll thread ---
  std::deque<Outgoing> out_;
  dataplane::CheckpointReceiver receiver_;
  uint64_t bulk_id_ = 0;
  std::atomic<uint64_t> bulks_sent_{0};
  std::atomic<bool> divergence_queued_{false};
  std::atomic<size_t> out_size_{0};
  // Written by the control thread before it asks for a confirmation, swapped
  // by the poll thread when the confirmation arrives (PrepareComparator).
  std::unique_ptr<compare::Comparator> spare_comparator_;

  boost::lockfree::spsc_queue<Message*> inbox_{4096};
  // Wakes the control thread's naps when the poll thread hands it something
  // (a message, a sent bulk, a finished task, an emptied send queue, a new
  // supervisor role or release gate) or a control request asks for a checkpoint.
  dataplane::Doorbell bell_;
  // The supervisor's registers as the poll thread last rang for.
  uint32_t rung_role_ = ~0u, rung_gate_ = ~0u, rung_arb_seq_ = ~0u;
  dataplane::Doorbell* host_bell_ = nullptr;
  boost::lockfree::spsc_queue<Task*> tasks_{1024};
};

const char* StopReasonName(StopReason r);

}  // namespace twinstep::replication
