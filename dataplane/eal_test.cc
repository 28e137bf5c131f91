// EAL set-up: the command line for both worlds, and the plain errors for too
// few lcores, an unavailable lcore, an occupied file prefix and a bad PMD
// argument (each in its own process: one EAL per process).
#include "dataplane/eal.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "dataplane/node_setup.h"
#include "dataplane/testing/node_process.h"

namespace twinstep::dataplane {
namespace {

bool Has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }
std::string After(const std::vector<std::string>& v, const std::string& s) {
  auto it = std::find(v.begin(), v.end(), s);
  return it == v.end() || it + 1 == v.end() ? "" : *(it + 1);
}

TEST(EalArgsTest, SimulationRunsWithoutHugepagesOrPci) {
  EalConfig c;
  c.file_prefix = "node-a";
  c.lcores = {1};
  const auto a = BuildEalArgs(c);
  EXPECT_TRUE(Has(a, "--no-huge"));
  EXPECT_TRUE(Has(a, "--no-pci"));
  EXPECT_EQ(After(a, "--file-prefix"), "node-a");
  EXPECT_EQ(After(a, "-l"), "0,1");
  EXPECT_EQ(After(a, "-m"), "256");
  c.float_cpus = {0, 1};
  const auto f = BuildEalArgs(c);
  EXPECT_FALSE(Has(f, "-l"));
  EXPECT_EQ(After(f, "--lcores"), "0@(0,1),1@(0,1)");
}

TEST(EalArgsTest, DeployedAsksForHugepagesOnTheNicsNode) {
  EalConfig c;
  c.mode = EalMode::kDeployed;
  c.main_lcore = 2;
  c.lcores = {3, 4};
  c.hugepages_mib = 1024;
  c.numa_node = 1;
  const auto a = BuildEalArgs(c);
  EXPECT_FALSE(Has(a, "--no-huge"));
  EXPECT_FALSE(Has(a, "--no-pci"));
  EXPECT_EQ(After(a, "--socket-mem"), "0,1024");
  EXPECT_EQ(After(a, "--main-lcore"), "2");
  EXPECT_EQ(After(a, "-l"), "2,3,4");
}

TEST(EalArgsTest, NodeConfigTranslatesAndRefusesUnknownModes) {
  config::NodeConfig nc;
  nc.dataplane.lcores = {1};
  nc.dataplane.poll_mode = "busy";
  auto s = SetupFromNodeConfig(nc);
  ASSERT_TRUE(s.has_value()) << s.error().Message();
  EXPECT_EQ(s->eal.mode, EalMode::kSimulation);
  EXPECT_EQ(s->eal.file_prefix, "twinstep-node-a");
  EXPECT_TRUE(s->idle.busy_poll);
  EXPECT_TRUE(s->eal.float_cpus.empty()) << "busy polling pins";
  nc.dataplane.poll_mode = "adaptive";
  auto adaptive = SetupFromNodeConfig(nc);
  ASSERT_TRUE(adaptive.has_value());
  EXPECT_EQ(adaptive->eal.float_cpus, (std::vector<int>{0, 1}));
  nc.dataplane.poll_mode = "busy";
  EXPECT_EQ(s->client.device, "net_af_packet0");
  EXPECT_EQ(s->sync.device, "net_memif0");
  nc.dataplane.eal_mode = "cloud";
  auto bad = SetupFromNodeConfig(nc);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().Message().find("dataplane.eal_mode 'cloud'"), std::string::npos);
}

TEST(EalArgsTest, PipelineSettingsComeFromReplication) {
  config::NodeConfig nc;
  nc.replication.compare_timeout_us = 2000;
  nc.replication.heartbeat_interval_ms = 10;
  auto pc = PipelineConfigFromNode(nc, Role::kPrimary);
  ASSERT_TRUE(pc.has_value());
  EXPECT_EQ(pc->role, Role::kPrimary);
  EXPECT_EQ(pc->comparator.compare_timeout_ns, 2'000'000u);
  EXPECT_EQ(pc->advance_interval_ns, 50'000u);
  EXPECT_EQ(pc->heartbeat_interval_ns, 10'000'000u);
  EXPECT_FALSE(pc->idle.busy_poll);
  nc.replication.compare_timeout_us = 0;
  EXPECT_FALSE(PipelineConfigFromNode(nc, Role::kSolo).has_value());
}

// Only a memif sync link with sleeping poll loops gets the same-host bell,
// named after its socket; the memif server is side 0.
TEST(EalArgsTest, SyncBellFollowsTheMemifSocketAndRole) {
  config::NodeConfig nc;
  nc.dataplane.poll_mode = "adaptive";
  nc.dataplane.sync.device = "net_memif0";
  nc.dataplane.sync.args = "role=server,socket=/tmp/x.sync,bsize=9216";
  auto server = SyncBell(nc);
  ASSERT_TRUE(server);
  EXPECT_EQ(server->base, "/tmp/x.sync");
  EXPECT_EQ(server->side, 0);
  nc.dataplane.sync.args = "socket=/tmp/x.sync";
  auto client = SyncBell(nc);
  ASSERT_TRUE(client);
  EXPECT_EQ(client->side, 1) << "memif's default role is client";
  nc.dataplane.poll_mode = "busy";
  EXPECT_FALSE(SyncBell(nc)) << "busy polling: nobody sleeps";
  nc.dataplane.poll_mode = "adaptive";
  nc.dataplane.sync.device = "net_af_packet1";
  EXPECT_FALSE(SyncBell(nc)) << "another host may be behind af_packet";
}

// A node config file drives the node helper; its errors name the port.
TEST(EalProcessTest, NodeConfigFileDrivesTheEal) {
  const std::string path = "/tmp/twdp-eal-" + std::to_string(getpid()) + ".toml";
  {
    std::ofstream out(path);
    out << "[dataplane]\nfile_prefix = \"twdp-cfg-" << getpid() << "\"\n"
        << "[dataplane.client]\ndevice = \"net_memif7\"\nargs = \"role=nonsense\"\n";
  }
  testing::NodeProcess p(TWINSTEP_DATAPLANE_NODE, {"--config", path, "--check-only"});
  auto run = p.Stop(false, 120);
  std::remove(path.c_str());
  EXPECT_EQ(run.exit_code, 4) << run.output;
  EXPECT_NE(run.output.find("client port 'net_memif7,role=nonsense'"), std::string::npos) << run.output;
  RemoveRuntimeDir("twdp-cfg-" + std::to_string(getpid()));
}

TEST(EalCheckTest, LcoreChecks) {
  EalConfig c;
  c.required_lcores = 3;
  auto few = CheckLcores(c);
  ASSERT_FALSE(few.has_value());
  EXPECT_EQ(few.error().code, EalErrc::kTooFewLcores);
  c.required_lcores = 1;
  c.lcores = {4096};
  auto missing = CheckLcores(c);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, EalErrc::kLcoreUnavailable);
  c.lcores = {0};
  auto twice = CheckLcores(c);
  ASSERT_FALSE(twice.has_value());
  EXPECT_EQ(twice.error().code, EalErrc::kBadConfig);
  EXPECT_FALSE(CheckFilePrefix("a/b").has_value());
}

// Runs dataplane_node --check-only and returns its exit code and output.
testing::NodeRun CheckOnly(std::vector<std::string> args) {
  args.push_back("--check-only");
  testing::NodeProcess p(TWINSTEP_DATAPLANE_NODE, args);
  return p.Stop(/*terminate=*/false, 120);
}

TEST(EalProcessTest, ErrorsAreNamedPlainly) {
  const std::string prefix = "twdp-eal-" + std::to_string(getpid());
  const std::string null_port = "net_null0,no-rx=1";
  auto ok = CheckOnly({"--prefix", prefix + "-ok", "--client", null_port});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;

  auto lcores = CheckOnly({"--prefix", prefix + "-l", "--client", null_port, "--required-lcores", "3"});
  EXPECT_EQ(lcores.exit_code, 3);
  EXPECT_NE(lcores.output.find("too few lcores"), std::string::npos) << lcores.output;

  auto unavailable = CheckOnly({"--prefix", prefix + "-u", "--client", null_port, "--lcore", "4000"});
  EXPECT_EQ(unavailable.exit_code, 3);
  EXPECT_NE(unavailable.output.find("lcore 4000"), std::string::npos) << unavailable.output;

  auto pmd = CheckOnly({"--prefix", prefix + "-p", "--client", "net_memif5,role=bogus"});
  EXPECT_EQ(pmd.exit_code, 4);
  EXPECT_NE(pmd.output.find("refused the port"), std::string::npos) << pmd.output;
  EXPECT_NE(pmd.output.find("client port 'net_memif5,role=bogus'"), std::string::npos) << pmd.output;

  // A node holds the prefix; a second one with the same prefix is told so.
  testing::NodeProcess holder(TWINSTEP_DATAPLANE_NODE, {"--prefix", prefix, "--client", null_port});
  ASSERT_TRUE(holder.WaitFor("ready", 120));
  auto busy = CheckOnly({"--prefix", prefix, "--client", null_port});
  EXPECT_EQ(busy.exit_code, 3);
  EXPECT_NE(busy.output.find("file prefix is in use"), std::string::npos) << busy.output;
  EXPECT_EQ(holder.Stop().exit_code, 0);
  for (const char* suffix : {"", "-ok", "-l", "-u", "-p"}) EXPECT_TRUE(RemoveRuntimeDir(prefix + suffix));
}

}  // namespace
}  // namespace twinstep::dataplane
