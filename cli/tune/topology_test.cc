// Tests of the hwloc topology reader on XML fixtures, synthetic strings and
// this host.
#include "cli/tune/topology.h"

#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

namespace twinstep::tune {
namespace {

namespace fs = std::filesystem;
const std::string kTestdata = TWINSTEP_TUNE_TESTDATA;

Topology Load(TopologySource::Kind kind, const std::string& arg, const std::string& sysfs = "") {
  auto t = LoadTopology({kind, arg, sysfs, ""});
  EXPECT_TRUE(t.has_value()) << (t.has_value() ? "" : t.error().Message());
  return t.has_value() ? *t : Topology{};
}

// A minimal sysfs tree: PCI driver links and a link speed.
std::string FakeSysfs() {
  const fs::path root = fs::path(testing::TempDir()) / "tune_sysfs";
  fs::remove_all(root);
  fs::create_directories(root / "bus/pci/drivers/vfio-pci");
  fs::create_directories(root / "bus/pci/drivers/ice");
  fs::create_directories(root / "bus/pci/devices/0000:81:00.0");
  fs::create_directories(root / "bus/pci/devices/0000:81:00.1");
  fs::create_symlink("../../drivers/ice", root / "bus/pci/devices/0000:81:00.0/driver");
  fs::create_symlink("../../drivers/vfio-pci", root / "bus/pci/devices/0000:81:00.1/driver");
  fs::create_directories(root / "class/net/ens801f0");
  std::ofstream(root / "class/net/ens801f0/speed") << "25000\n";
  return root.string();
}

TEST(Topology, TwoSocketXmlWithNicOnSocketOne) {
  Topology t = Load(TopologySource::Kind::kXml, kTestdata + "/two_socket_smt_nic.xml", FakeSysfs());
  ASSERT_EQ(t.packages.size(), 2u);
  ASSERT_EQ(t.numa_nodes.size(), 2u);
  EXPECT_EQ(t.numa_nodes[1].memory_bytes, 64ull << 30);
  ASSERT_EQ(t.cores.size(), 16u);
  EXPECT_EQ(t.PuCount(), 32);
  EXPECT_EQ(t.cores[9].pus, (std::vector<int>{18, 19}));
  EXPECT_EQ(t.cores[9].numa, 1);
  EXPECT_EQ(t.cores[9].package, 1);
  ASSERT_EQ(t.nics.size(), 3u);
  const Nic* mgmt = t.FindNic("0000:3b:00.0");
  ASSERT_NE(mgmt, nullptr);
  EXPECT_EQ(mgmt->numa, 0);
  const Nic* p0 = t.FindNic("0000:81:00.0");
  ASSERT_NE(p0, nullptr);
  EXPECT_EQ(p0->numa, 1);
  EXPECT_EQ(p0->vendor, 0x8086);
  EXPECT_EQ(p0->device, 0x1592);
  EXPECT_EQ(p0->netdevs, std::vector<std::string>{"ens801f0"});
  EXPECT_EQ(p0->local_pus.front(), 16);
  EXPECT_EQ(p0->local_pus.back(), 31);
  EXPECT_EQ(p0->driver, "ice");
  EXPECT_FALSE(p0->dpdk_bound);
  EXPECT_EQ(p0->link_speed_mbps, 25000);
  const Nic* p1 = t.FindNic("0000:81:00.1");
  ASSERT_NE(p1, nullptr);
  EXPECT_TRUE(p1->dpdk_bound);
  EXPECT_TRUE(p1->netdevs.empty());
  bool has_l3 = false;
  for (const auto& c : t.caches) has_l3 |= c.name == "L3" && c.count == 2 && c.size_bytes == 32u << 20;
  EXPECT_TRUE(has_l3);
  EXPECT_FALSE(t.is_host);
}

TEST(Topology, SyntheticEightCoreBox) {
  Topology t = Load(TopologySource::Kind::kSynthetic, "pack:1 core:8 pu:1");
  EXPECT_EQ(t.packages.size(), 1u);
  EXPECT_EQ(t.cores.size(), 8u);
  EXPECT_EQ(t.PuCount(), 8);
  EXPECT_TRUE(t.nics.empty());
}

TEST(Topology, ThisMachineFixture) {
  Topology t = Load(TopologySource::Kind::kXml, kTestdata + "/dev_2c.xml");
  EXPECT_EQ(t.cores.size(), 2u);
  ASSERT_EQ(t.nics.size(), 1u);
  EXPECT_EQ(t.nics[0].pci, "0000:00:03.0");
  EXPECT_EQ(t.nics[0].netdevs, std::vector<std::string>{"eth0"});
}

TEST(Topology, LiveHost) {
  Topology t = Load(TopologySource::Kind::kHost, "", "/sys");
  EXPECT_TRUE(t.is_host);
  ASSERT_FALSE(t.cores.empty());
  std::set<int> seen;
  for (const auto& c : t.cores) {
    for (int pu : c.pus) EXPECT_TRUE(seen.insert(pu).second) << "CPU " << pu << " in two cores";
  }
  EXPECT_EQ(static_cast<int>(seen.size()), t.PuCount());
}

TEST(Topology, BadInputsAreClearErrors) {
  auto missing = LoadTopology({TopologySource::Kind::kXml, "/nonexistent.xml", "", ""});
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, TopologyErrc::kBadXml);
  EXPECT_NE(missing.error().Message().find("/nonexistent.xml"), std::string::npos);

  const std::string garbage = testing::TempDir() + "/garbage.xml";
  std::ofstream(garbage) << "this is not xml\n";
  auto bad = LoadTopology({TopologySource::Kind::kXml, garbage, "", ""});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, TopologyErrc::kBadXml);

  auto syn = LoadTopology({TopologySource::Kind::kSynthetic, "pack:two", "", ""});
  ASSERT_FALSE(syn.has_value());
  EXPECT_EQ(syn.error().code, TopologyErrc::kBadSynthetic);
}

TEST(Topology, CpuListString) {
  EXPECT_EQ(CpuListString({3, 1, 2, 8, 10, 11}), "1-3,8,10-11");
  EXPECT_EQ(CpuListString({}), "");
  EXPECT_EQ(CpuListString({5}), "5");
}

}  // namespace
}  // namespace twinstep::tune
