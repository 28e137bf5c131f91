// The dataplane's part of the node's TOML config (cli/config): EAL settings,
// the client and sync ports and the poll mode, checked and translated.
#pragma once

#include <optional>
#include <string>

#include "cli/config/node_config.h"
#include "common/expected.h"
#include "dataplane/core/idle_backoff.h"
#include "dataplane/eal.h"
#include "dataplane/pipeline.h"

namespace twinstep::dataplane {

struct DataplaneSetup {
  EalConfig eal;
  PortSpec client;
  PortSpec sync;
  IdleBackoffConfig idle;
  uint32_t sync_frame_bytes = kMbufDataBytes;  // the largest sync frame (SyncFrameBytes)
};

// The largest frame the sync port carries whole: 1514 on af_packet (one
// 2048-byte mbuf after its tpacket header), 9014 on a memif with
// bsize >= 9216 (jumbo mbufs), else one standard mbuf.
uint32_t SyncFrameBytes(const config::NodeConfig& config);

Expected<DataplaneSetup, EalError> SetupFromNodeConfig(const config::NodeConfig& config);

// The poll loop's idle back-off from [dataplane] (a first sleep above the
// longest is the longest).
IdleBackoffConfig IdleFromNode(const config::NodeConfig& config);

// A memif sync link joins two nodes on one host: its socket path names the
// doorbell between their poll loops (PeerBell; side 0 is the memif server).
// None for other PMDs, or with busy polling (nobody sleeps).
struct SyncBellSpec {
  std::string base;
  int side = 0;
};
std::optional<SyncBellSpec> SyncBell(const config::NodeConfig& config);

// The pipeline's settings from [replication] and [dataplane]; `role` is the
// role the controller decided (the config's node.role is only a hint).
// Only the software comparator is built into the dataplane itself; rtl and
// xrt are passed as a ComparatorFactory by whoever links them.
Expected<PipelineConfig, EalError> PipelineConfigFromNode(const config::NodeConfig& config, Role role);

}  // namespace twinstep::dataplane
