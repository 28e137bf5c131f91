// The NIC supervisor: heartbeats on the sync link, the failure detector, the
// host watchdog, witness requests through the host mailbox, and the release
// gate, all driven by RoleMachine. Freestanding: no heap, no exceptions.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/expected.h"
#include "common/wire.h"
#include "firmware/hal.h"
#include "firmware/role.h"

namespace twinstep::firmware {

struct SupervisorConfig {
  uint32_t node_id = 1;
  uint8_t local_mac[6] = {0x02, 0, 0, 0, 0, 1};
  uint8_t peer_mac[6] = {0x02, 0, 0, 0, 0, 2};
  uint64_t heartbeat_interval_ns = 100'000;
  uint32_t suspect_after_missed = 5;           // K: intervals of silence before suspicion
  uint64_t host_watchdog_ns = 10'000'000;      // doorbell silence before the host is dead
  uint64_t arbitration_retry_ns = 1'000'000;   // wait after "no answer" before asking again
  uint64_t initial_epoch = 0;
};

enum class SupervisorError : uint8_t {
  kZeroHeartbeatInterval = 1,
  kZeroSuspectAfter,
  kWatchdogShorterThanHeartbeat,
  kZeroArbitrationRetry,
  kZeroNodeId,
};
const char* SupervisorErrorMessage(SupervisorError e);
Expected<void, SupervisorError> ValidateConfig(const SupervisorConfig& c);

// One logged transition (accepted or not), with the time it was applied.
struct TransitionRecord {
  uint64_t time_ns = 0;
  Transition transition;
};

struct SupervisorCounters {
  uint64_t heartbeats_sent = 0;
  uint64_t heartbeats_received = 0;
  uint64_t heartbeats_stale = 0;      // duplicated or reordered (not newer than the last)
  uint64_t peer_clock_resets = 0;     // the peer's heartbeat clock restarted (its NIC rebooted)
  uint64_t send_failures = 0;
  uint64_t frames_bad = 0;            // failed wire decoding (counted, dropped)
  uint64_t records_ignored = 0;       // valid records the supervisor does not use
  uint64_t suspicions = 0;
  uint64_t arbitration_requests = 0;
  uint64_t witness_replies_stale = 0; // answer to an older request
  uint64_t fences_sent = 0;
  uint64_t host_commands_bad = 0;
};

class Supervisor {
 public:
  static constexpr size_t kLogEntries = 64;
  static constexpr size_t kMaxFrameBytes = wire::kEthHeaderBytes + wire::kHeaderBytes + wire::kMaxPayloadBytes;
  static constexpr size_t kMaxFramesPerPoll = 16;

  // `config` must have passed ValidateConfig.
  Supervisor(Hal& hal, const SupervisorConfig& config);

  // One pass of the main loop: link, doorbell, mailbox, detector, heartbeat.
  void Poll();

  const RoleMachine& machine() const { return machine_; }
  Role role() const { return machine_.role(); }
  uint64_t epoch() const { return machine_.epoch(); }
  bool gate_open() const { return ReleasesOutputs(machine_.state()); }
  const SupervisorCounters& counters() const { return counters_; }
  bool peer_suspected() const { return suspected_; }
  uint64_t last_peer_heartbeat_ns() const { return peer_last_seen_ns_; }
  // The peer's send time of its newest heartbeat (the peer's clock).
  uint64_t last_peer_send_time_ns() const { return peer_last_send_time_ns_; }
  // The last `n` <= kLogEntries log entries, oldest first: entry(0) is the oldest kept.
  size_t log_size() const { return log_count_ < kLogEntries ? log_count_ : kLogEntries; }
  const TransitionRecord& log_entry(size_t i) const;

 private:
  void ReceiveFrames(uint64_t now);
  void OnRecord(uint64_t now, const wire::FrameHeader& h, const wire::Record& r);
  void CheckDoorbell(uint64_t now);
  void CheckMailbox();
  void CheckPeer(uint64_t now);
  void MaybeSendHeartbeat(uint64_t now);
  void MaybeRetryArbitration(uint64_t now);
  void Apply(uint64_t now, Event e, uint64_t arg);
  void PostArbitration(ArbitrationKind kind);
  void SendControl(wire::ControlOp op, uint64_t arg0, uint64_t arg1);
  void SendFrame(wire::FrameType type, const wire::Record& r);
  void PublishState();

  Hal& hal_;
  SupervisorConfig config_;
  RoleMachine machine_;
  SupervisorCounters counters_;

  uint64_t next_heartbeat_ns_ = 0;
  bool peer_seen_ = false;
  bool suspected_ = false;
  uint64_t peer_last_seen_ns_ = 0;
  uint64_t peer_last_send_time_ns_ = 0;  // the peer's clock: orders its heartbeats
  bool peer_host_dead_reported_ = false;
  uint32_t last_doorbell_ = 0;
  uint64_t last_doorbell_ns_ = 0;
  bool host_alive_ = true;
  uint32_t arb_seq_ = 0;
  bool retry_armed_ = false;
  uint64_t retry_at_ns_ = 0;
  ArbitrationKind retry_kind_ = ArbitrationKind::kNone;
  uint64_t tx_seq_ = 0;

  TransitionRecord log_[kLogEntries];
  size_t log_count_ = 0;
  uint8_t rx_buf_[kMaxFrameBytes];
  uint8_t tx_buf_[256];
};

}  // namespace twinstep::firmware
