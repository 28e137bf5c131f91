// Random walks of the SPIN model (twinstep.pml, -DWALK) replayed against the
// etcd witness client (firmware/witness/etcd_witness.cc) and a real etcd: each
// witness request of a walk must get the model's answer, with the model's keys.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "firmware/model/model_walks.h"
#include "firmware/witness/etcd_process.h"
#include "firmware/witness/etcd_witness.h"

namespace twinstep::firmware {
namespace {

using witness::EtcdWitness;

constexpr int kSeeds[] = {1, 2};  // the walks model_replay_test replays against RoleMachine
constexpr size_t kMinWalks = 2000;
constexpr int kNobody = 2;       // the model's NOBODY
constexpr int kNoCommit = 0, kGrant = 1, kCommittedAnswerLost = 2, kDeny = 3;  // WTRACE outcomes

// One walk's two witness clients (node n of the model is node id n + 1) on
// keys of its own, and the witness steps so far, printed on a mismatch.
struct Walk {
  std::unique_ptr<EtcdWitness> client[2];
  std::vector<std::string> steps;
};

std::string Sequence(const Walk& w) {
  std::string s;
  for (size_t i = 0; i < w.steps.size(); ++i) {
    s += (i + 1 == w.steps.size() ? ">> " : "   ") + w.steps[i];
  }
  return s;
}

// What etcd said to one request, as the model would print it.
std::string Answer(const Expected<witness::Decision, witness::WitnessError>& d) {
  if (!d) return std::string("error: ") + witness::WitnessErrorMessage(d.error());
  std::ostringstream o;
  o << (d->granted ? "granted" : "denied") << ", epoch " << d->epoch << ", node " << d->owner << ", owner key "
    << (d->owner_live ? "present" : "absent");
  return o.str();
}

TEST(WitnessReplayTest, EtcdWitnessAnswersAsTheModel) {
  std::string error;
  // No fsync: thousands of transactions, and no decision here depends on
  // durability (etcd is never restarted).
  auto etcd = witness::EtcdProcess::Start(&error, "/tmp", /*unsafe_no_fsync=*/true);
  if (!etcd) GTEST_SKIP() << "cannot start etcd: " << error;
  size_t walks = 0, requests = 0, releases = 0;
  for (int seed : kSeeds) {
    Walk walk;
    size_t walk_no = 0;
    auto begin = [&] {
      for (int n = 0; n < 2; ++n) {
        walk.client[n] = std::make_unique<EtcdWitness>(witness::EtcdWitnessConfig{
            .endpoints = {etcd->endpoint()},
            .pair = "replay-" + std::to_string(seed) + "-" + std::to_string(walk_no),
            .lease_ttl_s = 60,  // lapses only when the model says so (Release)
            .timeout_ms = 5000});
      }
      walk.steps.clear();
    };
    auto finish = [&] {
      for (auto& c : walk.client) EXPECT_TRUE(c->Release());
      ++walk_no;
      ++walks;
      begin();
    };
    begin();
    const bool ran = RunWalks(TWINSTEP_SPIN, TWINSTEP_MODEL_PML, seed, [&](const std::string& line) {
      const size_t t = line.find("WTRACE ");
      if (t == std::string::npos) {
        if (line.find("WALK") != std::string::npos) finish();
        return true;
      }
      walk.steps.push_back(line.substr(t + 7));
      int node = -1, kind = 0, target = 0, outcome = 0, w_ep = 0, w_node = 0, w_owner = 0;
      if (std::sscanf(line.c_str() + t, "WTRACE lease %d", &node) == 1) {
        // The node's lease stopped being renewed (crash, lease fault, stop or fence).
        EXPECT_TRUE(node == 0 || node == 1) << line;
        if (node == 0 || node == 1) {
          EXPECT_TRUE(walk.client[node]->Release()) << line;
        }
        ++releases;
        return !::testing::Test::HasFailure();
      }
      if (std::sscanf(line.c_str() + t, "WTRACE req %d %d %d %d %d %d %d", &node, &kind, &target, &outcome, &w_ep,
                      &w_node, &w_owner) != 7 ||
          (node != 0 && node != 1) || target < 1) {
        ADD_FAILURE() << "malformed witness step: " << line;
        return false;
      }
      if (outcome == kNoCommit) return true;  // lost on its way to etcd: nothing happened there
      const auto d = walk.client[node]->Arbitrate(uint32_t(node + 1), static_cast<ArbitrationKind>(kind),
                                                  uint64_t(target - 1));
      ++requests;
      bool same = false;
      if (d && (outcome == kGrant || outcome == kCommittedAnswerLost)) {
        same = d->granted && d->epoch == uint64_t(target);
      } else if (d && outcome == kDeny) {
        same = !d->granted && d->epoch == uint64_t(w_ep) && d->owner == uint32_t(w_node + 1) &&
               d->owner_live == (w_owner != kNobody);
      }
      EXPECT_TRUE(same) << "seed " << seed << ", walk " << walk_no << ": etcd answered " << Answer(d)
                        << "\n(step: req <node> <kind 1 cold, 2 failover> <target> <outcome 1 grant, 2 committed "
                           "but lost, 3 deny> <epoch key> <its node> <owner, 2 = none>)\nthe witness steps:\n"
                        << Sequence(walk);
      return same;
    });
    ASSERT_TRUE(ran) << "cannot run " << TWINSTEP_SPIN;
    if (HasFailure()) return;
    finish();  // the walk cut off by the step bound
  }
  std::printf("replayed %zu walks: %zu witness requests, %zu lease releases against etcd\n", walks, requests,
              releases);
  EXPECT_GE(walks, kMinWalks);
}

}  // namespace
}  // namespace twinstep::firmware
