// Tests of the core planner on a 2-socket server, an 8-core box and this
// machine: poll loops NIC-local and alone on their core, housekeeping apart.
#include "cli/tune/plan.h"

#include <algorithm>
#include <map>
#include <set>

#include <gtest/gtest.h>

namespace twinstep::tune {
namespace {

const std::string kTestdata = TWINSTEP_TUNE_TESTDATA;

Topology Load(TopologySource::Kind kind, const std::string& arg, const std::string& sysfs = "") {
  auto t = LoadTopology({kind, arg, sysfs, kind == TopologySource::Kind::kHost ? "/proc/net/route" : ""});
  EXPECT_TRUE(t.has_value()) << (t.has_value() ? "" : t.error().Message());
  return t.has_value() ? *t : Topology{};
}

Topology TwoSocket() { return Load(TopologySource::Kind::kXml, kTestdata + "/two_socket_smt_nic.xml"); }

bool Contains(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// What every plan must hold, whatever the machine.
void CheckInvariants(const Topology& t, const Plan& plan, const PlanRequest& req) {
  std::map<int, std::set<CpuRole>> roles;
  for (const auto& a : plan.cpus) {
    EXPECT_FALSE(a.reason.empty()) << "CPU " << a.cpu << " " << CpuRoleName(a.role);
    roles[a.cpu].insert(a.role);
  }
  // Every hardware thread has a role.
  for (const auto& c : t.cores) {
    for (int pu : c.pus) EXPECT_TRUE(roles.count(pu)) << "CPU " << pu << " has no role";
  }
  EXPECT_EQ(static_cast<int>(plan.vcpu_cpus.size()), req.vcpus);
  auto config = ConfigFromPlan(plan, req);
  auto valid = config::ValidateNodeConfig(config);
  EXPECT_TRUE(valid.has_value()) << (valid.has_value() ? "" : valid.error().Message());
  if (!plan.dedicated) return;
  // A poll loop is alone on its physical core: its siblings only idle.
  for (int poll : plan.poll_lcores) {
    const Core* core = t.CoreOf(poll);
    ASSERT_NE(core, nullptr);
    EXPECT_EQ(roles[poll].size(), 1u) << "poll CPU " << poll << " shares its CPU";
    for (int sib : core->pus) {
      if (sib == poll) continue;
      EXPECT_EQ(roles[sib], std::set<CpuRole>{CpuRole::kIdleSibling}) << "sibling " << sib << " of poll " << poll;
    }
  }
  // Housekeeping is kept apart from everything isolated.
  for (int hk : plan.housekeeping_cpus) {
    EXPECT_FALSE(Contains(plan.isolated_cpus, hk)) << hk;
    EXPECT_FALSE(Contains(plan.vcpu_cpus, hk)) << hk;
    EXPECT_FALSE(Contains(plan.io_cpus, hk)) << hk;
    EXPECT_FALSE(Contains(plan.poll_lcores, hk)) << hk;
  }
  EXPECT_FALSE(Contains(plan.poll_lcores, plan.main_lcore));
}

TEST(Plan, TwoSocketPollsOnTheNicSocket) {
  const Topology t = TwoSocket();
  PlanRequest req;
  req.vcpus = 4;
  auto plan = MakePlan(t, req);
  ASSERT_TRUE(plan.has_value()) << plan.error().Message();
  CheckInvariants(t, *plan, req);
  EXPECT_EQ(plan->eal_mode, "deployed");
  EXPECT_TRUE(plan->dedicated);
  // The management port (alone on socket 0) is passed over for the E810 pair.
  EXPECT_EQ(plan->sync_pci, "0000:81:00.1");
  EXPECT_EQ(plan->client_pci, "0000:81:00.0");
  EXPECT_EQ(plan->nic_numa, 1);
  ASSERT_EQ(plan->poll_lcores.size(), 2u);
  for (int poll : plan->poll_lcores) EXPECT_EQ(t.CoreOf(poll)->numa, 1) << poll;
  for (int v : plan->vcpu_cpus) EXPECT_EQ(t.CoreOf(v)->numa, 1) << v;
  EXPECT_TRUE(Contains(plan->housekeeping_cpus, 0));
  EXPECT_EQ(t.CoreOf(plan->main_lcore), t.CoreOf(0));
  // 1 GiB of dataplane buffers + 512 MiB of guest, all on node 1, in 2 MiB pages.
  ASSERT_EQ(plan->hugepages.size(), 1u);
  EXPECT_EQ(plan->hugepages[0].numa, 1);
  EXPECT_EQ(plan->hugepages[0].pages, 768);
  auto config = ConfigFromPlan(*plan, req);
  EXPECT_EQ(config.dataplane.sync.device, "0000:81:00.1");
  EXPECT_EQ(config.dataplane.poll_mode, "busy");
  EXPECT_EQ(config.dataplane.numa_node, 1);
}

TEST(Plan, RequestedPortsAreUsedAndUnknownOnesRejected) {
  const Topology t = TwoSocket();
  PlanRequest req;
  req.client_pci = "0000:3b:00.0";
  auto plan = MakePlan(t, req);
  ASSERT_TRUE(plan.has_value()) << plan.error().Message();
  CheckInvariants(t, *plan, req);
  EXPECT_EQ(plan->client_pci, "0000:3b:00.0");
  EXPECT_EQ(t.CoreOf(plan->poll_lcores[0])->numa, 0);  // the client loop follows its port
  EXPECT_EQ(t.CoreOf(plan->poll_lcores[1])->numa, 1);

  req.client_pci = "0000:aa:00.0";
  auto unknown = MakePlan(t, req);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, PlanErrc::kUnknownPci);
  EXPECT_NE(unknown.error().Message().find("0000:aa:00.0"), std::string::npos);
  EXPECT_NE(unknown.error().Message().find("0000:81:00.1"), std::string::npos);

  req.client_pci = req.sync_pci = "0000:81:00.0";
  auto same = MakePlan(t, req);
  ASSERT_FALSE(same.has_value());
  EXPECT_EQ(same.error().code, PlanErrc::kSamePort);
}

TEST(Plan, ManyVcpusSpillToTheOtherSocketAndSayWhy) {
  const Topology t = TwoSocket();
  PlanRequest req;
  req.vcpus = 20;
  auto plan = MakePlan(t, req);
  ASSERT_TRUE(plan.has_value()) << plan.error().Message();
  CheckInvariants(t, *plan, req);
  EXPECT_TRUE(plan->dedicated);
  bool spilled = false;
  for (const auto& a : plan->cpus) {
    if (a.role == CpuRole::kVcpu && t.CoreOf(a.cpu)->numa == 0) {
      spilled = true;
      EXPECT_NE(a.reason.find("is full"), std::string::npos) << a.reason;
    }
  }
  EXPECT_TRUE(spilled);
}

TEST(Plan, TooManyVcpusFallBackToASharedPlan) {
  const Topology t = TwoSocket();
  PlanRequest req;
  req.vcpus = 40;
  auto plan = MakePlan(t, req);
  ASSERT_TRUE(plan.has_value()) << plan.error().Message();
  CheckInvariants(t, *plan, req);
  EXPECT_FALSE(plan->dedicated);
  EXPECT_EQ(plan->eal_mode, "simulation");
}

TEST(Plan, EightCoreBoxWithoutNicsDedicatesCoresForSimulation) {
  const Topology t = Load(TopologySource::Kind::kSynthetic, "pack:1 [numa(memory=17179869184)] core:8 pu:1");
  PlanRequest req;
  req.vcpus = 2;
  auto plan = MakePlan(t, req);
  ASSERT_TRUE(plan.has_value()) << plan.error().Message();
  CheckInvariants(t, *plan, req);
  EXPECT_EQ(plan->eal_mode, "simulation");
  EXPECT_TRUE(plan->dedicated);
  EXPECT_EQ(plan->poll_lcores.size(), 2u);
  EXPECT_EQ(plan->housekeeping_cpus.front(), 0);
  EXPECT_TRUE(plan->hugepages.empty());
  ASSERT_FALSE(plan->notes.empty());
  EXPECT_NE(plan->notes[0].find("no two network ports"), std::string::npos);
}

TEST(Plan, TwoCoreMachinePlansSharedSimulation) {
  const Topology t = Load(TopologySource::Kind::kXml, kTestdata + "/dev_2c.xml");
  PlanRequest req;
  auto plan = MakePlan(t, req);
  ASSERT_TRUE(plan.has_value()) << plan.error().Message();
  CheckInvariants(t, *plan, req);
  EXPECT_EQ(plan->eal_mode, "simulation");
  EXPECT_FALSE(plan->dedicated);
  EXPECT_EQ(plan->main_lcore, 1);
  EXPECT_EQ(plan->housekeeping_cpus, std::vector<int>{0});
  EXPECT_TRUE(plan->poll_lcores.empty());
  EXPECT_TRUE(plan->isolated_cpus.empty());
  bool says_why = false;
  for (const auto& n : plan->notes) says_why |= n.find("only 2 CPUs") != std::string::npos;
  EXPECT_TRUE(says_why);
  EXPECT_EQ(ConfigFromPlan(*plan, req).dataplane.poll_mode, "adaptive");
}

TEST(Plan, LiveHost) {
  const Topology t = Load(TopologySource::Kind::kHost, "", "/sys");
  PlanRequest req;
  auto plan = MakePlan(t, req);
  ASSERT_TRUE(plan.has_value()) << plan.error().Message();
  CheckInvariants(t, *plan, req);
  if (t.PuCount() <= 4) {
    EXPECT_EQ(plan->eal_mode, "simulation");
  }
}

}  // namespace
}  // namespace twinstep::tune
