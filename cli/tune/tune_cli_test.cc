// Runs the real `twinstep tune` binary: on this host (config written and
// loaded back), on the 2-socket fixture, and with every kind of bad input.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/config/node_config.h"

namespace {

namespace fs = std::filesystem;

struct CliRun {
  int code = -1;
  std::string output;  // stdout and stderr
};

CliRun Twinstep(const std::string& args) {
  const std::string cmd = std::string(TWINSTEP_BIN) + " " + args + " 2>&1";
  CliRun r;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int status = ::pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

const std::string kTwoSocket = std::string(TWINSTEP_TUNE_TESTDATA) + "/two_socket_smt_nic.xml";

TEST(TuneCli, WritesAConfigHereThatLoads) {
  const std::string path = testing::TempDir() + "/tune_here.toml";
  fs::remove(path);
  CliRun r = Twinstep("tune --bench-mib 8 --node-name here --write-config " + path);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("Core plan"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Host checks"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("memory copy"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("comparator rate (software)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("sync link round trip"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("comparator rate (rtl model)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("comparator rate (xrt)"), std::string::npos) << r.output;
  auto config = twinstep::config::LoadNodeConfig(path);
  ASSERT_TRUE(config.has_value()) << config.error().Message();
  EXPECT_EQ(config->node.name, "here");
  EXPECT_EQ(config->dataplane.file_prefix, "twinstep-here");
}

TEST(TuneCli, TwoSocketJsonPlansOnTheNicSocket) {
  CliRun r = Twinstep("tune --json --vcpus 2 --topology-xml " + kTwoSocket);
  ASSERT_EQ(r.code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_EQ(j["plan"]["eal_mode"], "deployed");
  EXPECT_EQ(j["plan"]["sync_pci"], "0000:81:00.1");
  EXPECT_EQ(j["plan"]["poll_lcores"], nlohmann::json::array({16, 18}));
  EXPECT_EQ(j["topology"]["nics"].size(), 3u);
  EXPECT_TRUE(j.contains("checks_skipped"));
}

TEST(TuneCli, SysfsRootMapsDpdkBoundPorts) {
  // A copy of the server's sysfs as far as tune reads it: driver links.
  const fs::path root = fs::path(testing::TempDir()) / "tune_cli_sysfs";
  fs::remove_all(root);
  fs::create_directories(root / "bus/pci/drivers/vfio-pci");
  fs::create_directories(root / "bus/pci/devices/0000:81:00.1");
  fs::create_symlink("../../drivers/vfio-pci", root / "bus/pci/devices/0000:81:00.1/driver");
  CliRun r = Twinstep("tune --json --topology-xml " + kTwoSocket + " --sysfs-root " + root.string());
  ASSERT_EQ(r.code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  bool found = false;
  for (const auto& nic : j["topology"]["nics"]) {
    if (nic["pci"] == "0000:81:00.1") {
      found = true;
      EXPECT_EQ(nic["driver"], "vfio-pci");
      EXPECT_EQ(nic["dpdk_bound"], true);
    } else {
      EXPECT_EQ(nic["dpdk_bound"], false);
    }
  }
  EXPECT_TRUE(found);
}

TEST(TuneCli, ShortPciAddressesAreAccepted) {
  CliRun r = Twinstep("tune --json --client-pci 81:00.0 --sync-pci 0000:81:00.1 --topology-xml " + kTwoSocket);
  ASSERT_EQ(r.code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output, nullptr, false);
  EXPECT_EQ(j["plan"]["client_pci"], "0000:81:00.0");
}

struct BadRun {
  const char* name;
  std::string args;
  const char* says;
};

class TuneCliBad : public testing::TestWithParam<BadRun> {};

TEST_P(TuneCliBad, FailsWithAClearError) {
  CliRun r = Twinstep(GetParam().args);
  EXPECT_NE(r.code, 0) << r.output;
  EXPECT_NE(r.output.find(GetParam().says), std::string::npos) << r.output;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TuneCliBad,
    testing::Values(
        BadRun{"unknown_flag", "tune --frobnicate", "frobnicate"},
        BadRun{"vcpus_out_of_range", "tune --vcpus 0", "--vcpus"},
        BadRun{"xml_and_synthetic", "tune --synthetic 'pack:1 core:2' --topology-xml " + kTwoSocket, "excludes"},
        BadRun{"unknown_pci", "tune --client-pci 0000:aa:00.0 --topology-xml " + kTwoSocket,
               "unknown PCI address: client port 0000:aa:00.0"},
        BadRun{"malformed_pci", "tune --sync-pci eth0 --topology-xml " + kTwoSocket, "not a PCI address"},
        BadRun{"unwritable_dir", "tune --no-bench --write-config /nonexistent-dir/node.toml",
               "folder /nonexistent-dir does not exist"},
        BadRun{"output_in_proc", "tune --no-bench --write-config /proc/node.toml", "folder /proc"},
        BadRun{"output_is_folder", "tune --no-bench --write-config /tmp", "is a folder"},
        BadRun{"missing_xml", "tune --topology-xml /nonexistent.xml", "/nonexistent.xml"},
        BadRun{"bad_synthetic", "tune --synthetic 'pack:lots'", "bad hwloc synthetic"},
        BadRun{"apply_elsewhere", "tune --apply --topology-xml " + kTwoSocket, "--apply changes this host"},
        BadRun{"bad_node_name", "tune --no-bench --node-name 'a b'", "node.name"}),
    [](const testing::TestParamInfo<BadRun>& info) { return std::string(info.param.name); });

TEST(TuneCli, ConfigDocIsTheCheckedInReference) {
  CliRun r = Twinstep("tune --config-doc");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output, twinstep::config::RenderConfigDoc());
}

}  // namespace
