// Fault scenarios of the supervisor pair in fake time: deaths, a cut and a
// flapping link, loss, witness outage, stale epochs (issue 6 "Done when").
#include "firmware/supervisor.h"

#include <gtest/gtest.h>

#include "firmware/testing/fake_nic.h"

namespace twinstep::firmware {
namespace {

using testing::Pair;

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kUs = 1'000;


uint64_t Accepted(const testing::Node& n, Event e) { return n.sup.machine().accepted(e); }

// Time of the first accepted event `e` in the node's log, 0 if none.
uint64_t FirstTime(const testing::Node& n, Event e) {
  for (const TransitionRecord& r : n.hal.transitions())
    if (r.transition.accepted && r.transition.event == e) return r.time_ns;
  return 0;
}

TEST(SupervisorTest, FormsPair) {
  Pair p;
  p.FormPair();
  EXPECT_EQ(p.a.sup.role(), Role::kPrimary);
  EXPECT_EQ(p.b.sup.role(), Role::kSecondary);
  EXPECT_EQ(p.a.sup.epoch(), 1u);
  EXPECT_TRUE(p.a.sup.gate_open());
  EXPECT_FALSE(p.b.sup.gate_open());
  EXPECT_EQ(p.a.hal.reg(kRegReleaseGate), 1u);
  EXPECT_EQ(p.b.hal.reg(kRegReleaseGate), 0u);
  EXPECT_GT(p.b.sup.counters().heartbeats_received, 30u);
}

TEST(SupervisorTest, PrimaryDeathSecondaryTakesOver) {
  Pair p;
  p.FormPair();
  p.a.nic_alive = false;  // the whole server dies
  const uint64_t death = p.clock.now_ns();
  p.RunFor(5 * kMs);
  EXPECT_EQ(p.b.sup.role(), Role::kSolo);
  EXPECT_EQ(p.b.sup.epoch(), 2u);
  EXPECT_TRUE(p.b.sup.gate_open());
  EXPECT_EQ(p.b.hal.reg(kRegReleaseGate), 1u);
  const uint64_t suspected = FirstTime(p.b, Event::kPeerSuspected);
  ASSERT_NE(suspected, 0u);
  // K = 5 intervals of 100 us, checked every 10 us step, heartbeats every 100 us.
  EXPECT_LE(suspected - death, 5 * 100 * kUs + 100 * kUs + 20 * kUs);
  EXPECT_FALSE(p.split_brain_seen);
}

TEST(SupervisorTest, SecondaryDeathPrimaryGoesSolo) {
  Pair p;
  p.FormPair();
  p.b.nic_alive = false;
  p.RunFor(5 * kMs);
  EXPECT_EQ(p.a.sup.role(), Role::kSolo);
  EXPECT_EQ(p.a.sup.epoch(), 2u);
  EXPECT_TRUE(p.a.sup.gate_open());
  EXPECT_FALSE(p.split_brain_seen);
}

TEST(SupervisorTest, HostOsDeathSeenThroughDoorbell) {
  Pair p;
  p.FormPair();
  p.a.host_alive = false;  // A's NIC keeps running and heartbeating
  const uint64_t death = p.clock.now_ns();
  p.RunFor(10 * kMs);
  EXPECT_EQ(p.a.sup.role(), Role::kStopped);
  EXPECT_FALSE(p.a.sup.gate_open());
  EXPECT_EQ(p.a.hal.reg(kRegGuestControl), kGuestStop);
  EXPECT_EQ(p.b.sup.role(), Role::kSolo);
  EXPECT_EQ(Accepted(p.b, Event::kPeerHostDead), 1u);
  EXPECT_EQ(Accepted(p.b, Event::kPeerSuspected), 0u) << "heartbeats never stopped";
  const uint64_t reported = FirstTime(p.b, Event::kPeerHostDead);
  // Watchdog (5 ms) + at most one doorbell period (1 ms) + a heartbeat's trip.
  EXPECT_LE(reported - death, 6 * kMs + 200 * kUs);
  EXPECT_FALSE(p.split_brain_seen);
}

// The secondary's host stops answering the replication protocol while its NIC
// and doorbell go on: the primary's host reports it, the primary wins the
// witness, and the secondary sees the newer epoch and fences.
TEST(SupervisorTest, PeerHostReportedUnresponsiveByOurHost) {
  Pair p;
  p.FormPair();
  p.a.hal.PostCommand(HostCommand::kPeerHostUnresponsive);
  p.RunFor(10 * kMs);
  EXPECT_EQ(Accepted(p.a, Event::kPeerHostDead), 1u);
  EXPECT_EQ(Accepted(p.a, Event::kPeerSuspected), 0u) << "heartbeats never stopped";
  EXPECT_EQ(p.a.sup.role(), Role::kSolo);
  EXPECT_EQ(p.a.sup.epoch(), 2u);
  EXPECT_EQ(p.b.sup.role(), Role::kFenced);
  EXPECT_FALSE(p.b.sup.gate_open());
  EXPECT_FALSE(p.split_brain_seen);
}

class CutLinkTest : public ::testing::TestWithParam<int> {};

// Both alive, link cut: both suspect, both ask; exactly one wins, the other fences.
TEST_P(CutLinkTest, ExactlyOneWinsTheOtherFences) {
  const int seed = GetParam();
  Pair p(seed);
  p.FormPair();
  p.a.witness_latency_ns = (seed % 3) * 150 * kUs;  // vary who reaches the witness first
  p.b.witness_latency_ns = ((seed / 3) % 3) * 150 * kUs;
  p.CutLink(true);
  p.RunFor(10 * kMs);
  const bool a_solo = p.a.sup.role() == Role::kSolo;
  const bool b_solo = p.b.sup.role() == Role::kSolo;
  EXPECT_NE(a_solo, b_solo) << "exactly one node wins";
  const testing::Node& loser = a_solo ? p.b : p.a;
  EXPECT_EQ(loser.sup.role(), Role::kFenced);
  EXPECT_FALSE(loser.sup.gate_open());
  EXPECT_EQ(loser.hal.reg(kRegGuestControl), kGuestStop);
  EXPECT_EQ(p.witness.grants, 2u) << "the cold start and one failover";
  EXPECT_FALSE(p.split_brain_seen);
}

INSTANTIATE_TEST_SUITE_P(Seeds, CutLinkTest, ::testing::Range(1, 10));

TEST(SupervisorTest, ShortFlapsNeverFailOver) {
  Pair p;
  p.FormPair();
  for (int i = 0; i < 100; ++i) {  // 300 us outages: below K * interval = 500 us
    p.CutLink(true);
    p.RunFor(300 * kUs);
    p.CutLink(false);
    p.RunFor(300 * kUs);
  }
  EXPECT_EQ(p.a.sup.role(), Role::kPrimary);
  EXPECT_EQ(p.b.sup.role(), Role::kSecondary);
  EXPECT_EQ(p.a.sup.counters().suspicions + p.b.sup.counters().suspicions, 0u);
  EXPECT_EQ(p.witness.grants, 1u);
}

TEST(SupervisorTest, LongFlapsFailOverOnceWithoutOscillation) {
  Pair p;
  p.FormPair();
  for (int i = 0; i < 30; ++i) {  // 2 ms outages, 1 ms up
    p.CutLink(true);
    p.RunFor(2 * kMs);
    p.CutLink(false);
    p.RunFor(1 * kMs);
  }
  const bool a_solo = p.a.sup.role() == Role::kSolo;
  const bool b_solo = p.b.sup.role() == Role::kSolo;
  EXPECT_NE(a_solo, b_solo);
  EXPECT_EQ((a_solo ? p.b : p.a).sup.role(), Role::kFenced);
  EXPECT_EQ(p.witness.grants, 2u) << "one failover, not one per flap";
  EXPECT_FALSE(p.split_brain_seen);
}

TEST(SupervisorTest, BurstLossBelowThresholdNoFailover) {
  Pair p;
  p.FormPair();
  for (testing::FakeLink* l : {&p.a_to_b, &p.b_to_a}) {
    l->faults().burst_period = 5;  // K - 1 = 4 heartbeats lost in a row, then one through
    l->faults().burst_drop = 4;
  }
  p.RunFor(200 * kMs);
  EXPECT_EQ(p.a.sup.role(), Role::kPrimary);
  EXPECT_EQ(p.b.sup.role(), Role::kSecondary);
  EXPECT_EQ(p.a.sup.counters().suspicions + p.b.sup.counters().suspicions, 0u);
  EXPECT_GT(p.a_to_b.dropped(), 1000u);
}

TEST(SupervisorTest, RandomLossDuplicationReorderNoFailover) {
  SupervisorConfig a = Pair::Config(1), b = Pair::Config(2);
  a.suspect_after_missed = b.suspect_after_missed = 10;
  Pair p(7, a, b);
  p.FormPair();
  for (testing::FakeLink* l : {&p.a_to_b, &p.b_to_a}) {
    l->faults().drop = 0.2;
    l->faults().duplicate = 0.2;
    l->faults().delay_ns = 20 * kUs;
    l->faults().jitter_ns = 250 * kUs;  // > the interval: heartbeats arrive out of order
  }
  p.RunFor(200 * kMs);
  EXPECT_EQ(p.a.sup.role(), Role::kPrimary);
  EXPECT_EQ(p.b.sup.role(), Role::kSecondary);
  EXPECT_EQ(p.a.sup.counters().suspicions + p.b.sup.counters().suspicions, 0u);
  EXPECT_GT(p.b.sup.counters().heartbeats_stale, 100u) << "duplicates and late heartbeats are discarded";
}

TEST(SupervisorTest, WitnessOutageDuringSuspicionNobodyGoesLive) {
  Pair p;
  p.FormPair();
  p.witness.available = false;
  p.a.nic_alive = false;
  p.RunFor(50 * kMs);
  EXPECT_EQ(p.b.sup.role(), Role::kSecondary);
  EXPECT_FALSE(p.b.sup.gate_open());
  EXPECT_GE(p.b.sup.counters().arbitration_requests, 10u) << "keeps asking";
  EXPECT_GE(Accepted(p.b, Event::kWitnessUnavailable), 10u);
  p.witness.available = true;
  p.RunFor(5 * kMs);
  EXPECT_EQ(p.b.sup.role(), Role::kSolo);
  EXPECT_EQ(p.b.sup.epoch(), 2u);
}

TEST(SupervisorTest, SlowWitnessTimesOutNobodyGoesLiveOnCutLink) {
  Pair p;
  p.FormPair();
  p.witness.latency_ns = 20 * kMs;  // beyond the agent's 5 ms timeout
  p.CutLink(true);
  p.RunFor(50 * kMs);
  EXPECT_FALSE(p.a.sup.gate_open()) << "a suspecting primary holds its outputs";
  EXPECT_FALSE(p.b.sup.gate_open());
  EXPECT_EQ(p.witness.grants, 1u);
  p.witness.latency_ns = 200 * kUs;
  p.RunFor(5 * kMs);
  EXPECT_NE(p.a.sup.role() == Role::kSolo, p.b.sup.role() == Role::kSolo);
  EXPECT_FALSE(p.split_brain_seen);
}

TEST(SupervisorTest, StaleNodeWithOldEpochRefused) {
  Pair p;
  p.FormPair();
  p.a.nic_alive = false;  // A freezes (not dead: its state survives)
  p.RunFor(5 * kMs);
  ASSERT_EQ(p.b.sup.role(), Role::kSolo);
  ASSERT_EQ(p.b.sup.epoch(), 2u);
  // A thaws as primary at epoch 1 and hears B's epoch-2 heartbeat: fenced at once.
  p.a.nic_alive = true;
  p.RunFor(2 * kMs);
  EXPECT_EQ(p.a.sup.role(), Role::kFenced);
  EXPECT_EQ(p.b.sup.role(), Role::kSolo);
  // A restarts and tries to start alone at its old epoch: the witness refuses.
  p.a.hal.PostCommand(HostCommand::kRestart);
  p.RunFor(1 * kMs);
  ASSERT_EQ(p.a.sup.role(), Role::kJoining);
  p.a.hal.PostCommand(HostCommand::kStartAlone);
  p.RunFor(2 * kMs);
  EXPECT_EQ(p.a.sup.role(), Role::kFenced);
  EXPECT_EQ(p.witness.stored_epoch, 2u);
  EXPECT_EQ(p.witness.owner, 2u);
  EXPECT_FALSE(p.split_brain_seen);
}

TEST(SupervisorTest, StaleNodeCutOffAskingLateIsDenied) {
  Pair p;
  p.FormPair();
  p.a.witness_latency_ns = 3 * kMs;  // A's path to the witness is slow
  p.CutLink(true);                   // A never hears B's new epoch
  p.RunFor(10 * kMs);
  EXPECT_EQ(p.b.sup.role(), Role::kSolo);
  EXPECT_EQ(p.a.sup.role(), Role::kFenced) << "A asked at epoch 1 after B had won epoch 2";
}

TEST(SupervisorTest, LateWitnessReplyToOldRequestIgnored) {
  Pair p;
  p.FormPair();
  p.b.hal.PostCommand(HostCommand::kWitnessGrant, 7, 999);  // no such request
  p.RunFor(1 * kMs);
  EXPECT_EQ(p.b.sup.role(), Role::kSecondary);
  EXPECT_EQ(p.b.sup.counters().witness_replies_stale, 1u);
}

TEST(SupervisorTest, BadFramesAndCommandsCountedNeverCrash) {
  Pair p;
  p.FormPair();
  std::vector<uint8_t> junk(100, 0xAB);
  p.a_to_b.Send(p.clock.now_ns(), junk);
  p.b.hal.PostCommand(static_cast<HostCommand>(77));
  p.RunFor(1 * kMs);
  EXPECT_EQ(p.b.sup.counters().frames_bad, 1u);
  EXPECT_EQ(p.b.sup.counters().host_commands_bad, 1u);
  EXPECT_EQ(p.b.sup.role(), Role::kSecondary);
}

TEST(SupervisorTest, TransitionsAreLogged) {
  Pair p;
  p.FormPair();
  const Supervisor& s = p.a.sup;
  ASSERT_GE(s.log_size(), 3u);
  const TransitionRecord& last = s.log_entry(s.log_size() - 1);
  EXPECT_EQ(last.transition.event, Event::kPeerJoined);
  EXPECT_EQ(last.transition.after.role, Role::kPrimary);
  EXPECT_EQ(p.a.hal.transitions().size(), s.log_size());
}

TEST(SupervisorTest, PeerNicRestartWithAFreshClockIsHeardAgain) {
  testing::FakeClock clock;
  testing::FakeLink a_to_b(1), b_to_a(2);
  testing::FakeHal hal_a(clock, a_to_b, b_to_a);
  Supervisor a(hal_a, Pair::Config(1));
  auto run = [&](Supervisor& b, uint64_t ns) {
    for (uint64_t t = 0; t < ns; t += 10 * kUs) {
      a.Poll();
      b.Poll();
      clock.Advance(10 * kUs);
    }
  };
  {
    testing::FakeHal hal_b(clock, b_to_a, a_to_b);
    hal_b.clock_offset_ns = 3'000'000'000;  // B's card has been up for a while
    Supervisor b(hal_b, Pair::Config(2));
    run(b, 2 * kMs);
  }
  ASSERT_GT(a.counters().heartbeats_received, 10u);
  testing::FakeHal hal_b2(clock, b_to_a, a_to_b);  // B's card reboots: its clock starts low
  Supervisor b2(hal_b2, Pair::Config(2));
  const uint64_t before = a.counters().heartbeats_received;
  run(b2, 2 * kMs);
  EXPECT_EQ(a.counters().peer_clock_resets, 1u);
  EXPECT_GT(a.counters().heartbeats_received, before + 10);
  EXPECT_FALSE(a.peer_suspected());
}

TEST(SupervisorConfigTest, RejectsBadConfig) {
  SupervisorConfig c;
  EXPECT_TRUE(ValidateConfig(c).has_value());
  c.suspect_after_missed = 0;
  ASSERT_FALSE(ValidateConfig(c).has_value());
  EXPECT_EQ(ValidateConfig(c).error(), SupervisorError::kZeroSuspectAfter);
  EXPECT_STRNE(SupervisorErrorMessage(ValidateConfig(c).error()), "unknown supervisor error");
  c = SupervisorConfig{};
  c.host_watchdog_ns = 1;
  EXPECT_EQ(ValidateConfig(c).error(), SupervisorError::kWatchdogShorterThanHeartbeat);
}

}  // namespace
}  // namespace twinstep::firmware
