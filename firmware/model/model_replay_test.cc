// Random walks of the SPIN model (twinstep.pml, -DWALK) replayed against the
// firmware's RoleMachine: every step must end in the role and epoch the model took.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "firmware/role.h"
#include "firmware/trace.h"

namespace twinstep::firmware {
namespace {

// Fault budgets of the walks: larger than the exhaustive checks', since a walk
// is one path, not all of them.
constexpr const char* kWalkFlags =
    "-DWALK -DCRASHES=2 -DFALSESUSP=2 -DLINKFAULTS=3 -DWFAULTS=2 -DLEASEFAULTS=1";
constexpr long kStepsPerSeed = 1500000;  // about 2000 walks per seed
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
    // spin preprocesses into its working directory: give it a scratch one.
    const std::string cmd = std::string("d=$(mktemp -d) && cd \"$d\" && ") + TWINSTEP_SPIN + " " + kWalkFlags +
                            " -n" + std::to_string(seed) + " -u" + std::to_string(kStepsPerSeed) + " " +
                            TWINSTEP_MODEL_PML + " 2>&1; cd / && rm -rf \"$d\"";
    FILE* out = popen(cmd.c_str(), "r");
    ASSERT_NE(out, nullptr) << cmd;
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
    char buf[512];
    while (fgets(buf, sizeof buf, out) != nullptr) {
      const std::string line(buf);
      if (line.find("spin: ") != std::string::npos && line.find("error") != std::string::npos) {
        ADD_FAILURE() << "spin: " << line;
      }
      const size_t t = line.find("TRACE ");
      if (t != std::string::npos && t + 8 < line.size()) {
        const int node = line[t + 6] - '0';
        ASSERT_TRUE(node == 0 || node == 1) << line;
        walk.node_trace[node] += line.substr(t + 8);
        ++steps;
      } else if (line.find("WALK") != std::string::npos) {
        finish();
      }
      if (HasFailure()) break;
    }
    pclose(out);
    if (HasFailure()) return;
    finish();  // the walk cut off by the step bound
  }
  std::printf("replayed %zu walks, %zu steps\n", walks, steps);
  EXPECT_GE(walks, kMinWalks);
}

}  // namespace
}  // namespace twinstep::firmware
