// Micro-benchmarks of `twinstep tune`: memory copy bandwidth (the bound on a
// checkpoint's time) measured here, and hooks that run the comparator's and
// the sync link's own benchmarks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace twinstep::tune {

struct BenchResult {
  std::string name;
  bool available = false;  // false: `detail` says why there is no figure
  double value = 0;
  std::string unit;
  std::string detail;
};

// Copies `buffer_mib` MiB in 4 KiB pages (as a checkpoint copies dirty pages),
// `rounds` times, and reports the best round in GB/s of this thread's CPU
// time (so that other processes on a shared machine skew it less); `detail` gives the time
// a checkpoint of `dirty_page_bound` pages would spend copying.
BenchResult MeasureMemcpy(int64_t buffer_mib, int rounds, int64_t dirty_page_bound);

// Hook: matches per second of each comparator backend built into twinstep
// (dataplane/comparator's BenchComparator, for about `seconds` of CPU time
// each); backends not built in report "not available in this build".
std::vector<BenchResult> ComparatorRateBench(double seconds);

// Hook: round trip and bulk bandwidth of the sync link over a loopback memif
// pair in this process (dataplane's MeasureSyncLinkLoopback; initializes the
// EAL in simulation mode). An EAL that cannot start is reported, not faked.
std::vector<BenchResult> SyncLinkBench();

}  // namespace twinstep::tune
