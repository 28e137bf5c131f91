// Tests of the host checks and --apply against made-up /sys, /proc and /dev
// trees, and of the checks on this host.
#include "cli/tune/checks.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace twinstep::tune {
namespace {

namespace fs = std::filesystem;

const HostCheck* Find(const std::vector<HostCheck>& checks, const std::string& name) {
  for (const auto& c : checks) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

// A deployed plan: poll loops on 16 and 18, vCPU 20, I/O 21, hugepages on node 1.
Plan DeployedPlan() {
  Plan p;
  p.eal_mode = "deployed";
  p.dedicated = true;
  p.client_pci = "0000:81:00.0";
  p.sync_pci = "0000:81:00.1";
  p.nic_numa = 1;
  p.poll_lcores = {16, 18};
  p.vcpu_cpus = {20};
  p.io_cpus = {21};
  p.isolated_cpus = {16, 17, 18, 19, 20, 21};
  p.hugepages = {{1, 2048, 768}};
  p.dataplane_hugepages_mib = 1024;
  return p;
}

Topology DeployedTopology() {
  Topology t;
  Nic a;
  a.pci = "0000:81:00.0";
  a.netdevs = {"ens801f0"};
  a.driver = "ice";
  a.link_speed_mbps = 1000;
  Nic b;
  b.pci = "0000:81:00.1";
  b.driver = "vfio-pci";
  b.dpdk_bound = true;
  t.nics = {a, b};
  return t;
}

struct FakeHost {
  HostPaths paths;
  fs::path root;
  explicit FakeHost(const std::string& cmdline) {
    root = fs::path(testing::TempDir()) / "tune_fake_host";
    fs::remove_all(root);
    paths = {(root / "sys").string(), (root / "proc").string(), (root / "dev").string()};
    const fs::path node1 = root / "sys/devices/system/node/node1/hugepages/hugepages-2048kB";
    fs::create_directories(node1);
    std::ofstream(node1 / "nr_hugepages") << "0\n";
    fs::create_directories(root / "sys/kernel/mm/hugepages/hugepages-2048kB");
    std::ofstream(root / "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages") << "0\n";
    fs::create_directories(root / "proc");
    std::ofstream(root / "proc/cmdline") << cmdline << "\n";
    fs::create_directories(root / "dev");
  }
};

TEST(Checks, DeployedPlanOnAnUntunedHostSaysWhatToFix) {
  FakeHost host("ro quiet isolcpus=16-19");
  auto checks = RunHostChecks(DeployedTopology(), DeployedPlan(), host.paths, 512);
  const HostCheck* huge = Find(checks, "hugepages");
  ASSERT_NE(huge, nullptr);
  EXPECT_EQ(huge->status, CheckStatus::kFail);
  EXPECT_NE(huge->found.find("node1 has 0, needs 768"), std::string::npos) << huge->found;
  EXPECT_NE(huge->found.find("2048kB: 0 pages, 0 free (node1 0)"), std::string::npos) << huge->found;
  EXPECT_NE(huge->fix.find("--apply"), std::string::npos);
  const HostCheck* iso = Find(checks, "cpu isolation");
  ASSERT_NE(iso, nullptr);
  EXPECT_EQ(iso->status, CheckStatus::kFail);
  EXPECT_NE(iso->kernel_params.find("isolcpus=managed_irq,domain,16-21"), std::string::npos) << iso->kernel_params;
  EXPECT_NE(iso->kernel_params.find("nohz_full=16-21"), std::string::npos);
  const HostCheck* iommu = Find(checks, "iommu + vfio");
  ASSERT_NE(iommu, nullptr);
  EXPECT_EQ(iommu->status, CheckStatus::kFail);
  const HostCheck* bind = Find(checks, "nic binding");
  ASSERT_NE(bind, nullptr);
  EXPECT_EQ(bind->status, CheckStatus::kFail);
  EXPECT_NE(bind->fix.find("ip link set ens801f0 down; dpdk-devbind.py --bind=vfio-pci 0000:81:00.0"),
            std::string::npos)
      << bind->fix;
  EXPECT_EQ(bind->fix.find("0000:81:00.1"), std::string::npos) << "the bound port needs nothing";
  const HostCheck* speed = Find(checks, "nic link speed");
  ASSERT_NE(speed, nullptr);
  EXPECT_EQ(speed->status, CheckStatus::kWarn);
  const std::string params = KernelParamsToAdd(checks);
  EXPECT_NE(params.find("rcu_nocbs=16-21"), std::string::npos) << params;
  EXPECT_NE(params.find("intel_iommu=on iommu=pt"), std::string::npos) << params;
}

TEST(Checks, IsolationAlreadyOnTheCommandLineIsOk) {
  FakeHost host("isolcpus=managed_irq,domain,16-23 nohz_full=16-23 rcu_nocbs=16-23");
  auto checks = RunHostChecks(DeployedTopology(), DeployedPlan(), host.paths, 512);
  EXPECT_EQ(Find(checks, "cpu isolation")->status, CheckStatus::kOk);
  EXPECT_EQ(Find(checks, "cpu isolation")->kernel_params, "");
}

TEST(Checks, ApplyRaisesHugepagesThroughSysfs) {
  FakeHost host("");
  auto actions = ApplyHugepages(DeployedPlan(), host.paths);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_TRUE(actions[0].ok) << actions[0].detail;
  auto checks = RunHostChecks(DeployedTopology(), DeployedPlan(), host.paths, 512);
  EXPECT_EQ(Find(checks, "hugepages")->status, CheckStatus::kOk) << Find(checks, "hugepages")->found;
  // A second apply leaves the count alone.
  auto again = ApplyHugepages(DeployedPlan(), host.paths);
  EXPECT_NE(again[0].detail.find("left as is"), std::string::npos) << again[0].detail;
}

TEST(Checks, ApplyReportsAMissingNode) {
  FakeHost host("");
  Plan plan = DeployedPlan();
  plan.hugepages = {{3, 2048, 10}};
  auto actions = ApplyHugepages(plan, host.paths);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_FALSE(actions[0].ok);
  EXPECT_NE(actions[0].detail.find("node3"), std::string::npos) << actions[0].detail;
}

TEST(Checks, ThisHostRunsEveryCheck) {
  Plan shared;  // a simulation plan, as on a small machine
  auto checks = RunHostChecks(Topology{}, shared, HostPaths{}, 512);
  EXPECT_EQ(checks.size(), 8u);
  for (const auto& c : checks) {
    EXPECT_FALSE(c.found.empty()) << c.name;
    if (c.status != CheckStatus::kOk && c.status != CheckStatus::kInfo) {
      EXPECT_FALSE(c.fix.empty()) << c.name << " has no fix";
    }
  }
  // A simulation plan needs no reboot.
  EXPECT_EQ(KernelParamsToAdd(checks), "");
  if (!fs::exists("/dev/kvm")) {
    EXPECT_EQ(Find(checks, "kvm")->status, CheckStatus::kFail);
  }
}

TEST(Checks, ParseCpuList) {
  EXPECT_EQ(ParseCpuList("managed_irq,domain,2-4,7"), (std::vector<int>{2, 3, 4, 7}));
  EXPECT_EQ(ParseCpuList(""), std::vector<int>{});
  EXPECT_EQ(ParseCpuList("nohz,5"), std::vector<int>{5});
}

}  // namespace
}  // namespace twinstep::tune
