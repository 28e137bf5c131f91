// Throughput of the RTL in simulation: packets per clock through digest and
// compare-and-release with no back-pressure, for a stream of equal frames.
#pragma once

#include <cstddef>
#include <cstdint>

namespace twinstep::fpga {

struct ThroughputResult {
  size_t frame_bytes = 0;
  uint64_t packets = 0;
  uint64_t input_cycles = 0;     // first to last beat taken by the design
  uint64_t total_cycles = 0;     // first beat taken to last verdict out
  double packets_per_cycle = 0;  // packets / input_cycles
  double beats_per_cycle = 0;
  double mpps_at_250mhz = 0;
};

// `matched`: records for every frame are loaded first, so each event is
// compared and released (primary mode; at most 1024, the model's record pool);
// otherwise solo mode (digest, release).
ThroughputResult MeasureThroughput(size_t frame_bytes, uint64_t packets, bool matched);

}  // namespace twinstep::fpga
