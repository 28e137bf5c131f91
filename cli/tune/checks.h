// Host checks of `twinstep tune`: hugepages, CPU isolation, governor, IOMMU
// and VFIO, NIC binding, KVM, memlock and link speed, each with its fix; and
// `--apply`, which raises hugepages through sysfs and prints the kernel
// command line for what needs a reboot.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/tune/plan.h"
#include "cli/tune/topology.h"

namespace twinstep::tune {

enum class CheckStatus { kOk, kWarn, kFail, kInfo };
const char* CheckStatusName(CheckStatus status);

struct HostCheck {
  std::string name;
  CheckStatus status = CheckStatus::kInfo;
  std::string found;
  std::string fix;              // empty when nothing needs doing
  std::string kernel_params;    // what to add to the kernel command line (needs a reboot)
};

// Where the checks read the host; tests point these at a made-up tree.
struct HostPaths {
  std::string sysfs = "/sys";
  std::string procfs = "/proc";
  std::string dev = "/dev";
};

std::vector<HostCheck> RunHostChecks(const Topology& topology, const Plan& plan, const HostPaths& paths,
                                     int64_t guest_memory_mib);

// The parameters of every check that needs a reboot, joined; empty if none.
std::string KernelParamsToAdd(const std::vector<HostCheck>& checks);

struct ApplyAction {
  std::string what;
  bool ok = false;
  std::string detail;
};

// Raises each NUMA node's hugepage count to what the plan needs (never
// lowers it), through sysfs, and reads back what the kernel granted.
std::vector<ApplyAction> ApplyHugepages(const Plan& plan, const HostPaths& paths);

// "0-3,8" -> {0,1,2,3,8}; flags such as "managed_irq," are skipped.
std::vector<int> ParseCpuList(const std::string& text);

}  // namespace twinstep::tune
