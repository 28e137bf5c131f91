// The core plan: a pure function from a topology description to where each
// thread of a node runs (dataplane poll loops NIC-local and alone on their
// physical core, vCPUs, VMM/I/O threads, housekeeping apart), which ports it
// drives and how much hugepage memory it needs, each choice with a reason.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/config/node_config.h"
#include "cli/tune/topology.h"
#include "common/expected.h"

namespace twinstep::tune {

enum class CpuRole {
  kHousekeeping,   // the OS, interrupts, twinstep's control threads
  kDataplaneMain,  // DPDK main lcore (control; polls every loop in a shared plan)
  kPollClient,     // poll loop of the client port
  kPollSync,       // poll loop of the sync port
  kIdleSibling,    // SMT sibling of a poll loop, left idle
  kVcpu,
  kVmmIo,          // VMM device and I/O threads
};
const char* CpuRoleName(CpuRole role);

// One role on one CPU; in a shared plan a CPU carries several.
struct CpuAssignment {
  int cpu = 0;
  CpuRole role = CpuRole::kHousekeeping;
  int vcpu = -1;  // for kVcpu
  std::string reason;
};

struct PlanRequest {
  std::string node_name = "node-a";
  int vcpus = 1;
  int64_t guest_memory_mib = 512;
  std::string client_pci;  // empty: chosen by the planner
  std::string sync_pci;
};

struct HugepageNeed {
  int numa = 0;
  int64_t size_kib = 2048;
  int64_t pages = 0;
};

struct Plan {
  std::string eal_mode = "simulation";  // deployed | simulation
  bool dedicated = false;               // each role on its own CPU(s)
  std::vector<std::string> notes;       // why simulation, what was spilled, ...
  std::string client_pci;               // empty in simulation
  std::string sync_pci;
  int nic_numa = -1;
  std::vector<CpuAssignment> cpus;      // ordered by CPU, then role
  int main_lcore = 0;
  std::vector<int> poll_lcores;         // client, sync
  std::vector<int> vcpu_cpus;
  std::vector<int> io_cpus;
  std::vector<int> housekeeping_cpus;
  std::vector<int> isolated_cpus;       // for isolcpus / nohz_full / rcu_nocbs
  std::vector<HugepageNeed> hugepages;  // what the node needs reserved
  int64_t dataplane_hugepages_mib = 0;
};

enum class PlanErrc { kUnknownPci, kSamePort, kBadRequest };
const char* PlanErrcMessage(PlanErrc code);

struct PlanError {
  PlanErrc code = PlanErrc::kBadRequest;
  std::string detail;
  std::string Message() const;
};

// Hugepage memory the dataplane's mbuf pools take when deployed.
inline constexpr int64_t kDataplaneHugepagesMib = 1024;

Expected<Plan, PlanError> MakePlan(const Topology& topology, const PlanRequest& request);

// The node config that carries out `plan`, starting from `base`.
config::NodeConfig ConfigFromPlan(const Plan& plan, const PlanRequest& request,
                                  config::NodeConfig base = config::NodeConfig{});

}  // namespace twinstep::tune
