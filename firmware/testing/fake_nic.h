// Test doubles for the supervisor on the host: a fake clock, a faulty sync
// link (drop, delay, duplicate, reorder, cut), a register-file HAL, a witness
// with the etcd witness's rules, and a two-node pair stepped in fake time.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <random>
#include <vector>

#include "firmware/hal.h"
#include "firmware/regs.h"
#include "firmware/role.h"
#include "firmware/supervisor.h"

namespace twinstep::firmware::testing {

class FakeClock {
 public:
  uint64_t now_ns() const { return now_ns_; }
  void Advance(uint64_t ns) { now_ns_ += ns; }

 private:
  uint64_t now_ns_ = 1'000'000'000;
};

struct LinkFaults {
  bool cut = false;
  double drop = 0;       // probability a frame is lost
  double duplicate = 0;  // probability a frame arrives twice
  uint64_t delay_ns = 0;
  uint64_t jitter_ns = 0;  // extra uniform delay per frame: reorders frames closer than this
  // Deterministic loss: of every `burst_period` frames, the first `burst_drop` are lost.
  uint32_t burst_period = 0;
  uint32_t burst_drop = 0;
};

// One direction of the sync link.
class FakeLink {
 public:
  explicit FakeLink(uint64_t seed) : rng_(seed) {}
  LinkFaults& faults() { return faults_; }
  void Send(uint64_t now, std::span<const uint8_t> frame);
  size_t Receive(uint64_t now, std::span<uint8_t> buf);
  uint64_t sent() const { return sent_; }
  uint64_t dropped() const { return dropped_; }

 private:
  void Enqueue(uint64_t now, std::span<const uint8_t> frame);
  LinkFaults faults_;
  std::mt19937_64 rng_;
  std::multimap<uint64_t, std::vector<uint8_t>> in_flight_;  // by delivery time
  uint64_t sent_ = 0;
  uint64_t dropped_ = 0;
};

class FakeHal : public Hal {
 public:
  FakeHal(FakeClock& clock, FakeLink& tx, FakeLink& rx) : clock_(clock), tx_(tx), rx_(rx) {}

  uint64_t NowNs() override { return clock_.now_ns() + clock_offset_ns; }
  uint32_t ReadReg(uint32_t offset) override;
  void WriteReg(uint32_t offset, uint32_t value) override { regs_[offset / 4] = value; }
  uint32_t Doorbell() override { return doorbell_; }
  bool LinkSend(std::span<const uint8_t> frame) override;
  size_t LinkReceive(std::span<uint8_t> buf) override { return rx_.Receive(clock_.now_ns(), buf); }
  void OnTransition(const TransitionRecord& r) override { transitions_.push_back(r); }

  // This NIC's clock runs at the shared fake time plus this offset.
  uint64_t clock_offset_ns = 0;

  // The host's side.
  void RingDoorbell() { ++doorbell_; }
  void PostCommand(HostCommand cmd, uint64_t arg = 0, uint32_t seq = 0);
  uint32_t reg(uint32_t offset) const { return regs_[offset / 4]; }
  const std::vector<TransitionRecord>& transitions() const { return transitions_; }

 private:
  struct Command {
    HostCommand cmd;
    uint64_t arg;
    uint32_t seq;
  };
  FakeClock& clock_;
  FakeLink& tx_;
  FakeLink& rx_;
  uint32_t regs_[kRegCount] = {};
  uint32_t doorbell_ = 0;
  std::deque<Command> commands_;  // waiting for the one-slot mailbox
  std::vector<TransitionRecord> transitions_;
};

// The witness's rules (as firmware/witness/etcd_witness.cc applies them with
// etcd transactions): the pair's epoch only grows; a request at epoch E wins
// epoch E+1 if nobody holds it yet; a cold start also needs no live owner.
class MemoryWitness {
 public:
  enum class Reply : uint8_t { kGrant, kDeny, kUnavailable };
  Reply Arbitrate(uint32_t node_id, ArbitrationKind kind, uint64_t epoch, uint64_t* granted);
  bool available = true;
  uint64_t latency_ns = 200'000;
  uint64_t timeout_ns = 5'000'000;  // the host agent's request timeout
  uint64_t stored_epoch = 0;
  uint32_t owner = 0;
  bool owner_live = false;  // the owner's lease has not expired
  uint64_t grants = 0;
};

// One server: the NIC (supervisor + fake HAL) and a host that rings the
// doorbell and runs the witness agent.
struct Node {
  Node(FakeClock& clock, FakeLink& tx, FakeLink& rx, const SupervisorConfig& cfg)
      : hal(clock, tx, rx), sup(hal, cfg), node_id(cfg.node_id) {}
  FakeHal hal;
  Supervisor sup;
  uint32_t node_id;
  bool nic_alive = true;   // false: the server is dead or frozen (nothing runs)
  bool host_alive = true;  // false: the host OS is dead (the NIC still runs)
  uint64_t doorbell_every_ns = 1'000'000;
  uint64_t next_ring_ns = 0;
  uint64_t witness_latency_ns = 0;  // extra per-node path latency to the witness
  uint32_t seen_arb_seq = 0;
  bool reply_due = false;
  uint64_t reply_at_ns = 0;
  uint32_t reply_seq = 0;
  ArbitrationKind reply_kind = ArbitrationKind::kNone;
  uint64_t reply_epoch = 0;
};

class Pair {
 public:
  static SupervisorConfig Config(uint32_t node_id);
  explicit Pair(uint64_t seed = 1, const SupervisorConfig& a = Config(1),
                const SupervisorConfig& b = Config(2));

  // Advances fake time in steps, polling both nodes, and checks after every
  // step that no two gates are open in the same epoch.
  void RunFor(uint64_t ns, uint64_t step_ns = 10'000);
  // A primary, B secondary, both at epoch 1 (A cold-started through the witness).
  void FormPair();
  void CutLink(bool cut);

  FakeClock clock;
  FakeLink a_to_b;
  FakeLink b_to_a;
  MemoryWitness witness;
  Node a;
  Node b;
  bool split_brain_seen = false;  // two open gates in one epoch, ever (at once or not)
  std::map<uint64_t, uint32_t> live_at_epoch;  // the node whose gate was open in each epoch

 private:
  void StepHost(Node& n);
};

}  // namespace twinstep::firmware::testing
