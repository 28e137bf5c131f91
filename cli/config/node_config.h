// The node's TOML configuration: one file per node, read by `twinstep node` and
// `twinstep sim`, written by `twinstep tune`. Every option, its default and its
// documentation come from one table (node_config_options.cc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.h"

namespace twinstep::config {

// One network port of the dataplane. In deployed mode `device` is a PCI
// address (0000:81:00.0); in simulation it is a DPDK virtual device name
// (net_memif0, net_af_packet0). `args` are the PMD's device arguments.
struct PortConfig {
  std::string device;
  std::string args;
};

struct NodeConfig {
  struct Node {
    std::string name = "node-a";
    int64_t id = 1;
    std::string role = "auto";
    std::vector<int64_t> housekeeping_cpus;
    std::string events;
    std::string control_socket;
  } node;
  struct Dataplane {
    std::string eal_mode = "simulation";
    int64_t main_lcore = 0;
    std::vector<int64_t> lcores;
    std::string poll_mode = "adaptive";
    int64_t idle_spin_polls = 256;
    int64_t idle_min_sleep_us = 20;
    int64_t idle_max_sleep_us = 200;
    std::string file_prefix = "twinstep-node-a";
    int64_t hugepage_size_kib = 2048;
    int64_t hugepages_mib = 0;
    int64_t numa_node = -1;
    PortConfig client{"net_af_packet0", "iface=twc0"};
    PortConfig sync{"net_memif0", "role=server,id=0,socket=/run/twinstep/node-a-sync.sock"};
  } dataplane;
  struct Guest {
    std::string kind = "test";
    int64_t memory_mib = 512;
    int64_t vcpus = 1;
    std::string kernel;
    std::string initrd;
    std::string cmdline = "console=ttyS0";
    std::string test_guest;
    std::string ip = "10.77.0.10";
    std::string mac = "52:54:00:77:00:10";
    std::string disk;
    bool disk_readonly = false;
    bool hugepages = false;
    std::vector<int64_t> vcpu_cpus;
    std::vector<int64_t> io_cpus;
  } guest;
  struct Replication {
    std::string comparator = "software";
    int64_t checkpoint_period_ms = 1000;
    int64_t checkpoint_timeout_ms = 5000;
    int64_t dirty_page_bound = 16384;
    int64_t compare_timeout_us = 2000;
    int64_t heartbeat_interval_ms = 10;
    int64_t heartbeat_miss_k = 3;
    int64_t join_probe_ms = 1000;
  } replication;
  struct Witness {
    std::vector<std::string> endpoints{"http://127.0.0.1:2379"};
    int64_t lease_ttl_s = 2;
    std::string pair = "pair0";
  } witness;
};

enum class ConfigErrc {
  kCannotRead,
  kSyntax,
  kUnknownKey,
  kWrongType,
  kOutOfRange,
  kInvalid,
  kCannotWrite,
};

// The message for each error value.
const char* ConfigErrcMessage(ConfigErrc code);

struct ConfigError {
  ConfigErrc code = ConfigErrc::kInvalid;
  std::string file;    // the config file, empty for an in-memory config
  std::string key;     // dotted key ("replication.heartbeat_miss_k"), or empty
  int line = 0;        // 1-based line in `file`, 0 when unknown
  std::string detail;  // what was found and what was expected
  // "FILE:LINE: KEY: MESSAGE: DETAIL", leaving out what is unknown.
  std::string Message() const;
};

// Reads and validates a node config. Keys left out take their defaults;
// unknown keys, wrong types and out-of-range values are errors.
Expected<NodeConfig, ConfigError> LoadNodeConfig(const std::string& path);
// The same from text; `name` stands for the file in error messages.
Expected<NodeConfig, ConfigError> ParseNodeConfig(std::string_view text, const std::string& name);

// Checks ranges, choices and the rules between options.
Expected<void, ConfigError> ValidateNodeConfig(const NodeConfig& config);

// The config as TOML with every option and its documentation; `header` lines
// are written first as comments.
std::string RenderNodeConfig(const NodeConfig& config, const std::vector<std::string>& header = {});
// Validates, then writes RenderNodeConfig() to `path` (through a temporary
// file renamed over it, so a reader never sees half a file).
Expected<void, ConfigError> WriteNodeConfig(const std::string& path, const NodeConfig& config,
                                            const std::vector<std::string>& header = {});

// docs/config.md, generated from the option table.
std::string RenderConfigDoc();

}  // namespace twinstep::config
