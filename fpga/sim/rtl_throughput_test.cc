// One 64-byte beat per clock through digest and compare with no back-pressure
// (cycle counts of the simulation, not wall-clock time).
#include "fpga/sim/rtl_throughput.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace twinstep::fpga {
namespace {

TEST(RtlThroughputTest, OneBeatPerClockFor64ByteAnd1500ByteStreams) {
  for (bool matched : {false, true}) {
    for (size_t bytes : {size_t{64}, size_t{1500}}) {
      const auto r = MeasureThroughput(bytes, bytes == 64 ? 1000 : 300, matched);
      SCOPED_TRACE(std::to_string(bytes) + (matched ? " B matched" : " B solo"));
      EXPECT_EQ(r.packets, bytes == 64 ? 1000u : 300u);  // every one released
      EXPECT_GE(r.beats_per_cycle, 0.99);
    }
  }
}

}  // namespace
}  // namespace twinstep::fpga
