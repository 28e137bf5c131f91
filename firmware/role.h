// The supervisor's role state machine: a pure class (no clock, no I/O) whose
// transitions can be replayed from an event list, e.g. a SPIN trace (issue 9).
// Names: Role and Event print as the snake_case words a Promela model uses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace twinstep::firmware {

// Same values as wire::NodeRole, so a heartbeat carries the role unchanged.
enum class Role : uint8_t { kJoining = 1, kPrimary, kSecondary, kSolo, kFenced, kStopped };
inline constexpr size_t kRoleCount = 7;  // indexable by the enum value (0 unused)

enum class Event : uint8_t {
  kStartAlone = 1,     // start_alone: joining with no peer; ask the witness for a cold start
  kJoinComplete,       // join_complete(epoch): state transfer done; shadow the primary at its epoch
  kPeerJoined,         // peer_joined: a secondary finished joining us
  kPeerSuspected,      // peer_suspected: the peer was silent for K heartbeat intervals
  kPeerHostDead,       // peer_host_dead: the peer's NIC reports its host dead
  kWitnessGrant,       // witness_grant(epoch): we own the pair at this new epoch
  kWitnessDeny,        // witness_deny: someone else owns a newer epoch
  kWitnessUnavailable, // witness_unavailable: no answer (unreachable, timeout); ask again
  kNewerEpochSeen,     // newer_epoch(epoch): the peer is at a newer epoch than ours
  kHostDead,           // host_dead: our own host stopped ringing the doorbell
  kLeaseExpired,       // lease_expired: our witness lease could not be renewed in time
  kStop,               // stop: the operator stops this node
  kRestart,            // restart: a fenced or stopped node starts over (to rejoin)
};
inline constexpr size_t kEventCount = 14;  // indexable by the enum value (0 unused)

// What the witness is asked for: a cold start needs no live owner; a failover
// only needs our epoch to be the newest.
enum class ArbitrationKind : uint8_t { kNone = 0, kColdStart = 1, kFailover = 2 };

const char* RoleName(Role r);
const char* EventName(Event e);
const char* ArbitrationKindName(ArbitrationKind k);
// Parses the snake_case names back (for trace replay); false if unknown.
bool ParseRole(const char* name, Role* out);
bool ParseEvent(const char* name, Event* out);

struct RoleState {
  Role role = Role::kJoining;
  uint64_t epoch = 0;  // ownership epoch: advanced only by a witness grant (or adopted on join)
  ArbitrationKind pending = ArbitrationKind::kNone;  // a witness request is outstanding
  bool operator==(const RoleState&) const = default;
};

// The release gate: whether this node's outputs may reach the LAN. A primary
// that suspects its peer closes it until the witness answers.
constexpr bool ReleasesOutputs(const RoleState& s) {
  return s.role == Role::kSolo || (s.role == Role::kPrimary && s.pending == ArbitrationKind::kNone);
}
// Whether the guest must be stopped in this role.
constexpr bool StopsGuest(Role r) { return r == Role::kFenced || r == Role::kStopped; }

struct Transition {
  Event event = Event::kStop;
  uint64_t arg = 0;
  RoleState before;
  RoleState after;
  bool accepted = false;  // false: the event does not apply in this state (counted, no effect)
  // Non-kNone: ask the witness now (a new request or a retry after no answer).
  ArbitrationKind request = ArbitrationKind::kNone;
};

struct EventRecord {
  Event event = Event::kStop;
  uint64_t arg = 0;
};

class RoleMachine {
 public:
  explicit RoleMachine(uint64_t initial_epoch = 0) { state_.epoch = initial_epoch; }

  // Applies one event; every call is counted, accepted or not.
  Transition Step(Event e, uint64_t arg = 0);
  // Applies every event in order; returns the final state.
  RoleState Replay(std::span<const EventRecord> events);

  const RoleState& state() const { return state_; }
  Role role() const { return state_.role; }
  uint64_t epoch() const { return state_.epoch; }

  // Counters: role changes by (from, to), events by type, accepted or ignored.
  uint64_t transitions(Role from, Role to) const {
    return transitions_[static_cast<size_t>(from)][static_cast<size_t>(to)];
  }
  uint64_t accepted(Event e) const { return accepted_[static_cast<size_t>(e)]; }
  uint64_t ignored(Event e) const { return ignored_[static_cast<size_t>(e)]; }

 private:
  // Decides the next state; returns false if the event does not apply.
  bool Decide(Event e, uint64_t arg, RoleState* next, ArbitrationKind* request) const;

  RoleState state_;
  uint64_t transitions_[kRoleCount][kRoleCount] = {};
  uint64_t accepted_[kEventCount] = {};
  uint64_t ignored_[kEventCount] = {};
};

}  // namespace twinstep::firmware
