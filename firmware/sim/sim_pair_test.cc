// Two in-process nodes (supervisor + host agent + etcd witness) against a real
// etcd, in real time: the whole arbitration path of a failover.
#include "firmware/sim/sim_node.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "firmware/witness/etcd_process.h"

namespace twinstep::firmware::sim {
namespace {

using namespace std::chrono_literals;

class SimPairTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    etcd_ = witness::EtcdProcess::Start(&error);
    if (!etcd_) GTEST_SKIP() << "cannot start etcd: " << error;
  }

  SimNodeConfig Config(uint32_t id) {
    SimNodeConfig c;
    c.supervisor.node_id = id;
    c.supervisor.local_mac[5] = static_cast<uint8_t>(id);
    c.supervisor.peer_mac[5] = static_cast<uint8_t>(3 - id);
    // 2 ms x 50: a loaded 2-core CI machine can stall a poll loop for tens of
    // milliseconds, which must not fail the pair over by itself.
    c.supervisor.heartbeat_interval_ns = 2'000'000;
    c.supervisor.suspect_after_missed = 50;
    c.supervisor.host_watchdog_ns = 500'000'000;
    c.supervisor.arbitration_retry_ns = 20'000'000;
    c.witness = {.endpoints = {etcd_->endpoint()}, .pair = "simpair", .lease_ttl_s = 5, .timeout_ms = 200};
    c.agent.keepalive_interval_ns = 200'000'000;
    c.agent.lease_deadline_ns = 1'500'000'000;
    return c;
  }

  void Start() {
    a_ = std::make_unique<SimNode>(link_.a(), Config(1));
    b_ = std::make_unique<SimNode>(link_.b(), Config(2));
  }

  // Polls both live nodes until `done` or `limit`; checks the split-brain
  // invariant on every pass. Returns whether `done` held.
  bool RunUntil(const std::function<bool()>& done, std::chrono::milliseconds limit = 5000ms) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (a_alive_) a_->Poll();
      if (b_alive_) b_->Poll();
      const bool a_open = a_alive_ && a_->supervisor().gate_open();
      const bool b_open = b_alive_ && b_->supervisor().gate_open();
      if (a_open && b_open && a_->supervisor().epoch() == b_->supervisor().epoch()) split_brain_ = true;
      if (done()) return true;
    }
    return false;
  }

  void FormPair() {
    a_->Command(HostCommand::kStartAlone);
    ASSERT_TRUE(RunUntil([&] { return a_->supervisor().role() == Role::kSolo; }));
    b_->Command(HostCommand::kJoinComplete, a_->supervisor().epoch());
    ASSERT_TRUE(RunUntil([&] { return b_->supervisor().role() == Role::kSecondary; }));
    a_->Command(HostCommand::kPeerJoined);
    ASSERT_TRUE(RunUntil([&] { return a_->supervisor().role() == Role::kPrimary; }));
    ASSERT_TRUE(RunUntil([&] { return b_->supervisor().counters().heartbeats_received > 5; }));
  }

  std::unique_ptr<witness::EtcdProcess> etcd_;
  LoopbackLink link_;
  std::unique_ptr<SimNode> a_, b_;
  bool a_alive_ = true, b_alive_ = true;
  bool split_brain_ = false;
};

// A host loop that sleeps between the agent's Polls relies on Pending and
// on_post: pending from the NIC's witness request until the answer is in the
// mailbox, and told when the answer is queued.
TEST_F(SimPairTest, HostAgentIsPendingFromRequestToMailboxAndSaysWhenAnAnswerIsQueued) {
  std::atomic<int> posts{0};
  SimNodeConfig c = Config(1);
  c.agent.on_post = [&] { posts.fetch_add(1); };
  SimNode node(link_.a(), c);
  SimNic& nic = node.nic();
  EXPECT_FALSE(node.agent().Pending());
  node.Command(HostCommand::kStartAlone);
  EXPECT_EQ(posts.load(), 1);  // the command itself
  // Until the supervisor asks the witness, the agent only delivers commands.
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (nic.Read(kRegArbSeq) == 0 && std::chrono::steady_clock::now() < end) {
    node.agent().Poll(nic.NowNs());
    node.supervisor().Poll();
  }
  ASSERT_NE(nic.Read(kRegArbSeq), 0u) << "the supervisor never asked the witness";
  EXPECT_FALSE(node.agent().Pending());
  node.agent().Poll(nic.NowNs());  // picks the request up
  EXPECT_TRUE(node.agent().Pending());
  while (posts.load() < 2 && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(posts.load(), 2) << "no answer from the witness";
  EXPECT_TRUE(node.agent().Pending());  // queued, not yet in the mailbox
  node.agent().Poll(nic.NowNs());
  EXPECT_EQ(nic.Read(kRegHostCmd), static_cast<uint32_t>(HostCommand::kWitnessGrant));
  EXPECT_FALSE(node.agent().Pending());
  node.supervisor().Poll();
  EXPECT_EQ(node.supervisor().role(), Role::kSolo);
}

TEST_F(SimPairTest, CutLinkExactlyOneWinsTheOtherFences) {
  Start();
  FormPair();
  link_.Cut(true);
  auto settled = [&] {
    const Role a = a_->supervisor().role(), b = b_->supervisor().role();
    return (a == Role::kSolo && b == Role::kFenced) || (a == Role::kFenced && b == Role::kSolo);
  };
  ASSERT_TRUE(RunUntil(settled));
  RunUntil([] { return false; }, 200ms);
  EXPECT_TRUE(settled());
  EXPECT_NE(a_->supervisor().gate_open(), b_->supervisor().gate_open());
  EXPECT_FALSE(split_brain_);
}

TEST_F(SimPairTest, PrimaryDeathSecondaryGoesSoloAtNewEpoch) {
  Start();
  FormPair();
  a_alive_ = false;
  ASSERT_TRUE(RunUntil([&] { return b_->supervisor().role() == Role::kSolo; }));
  EXPECT_EQ(b_->supervisor().epoch(), 2u);
  EXPECT_EQ(b_->nic().Read(kRegReleaseGate), 1u);
}

TEST_F(SimPairTest, HostDeathStopsItsNodeAndThePeerTakesOver) {
  Start();
  FormPair();
  a_->set_host_alive(false);
  ASSERT_TRUE(RunUntil([&] { return b_->supervisor().role() == Role::kSolo; }));
  EXPECT_EQ(a_->supervisor().role(), Role::kStopped);
  EXPECT_EQ(a_->nic().Read(kRegGuestControl), kGuestStop);
  EXPECT_EQ(b_->supervisor().machine().accepted(Event::kPeerHostDead), 1u);
}

TEST_F(SimPairTest, FrozenEtcdDuringSuspicionNobodyGoesLiveUntilItAnswers) {
  Start();
  FormPair();
  etcd_->Freeze();
  a_alive_ = false;
  EXPECT_FALSE(RunUntil([&] { return b_->supervisor().gate_open(); }, 1000ms));
  EXPECT_EQ(b_->supervisor().role(), Role::kSecondary);
  EXPECT_GE(b_->agent().unavailable(), 1u);
  etcd_->Thaw();
  ASSERT_TRUE(RunUntil([&] { return b_->supervisor().role() == Role::kSolo; }));
}

TEST_F(SimPairTest, SoloWhoseLeaseCannotBeRenewedFencesItself) {
  Start();
  FormPair();
  b_alive_ = false;
  ASSERT_TRUE(RunUntil([&] { return a_->supervisor().role() == Role::kSolo; }));
  etcd_->Freeze();  // renewals time out from now on
  ASSERT_TRUE(RunUntil([&] { return a_->supervisor().role() == Role::kFenced; }));
  etcd_->Thaw();
  EXPECT_EQ(a_->supervisor().machine().accepted(Event::kLeaseExpired), 1u);
  EXPECT_GE(a_->agent().keepalive_failures(), 1u);
  EXPECT_FALSE(a_->supervisor().gate_open());
}

// An operator stop of the owner must free the pair: its agent gives the lease
// (and the owner key on it) up, so a restart cold-starts at once instead of
// being refused by its own still-renewed owner key.
TEST_F(SimPairTest, StoppedOwnerGivesItsLeaseUpAndRestartsAlone) {
  Start();
  b_alive_ = false;
  a_->Command(HostCommand::kStartAlone);
  ASSERT_TRUE(RunUntil([&] { return a_->supervisor().role() == Role::kSolo; }));
  witness::EtcdWitness observer({.endpoints = {etcd_->endpoint()}, .pair = "simpair", .timeout_ms = 200});
  auto owned = observer.Read();
  ASSERT_TRUE(owned);
  EXPECT_TRUE(owned->owner_live);
  a_->Command(HostCommand::kStop);
  ASSERT_TRUE(RunUntil([&] { return a_->supervisor().role() == Role::kStopped; }));
  // Longer than several keepalive intervals: a renewing agent would show here.
  ASSERT_TRUE(RunUntil([&] {
    auto d = observer.Read();
    return d && !d->owner_live;
  }));
  a_->Command(HostCommand::kRestart);
  ASSERT_TRUE(RunUntil([&] { return a_->supervisor().role() == Role::kJoining; }));
  a_->Command(HostCommand::kStartAlone);
  ASSERT_TRUE(RunUntil([&] { return a_->supervisor().role() != Role::kJoining; }));
  EXPECT_EQ(a_->supervisor().role(), Role::kSolo);
  EXPECT_EQ(a_->supervisor().epoch(), 2u);
}

}  // namespace
}  // namespace twinstep::firmware::sim
