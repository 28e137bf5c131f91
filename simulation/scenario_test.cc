// Scenario files: every shipped scenario loads, and each kind of mistake is
// refused with the file, line and key that hold it.
#include "simulation/scenario.h"

#include <filesystem>

#include <gtest/gtest.h>

namespace twinstep::sim {
namespace {

std::string ErrorOf(std::string_view text) {
  auto sc = ParseScenario(text, "t.toml");
  EXPECT_FALSE(sc.has_value()) << text;
  return sc ? "" : sc.error().detail;
}

TEST(ScenarioTest, EveryShippedScenarioLoads) {
  int n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(TWINSTEP_SCENARIO_DIR)) {
    if (e.path().extension() != ".toml") continue;
    auto sc = LoadScenario(e.path().string());
    ASSERT_TRUE(sc.has_value()) << sc.error().Message();
    EXPECT_FALSE(sc->steps.empty()) << e.path();
    ++n;
  }
  EXPECT_GE(n, 6);
  auto hw = LoadScenario(TWINSTEP_HWTEST_SCENARIO);  // run only on hardware KVM: its mistakes would show late
  ASSERT_TRUE(hw.has_value()) << hw.error().Message();
  EXPECT_EQ(hw->guest, "linux");
}

TEST(ScenarioTest, NodeTableSetsTheNodeConfigAndKeepsItsDefaults) {
  auto sc = ParseScenario("[node]\ncheckpoint_period_ms = 250\nheartbeat_miss_k = 7\nmemory_mib = 128\n", "t.toml");
  ASSERT_TRUE(sc.has_value()) << sc.error().Message();
  EXPECT_EQ(sc->node.config.replication.checkpoint_period_ms, 250);
  EXPECT_EQ(sc->node.config.replication.heartbeat_miss_k, 7);
  EXPECT_EQ(sc->node.config.guest.memory_mib, 128);
  const config::NodeConfig defaults;
  EXPECT_EQ(sc->node.config.replication.compare_timeout_us, defaults.replication.compare_timeout_us);
  EXPECT_EQ(sc->node.config.witness.lease_ttl_s, defaults.witness.lease_ttl_s);
}

TEST(ScenarioTest, NodeRangesAndChoicesAreTheNodeConfigs) {
  EXPECT_EQ(ErrorOf("[node]\nheartbeat_miss_k = 1\n"), "t.toml:2: node.heartbeat_miss_k: out of range [2, 1000]");
  EXPECT_EQ(ErrorOf("[node]\n\ncomparator = \"fast\"\n"),
            "t.toml:3: node.comparator: 'fast' is not one of software|rtl|xrt");
  EXPECT_EQ(ErrorOf("[node]\nmemory_mib = \"lots\"\n"), "t.toml:2: node.memory_mib: expected an integer");
  EXPECT_EQ(ErrorOf("[node]\nperiod = 3\n"), "t.toml:2: node.period: unknown key");
}

TEST(ScenarioTest, MistakesNameFileLineAndKey) {
  EXPECT_EQ(ErrorOf("nmae = \"x\"\n"), "t.toml:1: nmae: unknown key");
  EXPECT_EQ(ErrorOf("guest = \"vm\"\n"), "t.toml:1: guest: 'vm' is not one of auto / test / soft / linux");
  EXPECT_EQ(ErrorOf("[workload]\nrate = 0\n"), "t.toml:2: workload.rate: out of range [1, 1e+06]");
  EXPECT_EQ(ErrorOf("[[step]]\ndo = \"kill9 node-c\"\n"),
            "t.toml:2: step[0].do: 'node-c' is not a node (node-a, node-b)");
  EXPECT_EQ(ErrorOf("[[step]]\nat = 5\ndo = \"sleep 1\"\n[[step]]\nat = 2\ndo = \"sleep 1\"\n"),
            "t.toml:5: step[1].at: 2.000000 s is before an earlier step's time");
  EXPECT_NE(ErrorOf("name = \n").find("t.toml:1:"), std::string::npos);  // TOML syntax
}

TEST(ScenarioTest, StepsParse) {
  auto w = ParseStep("wait node-b role=secondary|solo timeout=30");
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->action, Action::kWait);
  EXPECT_EQ(w->node, 1);
  EXPECT_EQ(w->roles, (std::vector<std::string>{"secondary", "solo"}));
  EXPECT_EQ(w->timeout_s, 30);
  auto c = ParseStep("corrupt node-b kv_store+64 16");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->gpa_symbol, "kv_store");
  EXPECT_EQ(c->gpa, 64u);
  EXPECT_EQ(c->len, 16u);
  auto l = ParseStep("sync-loss 1%");
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->percent, 1);
  EXPECT_FALSE(ParseStep("sync-loss 101%").has_value());
  EXPECT_FALSE(ParseStep("slow node-a 0 5").has_value());
  EXPECT_FALSE(ParseStep("wait node-a role=leader").has_value());
  EXPECT_FALSE(ParseStep("corrupt node-a 0x1000 0").has_value());
  EXPECT_FALSE(ParseStep("teleport node-a").has_value());
  auto cl = ParseStep("client  curl -sf http://$GUEST_IP/ -o $OUT/x");
  ASSERT_TRUE(cl.has_value());
  EXPECT_EQ(cl->command, "curl -sf http://$GUEST_IP/ -o $OUT/x");
  EXPECT_FALSE(ParseStep("client").has_value());
  auto st = ParseStep("stall node-b 4000");
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->stall_ms, 4000u);
  EXPECT_FALSE(ParseStep("stall node-b 0").has_value());
}

}  // namespace
}  // namespace twinstep::sim
