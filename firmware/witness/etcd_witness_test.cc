// The etcd witness against a real etcd started on loopback by the test.
#include "firmware/witness/etcd_witness.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "firmware/witness/etcd_process.h"

namespace twinstep::witness {
namespace {

using firmware::ArbitrationKind;
using namespace std::chrono_literals;

class EtcdWitnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    etcd_ = EtcdProcess::Start(&error);
    if (!etcd_) GTEST_SKIP() << "cannot start etcd: " << error;
  }
  EtcdWitnessConfig Config(int64_t ttl_s = 10) {
    return {.endpoints = {etcd_->endpoint()}, .pair = "t", .lease_ttl_s = ttl_s, .timeout_ms = 300};
  }
  std::unique_ptr<EtcdProcess> etcd_;
};

TEST_F(EtcdWitnessTest, ColdStartThenSecondColdStartDeniedWhileOwnerLive) {
  EtcdWitness a(Config()), b(Config());
  auto d = a.Arbitrate(1, ArbitrationKind::kColdStart, 0);
  ASSERT_TRUE(d) << WitnessErrorMessage(d.error());
  EXPECT_TRUE(d->granted);
  EXPECT_EQ(d->epoch, 1u);
  auto s = b.Read();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->epoch, 1u);
  EXPECT_EQ(s->owner, 1u);
  EXPECT_TRUE(s->owner_live);
  // Node 2 claims the same epoch as its own: the epoch alone would let it win,
  // but a cold start needs nobody live.
  d = b.Arbitrate(2, ArbitrationKind::kColdStart, 1);
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->granted);
  EXPECT_EQ(d->owner, 1u);
}

TEST_F(EtcdWitnessTest, ConcurrentFailoverExactlyOneWinsEachEpoch) {
  EtcdWitness a(Config()), b(Config());
  ASSERT_TRUE(a.Arbitrate(1, ArbitrationKind::kColdStart, 0));
  uint64_t epoch = 1;
  for (int round = 0; round < 40; ++round) {
    Expected<Decision, WitnessError> da = Decision{}, db = Decision{};
    std::thread ta([&] { da = a.Arbitrate(1, ArbitrationKind::kFailover, epoch); });
    std::thread tb([&] { db = b.Arbitrate(2, ArbitrationKind::kFailover, epoch); });
    ta.join();
    tb.join();
    ASSERT_TRUE(da && db) << "round " << round;
    ASSERT_NE(da->granted, db->granted) << "round " << round << ": exactly one wins";
    const Decision& win = da->granted ? *da : *db;
    const Decision& lose = da->granted ? *db : *da;
    EXPECT_EQ(win.epoch, epoch + 1);
    EXPECT_EQ(lose.epoch, epoch + 1) << "the loser learns the epoch that beat it";
    epoch = win.epoch;
  }
  EXPECT_EQ(a.Read()->epoch, 41u);
}

TEST_F(EtcdWitnessTest, StaleEpochRefused) {
  EtcdWitness a(Config()), b(Config());
  ASSERT_TRUE(a.Arbitrate(1, ArbitrationKind::kColdStart, 0)->granted);
  ASSERT_TRUE(a.Arbitrate(1, ArbitrationKind::kFailover, 1)->granted);
  ASSERT_TRUE(a.Arbitrate(1, ArbitrationKind::kFailover, 2)->granted);
  for (uint64_t old = 0; old < 3; ++old) {
    auto d = b.Arbitrate(2, ArbitrationKind::kFailover, old);
    ASSERT_TRUE(d);
    EXPECT_FALSE(d->granted) << "epoch " << old;
    EXPECT_EQ(d->epoch, 3u);
  }
  // Even the owner cannot reuse an old epoch.
  EXPECT_FALSE(a.Arbitrate(1, ArbitrationKind::kFailover, 1)->granted);
}

TEST_F(EtcdWitnessTest, RepeatedRequestAfterLostAnswerIsGrantedAgain) {
  EtcdWitness a(Config()), a_restarted(Config()), b(Config());
  ASSERT_TRUE(a.Arbitrate(1, ArbitrationKind::kColdStart, 0)->granted);
  ASSERT_TRUE(a.Arbitrate(1, ArbitrationKind::kFailover, 1)->granted);
  // The answer was lost to a timeout; the agent asks again (with a new lease).
  auto again = a_restarted.Arbitrate(1, ArbitrationKind::kFailover, 1);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->granted);
  EXPECT_EQ(again->epoch, 2u);
  EXPECT_FALSE(b.Arbitrate(2, ArbitrationKind::kFailover, 1)->granted);
}

TEST_F(EtcdWitnessTest, LeaseExpiryFreesTheOwnerKeyButNotTheEpoch) {
  EtcdWitness a(Config(/*ttl_s=*/2)), b(Config());
  ASSERT_TRUE(a.Arbitrate(1, ArbitrationKind::kColdStart, 0)->granted);
  for (int i = 0; i < 6; ++i) {  // renewed: stays live past its TTL
    std::this_thread::sleep_for(500ms);
    ASSERT_TRUE(a.KeepAlive());
  }
  ASSERT_TRUE(b.Read()->owner_live);
  bool expired = false;
  for (int i = 0; i < 100 && !expired; ++i) {  // no more renewals: up to 10 s
    std::this_thread::sleep_for(100ms);
    expired = !b.Read()->owner_live;
  }
  ASSERT_TRUE(expired);
  auto ka = a.KeepAlive();
  ASSERT_FALSE(ka);
  EXPECT_EQ(ka.error(), WitnessError::kLeaseNotFound);
  EXPECT_EQ(b.Read()->epoch, 1u) << "the epoch fence outlives the lease";
  EXPECT_FALSE(b.Arbitrate(2, ArbitrationKind::kColdStart, 0)->granted) << "stale even with nobody live";
  auto d = b.Arbitrate(2, ArbitrationKind::kColdStart, 1);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->granted) << "nobody live, epoch current: a cold start may proceed";
  EXPECT_FALSE(a.Arbitrate(1, ArbitrationKind::kFailover, 1)->granted);
}

// A stopped owner gives its lease up: the owner key goes at once (no TTL to
// wait out), the epoch stays, and the owner's next request takes a new lease.
TEST_F(EtcdWitnessTest, ReleaseDropsTheOwnerKeyAtOnce) {
  EtcdWitness a(Config(/*ttl_s=*/60)), b(Config());
  ASSERT_TRUE(a.Arbitrate(1, ArbitrationKind::kColdStart, 0));
  const int64_t first_lease = a.lease_id();
  ASSERT_TRUE(a.Release());
  EXPECT_EQ(a.lease_id(), 0);
  auto s = b.Read();
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->owner_live);
  EXPECT_EQ(s->epoch, 1u);
  EXPECT_TRUE(a.Release());  // nothing held: nothing to do
  auto d = a.Arbitrate(1, ArbitrationKind::kColdStart, 1);
  ASSERT_TRUE(d) << WitnessErrorMessage(d.error());
  EXPECT_TRUE(d->granted);
  EXPECT_EQ(d->epoch, 2u);
  EXPECT_NE(a.lease_id(), first_lease);
  s = b.Read();
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->owner_live);
}

TEST_F(EtcdWitnessTest, UnreachableEtcdIsNoAnswer) {
  EtcdWitness a(Config());
  etcd_->Kill();
  auto d = a.Arbitrate(1, ArbitrationKind::kColdStart, 0);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error(), WitnessError::kUnreachable);
  EXPECT_FALSE(a.KeepAlive());
}

TEST_F(EtcdWitnessTest, DeadMemberIsSkippedForALiveOne) {
  EtcdWitnessConfig c = Config();
  std::string error;
  auto dead = EtcdProcess::Start(&error);
  ASSERT_TRUE(dead) << error;
  c.endpoints = {dead->endpoint(), etcd_->endpoint()};
  dead->Kill();
  EtcdWitness a(c);
  auto d = a.Arbitrate(1, ArbitrationKind::kColdStart, 0);
  ASSERT_TRUE(d) << WitnessErrorMessage(d.error());
  EXPECT_TRUE(d->granted);
  c.endpoints = {dead->endpoint()};
  EtcdWitness b(c);
  auto none = b.Read();
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(), WitnessError::kUnreachable);
}

TEST_F(EtcdWitnessTest, SlowEtcdTimesOutThenRecovers) {
  EtcdWitness a(Config());
  ASSERT_TRUE(a.Arbitrate(1, ArbitrationKind::kColdStart, 0)->granted);
  etcd_->Freeze();
  auto d = a.Arbitrate(1, ArbitrationKind::kFailover, 1);
  etcd_->Thaw();
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error(), WitnessError::kTimeout);
  auto again = a.Arbitrate(1, ArbitrationKind::kFailover, 1);
  ASSERT_TRUE(again) << WitnessErrorMessage(again.error());
  EXPECT_TRUE(again->granted);
}

TEST(EtcdWitnessCodecTest, EpochValueOrdersNumericallyAndParses) {
  EXPECT_LT(EtcdWitness::EpochValue(9, 1), EtcdWitness::PaddedEpoch(10));
  EXPECT_LT(EtcdWitness::EpochValue(99, 2), EtcdWitness::PaddedEpoch(100));
  EXPECT_FALSE(EtcdWitness::EpochValue(10, 1) < EtcdWitness::PaddedEpoch(10));
  uint64_t e = 0;
  uint32_t o = 0;
  ASSERT_TRUE(EtcdWitness::ParseEpochValue(EtcdWitness::EpochValue(12345, 7), &e, &o));
  EXPECT_EQ(e, 12345u);
  EXPECT_EQ(o, 7u);
  EXPECT_FALSE(EtcdWitness::ParseEpochValue("12/3", &e, &o));
  EXPECT_FALSE(EtcdWitness::ParseEpochValue("0000000000000000000x/3", &e, &o));
  EXPECT_FALSE(EtcdWitness::ParseEpochValue("00000000000000000001/99999999999", &e, &o));
}

}  // namespace
}  // namespace twinstep::witness
