// Table-driven tests of the pure role state machine and its replay.
#include "firmware/role.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace twinstep::firmware {
namespace {

using E = Event;
using R = Role;

struct Case {
  const char* name;
  std::vector<EventRecord> events;
  Role role;
  uint64_t epoch;
  ArbitrationKind pending;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// From a fresh node at epoch 0, the primary path: cold start, then a peer joins.
const std::vector<EventRecord> kToPrimary = {{E::kStartAlone, 0}, {E::kWitnessGrant, 1}, {E::kPeerJoined, 0}};
const std::vector<EventRecord> kToSecondary = {{E::kJoinComplete, 1}};

std::vector<EventRecord> Then(std::vector<EventRecord> a, const std::vector<EventRecord>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class RoleTableTest : public ::testing::TestWithParam<Case> {};

TEST_P(RoleTableTest, ReachesExpectedState) {
  const Case& c = GetParam();
  RoleMachine m;
  const RoleState s = m.Replay(c.events);
  EXPECT_EQ(RoleName(s.role), std::string(RoleName(c.role)));
  EXPECT_EQ(s.epoch, c.epoch);
  EXPECT_EQ(s.pending, c.pending);
}

INSTANTIATE_TEST_SUITE_P(
    Transitions, RoleTableTest,
    ::testing::Values(
        Case{"cold_start_asks_witness", {{E::kStartAlone, 0}}, R::kJoining, 0, ArbitrationKind::kColdStart},
        Case{"cold_start_granted", {{E::kStartAlone, 0}, {E::kWitnessGrant, 1}}, R::kSolo, 1, ArbitrationKind::kNone},
        Case{"cold_start_denied_fences", {{E::kStartAlone, 0}, {E::kWitnessDeny, 0}}, R::kFenced, 0,
             ArbitrationKind::kNone},
        Case{"grant_without_request_ignored", {{E::kWitnessGrant, 5}}, R::kJoining, 0, ArbitrationKind::kNone},
        Case{"primary", kToPrimary, R::kPrimary, 1, ArbitrationKind::kNone},
        Case{"secondary", kToSecondary, R::kSecondary, 1, ArbitrationKind::kNone},
        Case{"join_older_epoch_refused", {{E::kJoinComplete, 3}, {E::kStop, 0}, {E::kRestart, 0}, {E::kJoinComplete, 2}},
             R::kJoining, 3, ArbitrationKind::kNone},
        Case{"suspicion_waits_for_witness", Then(kToSecondary, {{E::kPeerSuspected, 0}}), R::kSecondary, 1,
             ArbitrationKind::kFailover},
        Case{"failover_on_grant", Then(kToSecondary, {{E::kPeerSuspected, 0}, {E::kWitnessGrant, 2}}), R::kSolo, 2,
             ArbitrationKind::kNone},
        Case{"stale_grant_ignored", Then(kToSecondary, {{E::kPeerSuspected, 0}, {E::kWitnessGrant, 1}}),
             R::kSecondary, 1, ArbitrationKind::kFailover},
        Case{"no_answer_keeps_waiting",
             Then(kToPrimary, {{E::kPeerSuspected, 0}, {E::kWitnessUnavailable, 0}, {E::kWitnessUnavailable, 0}}),
             R::kPrimary, 1, ArbitrationKind::kFailover},
        Case{"denied_primary_fences", Then(kToPrimary, {{E::kPeerSuspected, 0}, {E::kWitnessDeny, 0}}), R::kFenced, 1,
             ArbitrationKind::kNone},
        Case{"peer_host_dead_asks_witness", Then(kToPrimary, {{E::kPeerHostDead, 0}}), R::kPrimary, 1,
             ArbitrationKind::kFailover},
        Case{"newer_epoch_fences_primary", Then(kToPrimary, {{E::kNewerEpochSeen, 2}}), R::kFenced, 1,
             ArbitrationKind::kNone},
        Case{"same_epoch_is_not_newer", Then(kToPrimary, {{E::kNewerEpochSeen, 1}}), R::kPrimary, 1,
             ArbitrationKind::kNone},
        Case{"newer_epoch_fences_solo", {{E::kStartAlone, 0}, {E::kWitnessGrant, 1}, {E::kNewerEpochSeen, 4}},
             R::kFenced, 1, ArbitrationKind::kNone},
        Case{"host_dead_stops", Then(kToPrimary, {{E::kHostDead, 0}}), R::kStopped, 1, ArbitrationKind::kNone},
        Case{"lease_expired_fences_solo", {{E::kStartAlone, 0}, {E::kWitnessGrant, 1}, {E::kLeaseExpired, 0}},
             R::kFenced, 1, ArbitrationKind::kNone},
        Case{"lease_expired_primary_keeps_going", Then(kToPrimary, {{E::kLeaseExpired, 0}}), R::kPrimary, 1,
             ArbitrationKind::kNone},
        Case{"fenced_only_restarts", Then(kToPrimary, {{E::kNewerEpochSeen, 2}, {E::kWitnessGrant, 9},
                                                        {E::kPeerJoined, 0}, {E::kRestart, 0}}),
             R::kJoining, 1, ArbitrationKind::kNone},
        Case{"late_grant_after_fence_ignored",
             Then(kToSecondary, {{E::kPeerSuspected, 0}, {E::kNewerEpochSeen, 2}, {E::kWitnessGrant, 2}}), R::kFenced,
             1, ArbitrationKind::kNone}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

TEST(RoleMachineTest, GateFollowsRoleAndPendingRequest) {
  RoleMachine m;
  m.Replay(kToPrimary);
  EXPECT_TRUE(ReleasesOutputs(m.state()));
  m.Step(E::kPeerSuspected);
  EXPECT_FALSE(ReleasesOutputs(m.state())) << "a suspecting primary must close its gate until the witness answers";
  m.Step(E::kWitnessGrant, 2);
  EXPECT_TRUE(ReleasesOutputs(m.state()));
  m.Step(E::kNewerEpochSeen, 3);
  EXPECT_FALSE(ReleasesOutputs(m.state()));
  EXPECT_TRUE(StopsGuest(m.role()));
}

TEST(RoleMachineTest, CountsAcceptedIgnoredAndTransitions) {
  RoleMachine m;
  m.Step(E::kPeerJoined);  // not in joining
  const Transition t = m.Step(E::kStartAlone);
  EXPECT_TRUE(t.accepted);
  EXPECT_EQ(t.request, ArbitrationKind::kColdStart);
  m.Step(E::kWitnessGrant, 1);
  EXPECT_EQ(m.ignored(E::kPeerJoined), 1u);
  EXPECT_EQ(m.accepted(E::kStartAlone), 1u);
  EXPECT_EQ(m.transitions(R::kJoining, R::kJoining), 1u);
  EXPECT_EQ(m.transitions(R::kJoining, R::kSolo), 1u);
}

TEST(RoleMachineTest, RetryRequestOnlyAfterNoAnswer) {
  RoleMachine m;
  m.Replay(kToSecondary);
  EXPECT_EQ(m.Step(E::kPeerSuspected).request, ArbitrationKind::kFailover);
  EXPECT_EQ(m.Step(E::kPeerSuspected).request, ArbitrationKind::kNone) << "one request per suspicion";
  EXPECT_EQ(m.Step(E::kWitnessUnavailable).request, ArbitrationKind::kFailover);
}

TEST(RoleMachineTest, OutOfRangeEventIsIgnored) {
  RoleMachine m;
  const Transition t = m.Step(static_cast<Event>(200));
  EXPECT_FALSE(t.accepted);
  EXPECT_EQ(m.state(), RoleState{});
}

TEST(RoleMachineTest, NamesRoundTrip) {
  for (size_t i = 1; i < kRoleCount; ++i) {
    Role r{};
    ASSERT_TRUE(ParseRole(RoleName(static_cast<Role>(i)), &r));
    EXPECT_EQ(r, static_cast<Role>(i));
  }
  for (size_t i = 1; i < kEventCount; ++i) {
    Event e{};
    ASSERT_TRUE(ParseEvent(EventName(static_cast<Event>(i)), &e));
    EXPECT_EQ(e, static_cast<Event>(i));
  }
  Role r{};
  EXPECT_FALSE(ParseRole("leader", &r));
  Event e{};
  EXPECT_FALSE(ParseEvent("", &e));
}

}  // namespace
}  // namespace twinstep::firmware
