// Random fault schedules for the supervisor pair in fake time: deaths,
// freezes, host deaths, cut and lossy links, witness outages and slowness,
// restarts and rejoins. Safety must hold on every step of every schedule.
#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "firmware/testing/fake_nic.h"

namespace twinstep::firmware {
namespace {

using testing::Node;
using testing::Pair;

constexpr uint64_t kMs = 1'000'000;

// An operator that re-protects: a fenced or stopped node beside a solo one is
// restarted and joined to it (the state transfer itself is not modelled).
void Reprotect(Pair& p, Node& n, Node& other, std::ostringstream& log) {
  if (!n.nic_alive || !n.host_alive || !other.nic_alive) return;
  const Role r = n.sup.role();
  if (other.sup.role() != Role::kSolo) return;
  if (r == Role::kFenced || r == Role::kStopped) {
    n.hal.PostCommand(HostCommand::kRestart);
    log << "restart " << n.node_id << "; ";
  } else if (r == Role::kJoining) {
    n.hal.PostCommand(HostCommand::kJoinComplete, other.sup.epoch());
    other.hal.PostCommand(HostCommand::kPeerJoined);
    log << "join " << n.node_id << "@" << other.sup.epoch() << "; ";
  }
  (void)p;
}

class RandomScheduleTest : public ::testing::TestWithParam<int> {};

TEST_P(RandomScheduleTest, NeverTwoLiveNodesInOneEpoch) {
  const int seed = GetParam();
  std::mt19937_64 rng(seed);
  Pair p(seed);
  p.FormPair();
  std::ostringstream log;
  for (int round = 0; round < 40; ++round) {
    Node& n = rng() % 2 ? p.a : p.b;
    switch (rng() % 10) {
      case 0: n.nic_alive = !n.nic_alive; log << "nic " << n.node_id << "=" << n.nic_alive << "; "; break;
      case 1: n.host_alive = !n.host_alive; log << "host " << n.node_id << "=" << n.host_alive << "; "; break;
      case 2: p.CutLink(!p.a_to_b.faults().cut); log << "cut=" << p.a_to_b.faults().cut << "; "; break;
      case 3: p.witness.available = !p.witness.available; log << "witness=" << p.witness.available << "; "; break;
      case 4:
        p.witness.latency_ns = (rng() % 2) ? 200'000 : 8 * kMs;  // fast, or beyond the timeout
        log << "witness_latency=" << p.witness.latency_ns << "; ";
        break;
      case 5:
        for (testing::FakeLink* l : {&p.a_to_b, &p.b_to_a}) {
          l->faults().drop = (rng() % 4) * 0.1;
          l->faults().duplicate = (rng() % 3) * 0.1;
          l->faults().jitter_ns = (rng() % 3) * 100'000;
        }
        log << "lossy; ";
        break;
      case 6: n.witness_latency_ns = (rng() % 4) * 500'000; break;
      default: Reprotect(p, p.a, p.b, log); Reprotect(p, p.b, p.a, log); break;
    }
    p.RunFor((1 + rng() % 5) * kMs);
    ASSERT_FALSE(p.split_brain_seen) << "seed " << seed << ": " << log.str();
  }
  // Heal everything: with a reachable witness, someone must end up live.
  for (Node* n : {&p.a, &p.b}) n->nic_alive = n->host_alive = true;
  p.CutLink(false);
  p.witness.available = true;
  p.witness.latency_ns = 200'000;
  for (int i = 0; i < 5; ++i) {
    Reprotect(p, p.a, p.b, log);
    Reprotect(p, p.b, p.a, log);
    p.RunFor(5 * kMs);
  }
  EXPECT_FALSE(p.split_brain_seen) << "seed " << seed << ": " << log.str();
  // Healed and connected: a stale node has heard the newer epoch by now.
  EXPECT_FALSE(p.a.sup.gate_open() && p.b.sup.gate_open()) << "seed " << seed << ": " << log.str();
}

INSTANTIATE_TEST_SUITE_P(Seeds, RandomScheduleTest, ::testing::Range(1, 101));

}  // namespace
}  // namespace twinstep::firmware
