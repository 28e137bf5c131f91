// Runs one scenario end to end: topology, etcd witness, node configs and
// processes, the client workload, the timed steps with their faults, the
// checks, and the report (docs/simulation.md).
#pragma once

#include <atomic>
#include <string>

namespace twinstep::sim {

struct RunOptions {
  std::string scenario;   // the scenario file
  std::string out_dir;    // empty: sim-out/<scenario name>
  std::string twinstep;   // the twinstep binary that runs the nodes
  std::string test_guest; // the test guest image, unless the scenario names one
  std::string kernel, initrd;  // guest = "linux": the kernel and initramfs (scripts/linux-guest/build-image.sh)
  bool progress = true;   // the progress line on stderr
  const std::atomic<bool>* interrupted = nullptr;  // set by SIGINT/SIGTERM
};

// 0: every check passed; 1: a check failed (the report says which); 2: the
// scenario or the set-up failed (the message is on stderr).
int RunScenario(const RunOptions& options);

}  // namespace twinstep::sim
