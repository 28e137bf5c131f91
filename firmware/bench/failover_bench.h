// Failover timing for docs/BENCHMARKS.md (`twinstep bench failover`):
// detection, from the dead peer's last heartbeat to the suspicion; and
// suspicion to witness grant through the host agent and a local etcd.
#pragma once

#include <cstdint>
#include <string>

namespace twinstep::firmware {

struct FailoverBenchOptions {
  std::string part = "all";         // all | detection | grant | etcd
  int trials = 200;
  uint64_t interval_us = 100;       // heartbeat interval of the detection part
  uint32_t k = 5;                   // missed intervals before a suspicion
  std::string etcd_parent = "/tmp";  // where the benchmark's etcd keeps its data dir
  bool etcd_no_fsync = false;        // etcd --unsafe-no-fsync
};

// Prints the percentiles to stdout; returns the process exit code (1: no etcd).
int RunFailoverBench(const FailoverBenchOptions& options);

}  // namespace twinstep::firmware
