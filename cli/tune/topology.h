// The machine as `twinstep tune` sees it: packages, NUMA nodes, cores with
// their SMT siblings, caches and network PCI functions with their locality,
// read through hwloc (live, from an XML export or from a synthetic string)
// into plain structs that the core planner works on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/expected.h"

namespace twinstep::tune {

struct Core {
  int package = 0;        // os_index of its package
  int numa = 0;           // os_index of its NUMA node
  std::vector<int> pus;   // os_index of each hardware thread (SMT siblings)
};

struct NumaNode {
  int os_index = 0;
  uint64_t memory_bytes = 0;
  std::vector<int> pus;
};

struct Package {
  int os_index = 0;
  std::string model;
  std::vector<int> numa_nodes;
  std::vector<int> pus;
};

struct CacheLevel {
  std::string name;      // "L1d", "L2", "L3"
  uint64_t size_bytes = 0;
  int count = 0;         // instances in the machine
};

// One network PCI function (an Ethernet port).
struct Nic {
  std::string pci;                   // 0000:81:00.0
  uint16_t vendor = 0;
  uint16_t device = 0;
  int numa = -1;                     // -1: not known
  std::vector<int> local_pus;        // CPUs local to the device
  std::vector<std::string> netdevs;  // kernel interfaces (none when bound to DPDK)
  std::string driver;                // from sysfs; empty when not known
  bool dpdk_bound = false;           // vfio-pci, uio_pci_generic or igb_uio
  bool management = false;           // carries the host's default route
  double pci_link_gbytes_s = 0;      // PCIe link bandwidth as hwloc reports it
  int64_t link_speed_mbps = -1;      // /sys/class/net/IF/speed; -1: not known
};

struct Topology {
  std::string source;   // "this host", "XML file F", "synthetic 'S'"
  bool is_host = false; // host checks and benchmarks apply only then
  std::vector<Package> packages;
  std::vector<NumaNode> numa_nodes;
  std::vector<Core> cores;
  std::vector<CacheLevel> caches;
  std::vector<Nic> nics;

  int PuCount() const;
  // The core holding hardware thread `pu`, or nullptr.
  const Core* CoreOf(int pu) const;
  const Nic* FindNic(const std::string& pci) const;
};

enum class TopologyErrc { kInit, kBadXml, kBadSynthetic, kLoad };
const char* TopologyErrcMessage(TopologyErrc code);

struct TopologyError {
  TopologyErrc code = TopologyErrc::kLoad;
  std::string detail;
  std::string Message() const;
};

struct TopologySource {
  enum class Kind { kHost, kXml, kSynthetic } kind = Kind::kHost;
  std::string arg;         // XML path or synthetic description
  // Where PCI driver bindings and link speeds are read; empty = not read.
  // "/sys" for the host; a copied tree for an XML taken elsewhere.
  std::string sysfs_root;
  // The routing table that tells the management port; empty = not read.
  std::string route_table;
};

Expected<Topology, TopologyError> LoadTopology(const TopologySource& source);

// "0-3,8,10-11"
std::string CpuListString(std::vector<int> cpus);

}  // namespace twinstep::tune
