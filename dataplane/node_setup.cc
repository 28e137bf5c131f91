// Node config -> dataplane set-up (see node_setup.h).
#include "dataplane/node_setup.h"

#include <algorithm>
#include <cstdlib>

namespace twinstep::dataplane {

Expected<DataplaneSetup, EalError> SetupFromNodeConfig(const config::NodeConfig& config) {
  const auto& d = config.dataplane;
  DataplaneSetup s;
  if (d.eal_mode == "simulation") {
    s.eal.mode = EalMode::kSimulation;
  } else if (d.eal_mode == "deployed") {
    s.eal.mode = EalMode::kDeployed;
  } else {
    return MakeUnexpected(EalError{EalErrc::kBadConfig, "dataplane.eal_mode '" + d.eal_mode +
                                                            "' (expected \"simulation\" or \"deployed\")"});
  }
  if (d.poll_mode != "adaptive" && d.poll_mode != "busy") {
    return MakeUnexpected(EalError{EalErrc::kBadConfig, "dataplane.poll_mode '" + d.poll_mode +
                                                            "' (expected \"adaptive\" or \"busy\")"});
  }
  s.eal.file_prefix = d.file_prefix;
  s.eal.main_lcore = static_cast<int>(d.main_lcore);
  for (int64_t l : d.lcores) s.eal.lcores.push_back(static_cast<int>(l));
  // One lcore runs the client, sync and guest loops; busy polling wants it to itself.
  s.eal.required_lcores = 1;
  s.eal.hugepages_mib = static_cast<int>(d.hugepages_mib);
  s.eal.numa_node = static_cast<int>(d.numa_node);
  s.idle = IdleFromNode(config);
  // Adaptive polling on shared cores: let the loop (and the VMM threads
  // started after the EAL) float over the node's lcores instead of pinning.
  if (s.eal.mode == EalMode::kSimulation && !s.idle.busy_poll) {
    s.eal.float_cpus.push_back(s.eal.main_lcore);
    for (int l : s.eal.lcores) s.eal.float_cpus.push_back(l);
    for (int64_t cpu : config.node.housekeeping_cpus) s.eal.float_cpus.push_back(static_cast<int>(cpu));
  }
  s.sync_frame_bytes = SyncFrameBytes(config);
  s.client = {"client", d.client.device, d.client.args};
  s.sync = {"sync", d.sync.device, d.sync.args};
  return s;
}

constexpr uint32_t kAfPacketMaxFrameBytes = 1514;
constexpr uint32_t kJumboFrameBytes = 9014;  // 9000-byte MTU and the Ethernet header

uint32_t SyncFrameBytes(const config::NodeConfig& config) {
  const auto& sync = config.dataplane.sync;
  if (sync.device.rfind("net_af_packet", 0) == 0) return kAfPacketMaxFrameBytes;
  if (sync.device.rfind("net_memif", 0) == 0) {
    const size_t at = ("," + sync.args).find(",bsize=");
    if (at != std::string::npos && std::strtoul(sync.args.c_str() + at + 6, nullptr, 10) >= kJumboMbufDataBytes) {
      return kJumboFrameBytes;
    }
  }
  return kMbufDataBytes;
}

IdleBackoffConfig IdleFromNode(const config::NodeConfig& config) {
  const auto& d = config.dataplane;
  IdleBackoffConfig idle;
  idle.busy_poll = d.poll_mode == "busy";
  idle.spin_polls = static_cast<uint32_t>(d.idle_spin_polls);
  idle.max_sleep_ns = static_cast<uint64_t>(d.idle_max_sleep_us) * 1000;
  idle.min_sleep_ns = std::min(static_cast<uint64_t>(d.idle_min_sleep_us) * 1000, idle.max_sleep_ns);
  return idle;
}

std::optional<SyncBellSpec> SyncBell(const config::NodeConfig& config) {
  const auto& sync = config.dataplane.sync;
  if (sync.device.rfind("net_memif", 0) != 0 || config.dataplane.poll_mode == "busy") return std::nullopt;
  SyncBellSpec spec{"/run/memif.sock", 1};  // DPDK's defaults: that socket, role client
  size_t at = 0;
  while (at <= sync.args.size()) {
    const size_t end = std::min(sync.args.find(',', at), sync.args.size());
    const std::string kv = sync.args.substr(at, end - at);
    if (kv.rfind("socket=", 0) == 0) spec.base = kv.substr(7);
    if (kv == "role=server") spec.side = 0;
    at = end + 1;
  }
  return spec;
}

Expected<PipelineConfig, EalError> PipelineConfigFromNode(const config::NodeConfig& config, Role role) {
  const auto& r = config.replication;
  if (r.compare_timeout_us <= 0 || r.heartbeat_interval_ms < 0) {
    return MakeUnexpected(EalError{EalErrc::kBadConfig, "replication.compare_timeout_us must be > 0 and "
                                                        "replication.heartbeat_interval_ms >= 0"});
  }
  PipelineConfig pc;
  pc.role = role;
  pc.comparator.compare_timeout_ns = static_cast<uint64_t>(r.compare_timeout_us) * 1000;
  // Timeouts are checked a few times per timeout, at most every 50 us.
  pc.advance_interval_ns = std::min<uint64_t>(50'000, pc.comparator.compare_timeout_ns / 4);
  pc.heartbeat_interval_ns = static_cast<uint64_t>(r.heartbeat_interval_ms) * 1'000'000;
  pc.idle = IdleFromNode(config);
  pc.sync.max_frame_bytes = SyncFrameBytes(config);
  return pc;
}

}  // namespace twinstep::dataplane
