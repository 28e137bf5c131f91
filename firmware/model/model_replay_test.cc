// Random walks of the SPIN model (twinstep.pml, -DWALK) replayed against the
// firmware's RoleMachine: every step must end in the role and epoch the model took.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "firmware/model/model_walks.h"
#include "firmware/role.h"
#include "firmware/trace.h"

namespace twinstep::firmware {
namespace {

constexpr int kSeeds[] = {1, 2};
constexpr size_t kMinWalks = 2000;

struct Walk {
  std::string node_trace[2];  // one trace per node, in trace.h's format
};

// Replays one node's trace; on a mismatch, says where and prints the sequence.
::testing::AssertionResult Replays(const std::string& trace, int seed, size_t walk, int node) {
  RoleMachine m;
  const ReplayResult r = ReplayTrace(trace, m);
  if (r.ok) return ::testing::AssertionSuccess();
  auto failure = ::testing::AssertionFailure();
  failure << "seed " << seed << ", walk " << walk << ", node " << node << ": line " << r.line;
  if (r.parse_failed) {
    failure << ": " << TraceErrorMessage(r.error);
  } else {
    failure << ": the model expects " << RoleName(r.step.role) << " " << r.step.epoch
            << ", the firmware took " << RoleName(r.got.role) << " " << r.got.epoch;
  }
  failure << "\nthe sequence:\n";
  size_t line = 1, start = 0;
  while (start < trace.size()) {
    const size_t nl = trace.find('\n', start);
    failure << (line == r.line ? ">> " : "   ") << line << "  " << trace.substr(start, nl - start) << "\n";
    if (line == r.line) break;
    start = nl + 1;
    ++line;
  }
  return failure;
}

TEST(ModelReplayTest, FirmwareTakesTheModelsTransitions) {
  size_t walks = 0, steps = 0;
  for (int seed : kSeeds) {
    Walk walk;
    size_t walk_no = 0;
    auto finish = [&] {
      for (int n = 0; n < 2; ++n) {
        EXPECT_TRUE(Replays(walk.node_trace[n], seed, walk_no, n));
        walk.node_trace[n].clear();
      }
      ++walk_no;
      ++walks;
    };
    const bool ran = RunWalks(TWINSTEP_SPIN, TWINSTEP_MODEL_PML, seed, [&](const std::string& line) {
      if (line.find("spin: ") != std::string::npos && line.find("error") != std::string::npos) {
        ADD_FAILURE() << "spin: " << line;
      }
      const size_t t = line.find("TRACE ");
      if (t != std::string::npos && t + 8 < line.size() && (t == 0 || line[t - 1] == ' ')) {
        const int node = line[t + 6] - '0';
        EXPECT_TRUE(node == 0 || node == 1) << line;
        if (node == 0 || node == 1) walk.node_trace[node] += line.substr(t + 8);
        ++steps;
      } else if (line.find("WALK") != std::string::npos) {
        finish();
      }
      return !HasFailure();
    });
    ASSERT_TRUE(ran) << "cannot run " << TWINSTEP_SPIN;
    if (HasFailure()) return;
    finish();  // the walk cut off by the step bound
  }
  std::printf("replayed %zu walks, %zu steps\n", walks, steps);
  EXPECT_GE(walks, kMinWalks);
}

}  // namespace
}  // namespace twinstep::firmware
