// The simulated network on one machine: a LAN namespace with a bridge and the
// clients' address, one veth pair per node from the root namespace (the
// node's af_packet client port) to the bridge, and one veth pair joining the
// two nodes' sync ports, both ends in the root namespace.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "simulation/sim_error.h"

namespace twinstep::sim {

struct TopologyConfig {
  std::string id;                        // unique per run, short: names are tws<id>...
  std::vector<std::string> nodes = {"node-a", "node-b"};
  std::string client_cidr = "10.77.0.1/24";  // the clients' address, on the bridge
  std::vector<std::string> solo_taps;    // extra TAP ports on the bridge (a solo guest)
};

class Topology {
 public:
  // Builds everything; on any failure what was built is removed again.
  static SimResult<std::unique_ptr<Topology>> Create(const TopologyConfig& config);
  // Tears down (idempotent; the destructor calls it).
  void Destroy();
  ~Topology();
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  const std::string& lan_netns() const { return lan_netns_; }
  // Root-namespace end of node i's client veth (its DPDK af_packet client port).
  const std::string& client_port(size_t i) const { return client_ports_[i]; }
  // Root-namespace ends of the sync veth pair (node 0's and node 1's).
  const std::string& sync_port(size_t i) const { return sync_ports_[i]; }
  std::string client_address() const;  // without the prefix length

  // Fault injection on the sync link (both ends, so both directions).
  SimResult<void> CutSync();
  SimResult<void> RestoreSync();
  // Loss in percent (0 removes it); netem on both ends.
  SimResult<void> SetSyncLoss(double percent);

 private:
  Topology() = default;
  SimResult<void> Build();
  std::string id_;
  TopologyConfig config_;
  std::string lan_netns_;
  std::vector<std::string> client_ports_, lan_ports_, sync_ports_;
  bool built_ = false;
};

// A run id unique on this host: the decimal pid (names stay <= 15 chars).
std::string RunId();
// Removes what earlier runs left behind (names tws<pid>... whose process is
// gone); returns one message per removed namespace or link, for the log.
std::vector<std::string> CleanStale();
// The names of every topology object of run `id` (for tests).
std::vector<std::string> TopologyLinkNames(const std::string& id);
bool LinkExists(const std::string& name, const std::string& netns = "");
bool NetnsExists(const std::string& name);

// Runs `fn` on a thread that has entered `netns` (sockets it creates stay in
// that namespace); false if the namespace cannot be entered.
bool InNetns(const std::string& netns, const std::function<void()>& fn);

}  // namespace twinstep::sim
