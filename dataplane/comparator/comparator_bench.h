// Comparator throughput measurement, shared by `twinstep bench comparator` and
// `twinstep tune` (which runs it for every backend available).
#pragma once

#include <string>

#include "dataplane/comparator/conformance.h"

namespace twinstep::compare {

struct ComparatorBenchResult {
  std::string backend;
  bool with_digest = false;  // events submitted as frames (digested by the backend)
  size_t flows = 0;
  size_t frame_bytes = 0;
  uint64_t matches = 0;
  double seconds = 0;  // CPU seconds of the measuring thread
  double matches_per_second() const { return seconds > 0 ? matches / seconds : 0; }
};

// This thread's CPU time in seconds: benchmarks count it rather than wall time,
// so that a figure is per core even while other processes share the machine.
double ThreadCpuSeconds();

// Matches 64-byte (or `frame_bytes`) UDP events over `flows` interleaved flows,
// each event's record arriving before or after it, for about `seconds`.
// With `with_digest` the backend digests each frame (SubmitOutput); without,
// the software backend gets pre-digested events (SubmitEvent) and the figure is
// the matching engine alone.
ComparatorBenchResult BenchComparator(const ComparatorFactory& make, std::string backend, bool with_digest,
                                      size_t flows, size_t frame_bytes, double seconds);

}  // namespace twinstep::compare
