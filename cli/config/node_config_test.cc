// Tests of the node config: defaults, round trip, every kind of bad file, and
// that docs/config.md matches the option table.
#include "cli/config/node_config.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "cli/config/node_config_options.h"

namespace twinstep::config {
namespace {

TEST(NodeConfig, EmptyFileGivesValidDefaults) {
  auto c = ParseNodeConfig("", "empty.toml");
  ASSERT_TRUE(c.has_value()) << c.error().Message();
  EXPECT_EQ(c->node.name, "node-a");
  EXPECT_EQ(c->dataplane.eal_mode, "simulation");
  EXPECT_EQ(c->replication.heartbeat_miss_k, 3);
  EXPECT_TRUE(ValidateNodeConfig(NodeConfig{}).has_value());
}

TEST(NodeConfig, EveryOptionHasDocAndDefaultWithinRange) {
  NodeConfig defaults;
  for (const auto& o : Options()) {
    EXPECT_GT(std::string(o.doc).size(), 10u) << DottedKey(o);
    EXPECT_FALSE(ValueAsToml(o, defaults).empty()) << DottedKey(o);
    bool in_section = false;
    for (const auto& s : Sections()) in_section |= std::string(s.name) == o.section;
    EXPECT_TRUE(in_section) << DottedKey(o);
  }
}

NodeConfig Deployed() {
  NodeConfig c;
  c.node.name = "server-b";
  c.node.role = "secondary";
  c.node.housekeeping_cpus = {0, 1};
  c.dataplane.eal_mode = "deployed";
  c.dataplane.main_lcore = 16;
  c.dataplane.lcores = {18, 20};
  c.dataplane.poll_mode = "busy";
  c.dataplane.file_prefix = "tw-b";
  c.dataplane.hugepage_size_kib = 1048576;
  c.dataplane.hugepages_mib = 2048;
  c.dataplane.numa_node = 1;
  c.dataplane.client = {"0000:81:00.0", "rxq=2"};
  c.dataplane.sync = {"0000:81:00.1", ""};
  c.guest.kind = "linux";
  c.guest.memory_mib = 4096;
  c.guest.vcpus = 2;
  c.guest.kernel = "/srv/vmlinuz \"quoted\"";
  c.guest.cmdline = "console=ttyS0 root=/dev/vda\tquiet";
  c.guest.disk = "/srv/disk.raw";
  c.guest.disk_readonly = true;
  c.guest.hugepages = true;
  c.guest.vcpu_cpus = {22, 24};
  c.guest.io_cpus = {26};
  c.replication.comparator = "xrt";
  c.replication.checkpoint_period_ms = 0;
  c.replication.dirty_page_bound = 1;
  c.replication.compare_timeout_us = 10;
  c.replication.heartbeat_interval_ms = 5;
  c.replication.heartbeat_miss_k = 4;
  c.witness.endpoints = {"http://10.0.0.1:2379", "https://etcd:2379"};
  c.witness.lease_ttl_s = 5;
  c.witness.pair = "db";
  return c;
}

TEST(NodeConfig, RoundTripThroughAFile) {
  const NodeConfig c = Deployed();
  const std::string path = testing::TempDir() + "/round_trip.toml";
  auto w = WriteNodeConfig(path, c, {"written by a test"});
  ASSERT_TRUE(w.has_value()) << w.error().Message();
  auto r = LoadNodeConfig(path);
  ASSERT_TRUE(r.has_value()) << r.error().Message();
  // Every option reads back as written.
  for (const auto& o : Options()) EXPECT_EQ(ValueAsToml(o, *r), ValueAsToml(o, c)) << DottedKey(o);
  EXPECT_EQ(r->guest.kernel, "/srv/vmlinuz \"quoted\"");
  std::remove(path.c_str());
}

struct BadCase {
  const char* name;
  const char* text;
  ConfigErrc code;
  const char* key;
  int line;
  const char* detail_part;
};

class BadConfig : public testing::TestWithParam<BadCase> {};

TEST_P(BadConfig, NamesFileKeyAndLine) {
  const BadCase& t = GetParam();
  auto r = ParseNodeConfig(t.text, "bad.toml");
  ASSERT_FALSE(r.has_value());
  const ConfigError& e = r.error();
  EXPECT_EQ(e.code, t.code) << e.Message();
  EXPECT_EQ(e.key, t.key) << e.Message();
  EXPECT_EQ(e.line, t.line) << e.Message();
  EXPECT_NE(e.Message().find("bad.toml:"), std::string::npos) << e.Message();
  EXPECT_NE(e.Message().find(t.detail_part), std::string::npos) << e.Message();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadConfig,
    testing::Values(
        BadCase{"syntax", "[node]\nname = \"a\"\nrole = \n", ConfigErrc::kSyntax, "", 3, "TOML syntax error"},
        BadCase{"unknown_key", "[node]\nname = \"a\"\ncolour = \"red\"\n", ConfigErrc::kUnknownKey, "node.colour", 3,
                "unknown key"},
        BadCase{"unknown_section", "\n[nodes]\nname = \"a\"\n", ConfigErrc::kUnknownKey, "nodes", 2, "unknown key"},
        BadCase{"wrong_type_int", "[guest]\nvcpus = \"two\"\n", ConfigErrc::kWrongType, "guest.vcpus", 2,
                "expected an integer, found string"},
        BadCase{"wrong_type_section", "dataplane = 3\n", ConfigErrc::kWrongType, "dataplane", 1, "expected a table"},
        BadCase{"wrong_type_list_element", "[dataplane]\nlcores = [1, \"x\"]\n", ConfigErrc::kWrongType,
                "dataplane.lcores", 2, "expected an integer, found string"},
        BadCase{"wrong_type_list", "[witness]\nendpoints = \"http://a:2379\"\n", ConfigErrc::kWrongType,
                "witness.endpoints", 2, "expected a list, found string"},
        BadCase{"wrong_type_bool", "[guest]\nhugepages = 1\n", ConfigErrc::kWrongType, "guest.hugepages", 2,
                "expected a boolean, found integer"},
        BadCase{"out_of_range", "[replication]\n\nheartbeat_miss_k = 1\n", ConfigErrc::kOutOfRange,
                "replication.heartbeat_miss_k", 3, "1 is out of range 2..1000"},
        BadCase{"bad_choice", "[dataplane]\neal_mode = \"fast\"\n", ConfigErrc::kOutOfRange, "dataplane.eal_mode", 2,
                "not one of deployed|simulation"},
        BadCase{"bad_endpoint", "[witness]\nendpoints = [\"etcd:2379\"]\n", ConfigErrc::kOutOfRange,
                "witness.endpoints", 2, "http://"},
        BadCase{"deployed_needs_pci", "[dataplane]\neal_mode = \"deployed\"\nhugepages_mib = 1024\n",
                ConfigErrc::kInvalid, "dataplane.client.device", 0, "not a PCI address"},
        BadCase{"vcpu_cpus_count", "[guest]\nvcpus = 2\nvcpu_cpus = [3]\n", ConfigErrc::kInvalid, "guest.vcpu_cpus",
                3, "one per vCPU"}),
    [](const testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

TEST(NodeConfig, MissingFileIsAnError) {
  auto r = LoadNodeConfig("/nonexistent/twinstep.toml");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ConfigErrc::kCannotRead);
  EXPECT_NE(r.error().Message().find("/nonexistent/twinstep.toml"), std::string::npos);
}

TEST(NodeConfig, UnwritablePathIsAnError) {
  auto w = WriteNodeConfig("/nonexistent-dir/node.toml", NodeConfig{});
  ASSERT_FALSE(w.has_value());
  EXPECT_EQ(w.error().code, ConfigErrc::kCannotWrite);
  EXPECT_NE(w.error().Message().find("/nonexistent-dir/node.toml"), std::string::npos);
}

TEST(NodeConfig, WriteRefusesAnInvalidConfig) {
  NodeConfig c;
  c.guest.vcpus = 0;
  const std::string path = testing::TempDir() + "/invalid.toml";
  auto w = WriteNodeConfig(path, c);
  ASSERT_FALSE(w.has_value());
  EXPECT_EQ(w.error().key, "guest.vcpus");
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(NodeConfig, DocsMatchTheOptionTable) {
  const std::string path = std::string(TWINSTEP_SOURCE_DIR) + "/docs/config.md";
  std::ifstream in(path);
  std::stringstream buf;
  if (in) buf << in.rdbuf();
  if (buf.str() != RenderConfigDoc()) {
    const std::string fresh = testing::TempDir() + "/config.md";
    std::ofstream(fresh) << RenderConfigDoc();
    ADD_FAILURE() << "docs/config.md is out of date: run `twinstep tune --config-doc > docs/config.md` "
                  << "(the expected text is in " << fresh << ")";
  }
}

}  // namespace
}  // namespace twinstep::config
