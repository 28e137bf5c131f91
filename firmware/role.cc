// The role state machine's transition table (see docs/failover.md for the diagram).
#include "firmware/role.h"

namespace twinstep::firmware {
namespace {

bool StrEq(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) ++a, ++b;
  return *a == *b;
}

bool InLockstep(Role r) { return r == Role::kPrimary || r == Role::kSecondary; }

}  // namespace

const char* RoleName(Role r) {
  switch (r) {
    case Role::kJoining: return "joining";
    case Role::kPrimary: return "primary";
    case Role::kSecondary: return "secondary";
    case Role::kSolo: return "solo";
    case Role::kFenced: return "fenced";
    case Role::kStopped: return "stopped";
  }
  return "unknown_role";
}

const char* EventName(Event e) {
  switch (e) {
    case Event::kStartAlone: return "start_alone";
    case Event::kJoinComplete: return "join_complete";
    case Event::kPeerJoined: return "peer_joined";
    case Event::kPeerSuspected: return "peer_suspected";
    case Event::kPeerHostDead: return "peer_host_dead";
    case Event::kWitnessGrant: return "witness_grant";
    case Event::kWitnessDeny: return "witness_deny";
    case Event::kWitnessUnavailable: return "witness_unavailable";
    case Event::kNewerEpochSeen: return "newer_epoch";
    case Event::kHostDead: return "host_dead";
    case Event::kLeaseExpired: return "lease_expired";
    case Event::kStop: return "stop";
    case Event::kRestart: return "restart";
  }
  return "unknown_event";
}

const char* ArbitrationKindName(ArbitrationKind k) {
  switch (k) {
    case ArbitrationKind::kNone: return "none";
    case ArbitrationKind::kColdStart: return "cold_start";
    case ArbitrationKind::kFailover: return "failover";
  }
  return "unknown_kind";
}

bool ParseRole(const char* name, Role* out) {
  for (size_t i = 1; i < kRoleCount; ++i) {
    Role r = static_cast<Role>(i);
    if (StrEq(name, RoleName(r))) {
      *out = r;
      return true;
    }
  }
  return false;
}

bool ParseEvent(const char* name, Event* out) {
  for (size_t i = 1; i < kEventCount; ++i) {
    Event e = static_cast<Event>(i);
    if (StrEq(name, EventName(e))) {
      *out = e;
      return true;
    }
  }
  return false;
}

bool RoleMachine::Decide(Event e, uint64_t arg, RoleState* next, ArbitrationKind* request) const {
  const RoleState& s = state_;
  const bool pending = s.pending != ArbitrationKind::kNone;
  switch (e) {
    case Event::kStartAlone:
      // A cold start: only a joining node that has not asked yet.
      if (s.role != Role::kJoining || pending) return false;
      next->pending = *request = ArbitrationKind::kColdStart;
      return true;
    case Event::kJoinComplete:
      // The primary's epoch can never be older than what we already saw.
      if (s.role != Role::kJoining || pending || arg < s.epoch) return false;
      next->role = Role::kSecondary;
      next->epoch = arg;
      return true;
    case Event::kPeerJoined:
      if (s.role != Role::kSolo) return false;
      next->role = Role::kPrimary;
      return true;
    case Event::kPeerSuspected:
    case Event::kPeerHostDead:
      // Only a node in lockstep fails over, and only through the witness.
      if (!InLockstep(s.role) || pending) return false;
      next->pending = *request = ArbitrationKind::kFailover;
      return true;
    case Event::kWitnessGrant:
      // A grant must answer our request and move the epoch forward.
      if (!pending || arg <= s.epoch) return false;
      if (s.role != Role::kJoining && !InLockstep(s.role)) return false;
      next->role = Role::kSolo;
      next->epoch = arg;
      next->pending = ArbitrationKind::kNone;
      return true;
    case Event::kWitnessDeny:
      if (!pending) return false;
      next->role = Role::kFenced;
      next->pending = ArbitrationKind::kNone;
      return true;
    case Event::kWitnessUnavailable:
      // No answer is not an answer: keep waiting, ask again, never go live.
      if (!pending) return false;
      *request = s.pending;
      return true;
    case Event::kNewerEpochSeen:
      // Someone won a newer epoch: whoever we were, we are stale.
      if (arg <= s.epoch) return false;
      if (!InLockstep(s.role) && s.role != Role::kSolo) return false;
      next->role = Role::kFenced;
      next->pending = ArbitrationKind::kNone;
      return true;
    case Event::kHostDead:
    case Event::kStop:
      if (s.role == Role::kStopped) return false;
      next->role = Role::kStopped;
      next->pending = ArbitrationKind::kNone;
      return true;
    case Event::kLeaseExpired:
      // Solo releases on the strength of its lease alone; a primary's outputs
      // are each matched by its live secondary, so it keeps going.
      if (s.role != Role::kSolo) return false;
      next->role = Role::kFenced;
      return true;
    case Event::kRestart:
      if (s.role != Role::kFenced && s.role != Role::kStopped) return false;
      next->role = Role::kJoining;
      next->pending = ArbitrationKind::kNone;
      return true;
  }
  return false;
}

Transition RoleMachine::Step(Event e, uint64_t arg) {
  Transition t;
  t.event = e;
  t.arg = arg;
  t.before = state_;
  RoleState next = state_;
  const size_t ei = static_cast<size_t>(e);
  const bool valid_event = ei > 0 && ei < kEventCount;
  t.accepted = valid_event && Decide(e, arg, &next, &t.request);
  if (t.accepted) {
    state_ = next;
    ++accepted_[ei];
    ++transitions_[static_cast<size_t>(t.before.role)][static_cast<size_t>(next.role)];
  } else {
    t.request = ArbitrationKind::kNone;
    if (valid_event) ++ignored_[ei];
  }
  t.after = state_;
  return t;
}

RoleState RoleMachine::Replay(std::span<const EventRecord> events) {
  for (const EventRecord& r : events) Step(r.event, r.arg);
  return state_;
}

}  // namespace twinstep::firmware
