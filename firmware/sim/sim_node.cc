// One simulated node's supervisor stack (see sim_node.h).
#include "firmware/sim/sim_node.h"

namespace twinstep::firmware::sim {
namespace {

SimNodeConfig Normalize(SimNodeConfig c) {
  c.agent.node_id = c.supervisor.node_id;  // the agent asks the witness in the NIC's name
  return c;
}

}  // namespace

SimNode::SimNode(LinkPort& link, const SimNodeConfig& config)
    : config_(Normalize(config)),
      nic_(link),
      supervisor_(nic_, config_.supervisor),
      witness_(config_.witness),
      agent_(nic_, witness_, config_.agent) {}

void SimNode::Poll() {
  const uint64_t now = nic_.NowNs();
  if (host_alive_) {
    if (now >= next_ring_ns_) {
      nic_.RingDoorbell();
      next_ring_ns_ = now + config_.doorbell_interval_ns;
    }
    agent_.Poll(now);  // a dead host runs no agent either
  }
  supervisor_.Poll();
}

}  // namespace twinstep::firmware::sim
