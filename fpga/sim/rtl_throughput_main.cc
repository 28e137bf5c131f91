// fpga_rtl_throughput: prints the RTL's packets per clock through digest and
// compare for 64-byte and 1500-byte streams (docs/BENCHMARKS.md, "fpga").
#include <cstdio>
#include <initializer_list>

#include "fpga/sim/rtl_throughput.h"

int main() {
  std::printf("%-8s %-10s %8s %12s %14s %14s %12s\n", "mode", "frame", "packets", "input_cyc", "packets/cycle",
              "beats/cycle", "Mpps@250MHz");
  for (bool matched : {false, true}) {
    for (size_t bytes : {size_t{64}, size_t{1500}}) {
      // Matched runs are bounded by the 1024 records the model's pool holds.
      const auto r = twinstep::fpga::MeasureThroughput(bytes, matched ? 1000 : bytes == 64 ? 20000 : 4000, matched);
      std::printf("%-8s %-10zu %8llu %12llu %14.4f %14.4f %12.1f\n", matched ? "matched" : "solo", bytes,
                  static_cast<unsigned long long>(r.packets), static_cast<unsigned long long>(r.input_cycles),
                  r.packets_per_cycle, r.beats_per_cycle, r.mpps_at_250mhz);
    }
  }
  return 0;
}
