// RTL throughput measurement (see rtl_throughput.h).
#include "fpga/sim/rtl_throughput.h"

#include <vector>

#include "common/digest.h"
#include "fpga/csr_map.h"
#include "fpga/sim/frame_gen.h"
#include "fpga/sim/rtl_model.h"

namespace twinstep::fpga {

ThroughputResult MeasureThroughput(size_t frame_bytes, uint64_t packets, bool matched) {
  RtlModel m;
  m.WriteCsr(csr::kCtrl, csr::kCtrlEnable | csr::kCtrlHostTime | (matched ? csr::kModePrimary : csr::kModeSolo));
  // UDP frames over 16 flows (IPv4, correct lengths).
  std::vector<std::vector<uint8_t>> frames;
  for (uint64_t i = 0; i < packets; ++i)
    frames.push_back(testing::UdpFrame(frame_bytes, static_cast<uint8_t>(i % 16), static_cast<uint8_t>(i)));
  if (matched) {
    std::vector<digest::Digester::Slot> slots(1u << 17);
    digest::Digester secondary(slots);
    for (const auto& f : frames) {
      const auto r = secondary.Digest(f);
      m.QueueRecord(r.flow, r.out_seq, r.length, r.digest);
    }
    m.Run();
    m.verdicts().clear();
  }
  for (uint64_t i = 0; i < packets; ++i) m.QueueFrame(frames[i], static_cast<uint32_t>(i));
  const uint64_t beats_per_frame = (frame_bytes + 63) / 64;
  const uint64_t total_beats = packets * beats_per_frame;
  const uint64_t start_beats = m.in_beats();
  uint64_t first = 0, last = 0;
  while (m.in_beats() - start_beats < total_beats) {
    const uint64_t before = m.in_beats();
    m.Step(1);
    if (m.in_beats() != before) {
      if (before == start_beats) first = m.cycles();
      last = m.cycles();
    }
  }
  m.Run();
  ThroughputResult r;
  r.frame_bytes = frame_bytes;
  r.packets = m.verdicts().size();
  r.input_cycles = last - first + 1;
  r.total_cycles = m.cycles() - first;
  r.packets_per_cycle = static_cast<double>(r.packets) / static_cast<double>(r.input_cycles);
  r.beats_per_cycle = static_cast<double>(total_beats) / static_cast<double>(r.input_cycles);
  r.mpps_at_250mhz = r.packets_per_cycle * 250.0;
  return r;
}

}  // namespace twinstep::fpga
