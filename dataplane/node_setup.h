// The dataplane's part of the node's TOML config (cli/config): EAL settings,
// the client and sync ports and the poll mode, checked and translated.
#pragma once

#include "cli/config/node_config.h"
#include "common/expected.h"
#include "dataplane/core/idle_backoff.h"
#include "dataplane/eal.h"

namespace twinstep::dataplane {

struct DataplaneSetup {
  EalConfig eal;
  PortSpec client;
  PortSpec sync;
  IdleBackoffConfig idle;
};

Expected<DataplaneSetup, EalError> SetupFromNodeConfig(const config::NodeConfig& config);

}  // namespace twinstep::dataplane
