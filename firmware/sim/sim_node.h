// One simulated node's supervisor stack, as twinstepd links it: the NIC
// (SimNic + Supervisor), the etcd witness and the host agent, polled together.
#pragma once

#include <cstdint>
#include <memory>

#include "firmware/sim/sim_nic.h"
#include "firmware/supervisor.h"
#include "firmware/witness/etcd_witness.h"
#include "firmware/witness/host_agent.h"

namespace twinstep::firmware::sim {

struct SimNodeConfig {
  SupervisorConfig supervisor;
  witness::EtcdWitnessConfig witness;
  witness::HostAgentConfig agent;
  uint64_t doorbell_interval_ns = 1'000'000;
};

class SimNode {
 public:
  // `config.supervisor` must pass ValidateConfig.
  SimNode(LinkPort& link, const SimNodeConfig& config);

  // One pass: the host rings (unless its OS is "dead"), the agent runs, the NIC polls.
  void Poll();
  void Command(HostCommand cmd, uint64_t arg = 0) { agent_.Post(cmd, arg); }
  void set_host_alive(bool alive) { host_alive_ = alive; }

  Supervisor& supervisor() { return supervisor_; }
  SimNic& nic() { return nic_; }
  witness::HostAgent& agent() { return agent_; }

 private:
  SimNodeConfig config_;
  SimNic nic_;
  Supervisor supervisor_;
  witness::EtcdWitness witness_;
  witness::HostAgent agent_;
  bool host_alive_ = true;
  uint64_t next_ring_ns_ = 0;
};

}  // namespace twinstep::firmware::sim
