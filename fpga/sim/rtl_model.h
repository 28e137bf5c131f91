// Drives the Verilator model of the fpga/ RTL (ts_twinstep) clock by clock:
// AXI-Lite register access, frames and records in, verdicts and released
// frames out, optional random idle and back-pressure on every stream.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <vector>

#include "fpga/verdict_codec.h"

class Vts_twinstep;

namespace twinstep::fpga {

struct RtlModelOptions {
  uint32_t seed = 1;
  double idle = 0.0;          // probability that an input stream idles a clock
  double backpressure = 0.0;  // probability that an output stream is not ready a clock
  bool verdict_stream = true;  // false: verdicts stay in the CSR event FIFO (the XRT path)
};

class RtlModel {
 public:
  explicit RtlModel(const RtlModelOptions& options = {});
  ~RtlModel();
  RtlModel(const RtlModel&) = delete;
  RtlModel& operator=(const RtlModel&) = delete;

  void Reset();
  void WriteCsr(uint32_t addr, uint32_t value);
  uint32_t ReadCsr(uint32_t addr);
  uint64_t ReadCsr64(uint32_t addr) { return ReadCsr(addr) | uint64_t{ReadCsr(addr + 4)} << 32; }

  // Queue work for the model; Run() moves it in and collects the results.
  void QueueFrame(std::span<const uint8_t> frame, uint32_t event_id);
  void QueueRecord(uint64_t flow, uint64_t out_seq, uint32_t length, uint64_t digest);
  // Clocks until every queue is empty and the design is idle; false if it
  // did not settle within `max_cycles` (a hang).
  bool Run(uint64_t max_cycles = 2'000'000);
  // Clocks exactly `n` times (also draining outputs).
  void Step(uint64_t n);

  std::vector<RtlVerdict>& verdicts() { return verdicts_; }
  std::vector<std::vector<uint8_t>>& tx_frames() { return tx_frames_; }
  std::vector<std::vector<uint8_t>>& records_out() { return records_out_; }
  uint64_t cycles() const { return cycles_; }
  // Output-frame beats the design has taken.
  uint64_t in_beats() const { return in_beats_; }
  // Output-frame beats still queued (not yet taken by the design).
  size_t queued_beats() const { return frame_beats_.size() - frame_pos_; }

 private:
  void Tick();
  void DriveInputs();
  void SampleOutputs();
  bool Chance(double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  std::unique_ptr<Vts_twinstep> top_;
  RtlModelOptions options_;
  std::mt19937 rng_;
  struct Beat {
    uint8_t data[64];
    uint64_t keep;
    bool last;
    uint32_t id;
  };
  std::vector<Beat> frame_beats_;
  size_t frame_pos_ = 0;
  std::vector<std::array<uint64_t, 4>> records_;
  size_t record_pos_ = 0;
  std::vector<RtlVerdict> verdicts_;
  std::vector<std::vector<uint8_t>> tx_frames_;
  std::vector<uint8_t> tx_partial_;
  std::vector<std::vector<uint8_t>> records_out_;
  uint64_t cycles_ = 0;
  uint64_t in_beats_ = 0;
  bool frame_valid_ = false, record_valid_ = false;
};

}  // namespace twinstep::fpga
