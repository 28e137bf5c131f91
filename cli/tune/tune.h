// `twinstep tune`: the whole run (topology, plan, checks, benchmarks, apply,
// config out) behind one function; cli/commands.h registers it.
#pragma once

#include <cstdint>
#include <string>

namespace twinstep::tune {

struct TuneOptions {
  std::string topology_xml;   // read this hwloc XML instead of the host
  std::string synthetic;      // or this hwloc synthetic description
  std::string sysfs_root;     // PCI drivers and link speeds; default /sys for the host
  std::string client_pci;
  std::string sync_pci;
  std::string node_name = "node-a";
  int vcpus = 1;
  int64_t guest_memory_mib = 512;
  bool json = false;
  std::string write_config;
  bool apply = false;
  bool no_bench = false;
  int64_t bench_mib = 256;
  bool config_doc = false;
};

// Runs `twinstep tune`; writes the report to `out` and errors to `err`;
// returns the exit code.
int RunTune(const TuneOptions& options, std::string* out, std::string* err);

}  // namespace twinstep::tune
