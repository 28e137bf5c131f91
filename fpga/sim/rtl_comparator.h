// The RTL backend of the comparator interface: the fpga/ RTL under Verilator.
// now_ns is written to the design's time register (host-time mode), every
// call runs the model until it is idle, so verdicts are synchronous.
#pragma once

#include <memory>

#include "dataplane/comparator/comparator.h"
#include "fpga/sim/rtl_model.h"
#include "fpga/verdict_codec.h"

namespace twinstep::fpga {

class RtlComparator final : public compare::Comparator {
 public:
  RtlComparator(const compare::ComparatorConfig& config, compare::VerdictSink* sink,
                const RtlModelOptions& options = {}, bool* healthy_out = nullptr);
  std::string_view name() const override { return "rtl"; }
  void SubmitOutput(std::span<const uint8_t> frame, uint64_t handle, uint64_t now_ns) override;
  void SubmitRecord(const wire::OutputDigest& record, uint64_t now_ns) override;
  void Advance(uint64_t now_ns) override;
  void ReleaseAll(uint64_t now_ns) override;
  compare::ComparatorCounters counters() const override;

  RtlModel& model() { return *model_; }
  // Batched: SubmitOutput and SubmitRecord only queue, and the next Advance
  // or ReleaseAll first feeds everything queued back to back, as line-rate
  // traffic arrives (events and records then meet in the engine on
  // consecutive clocks), then does its own work. Queued work sees the time of
  // the latest submit, so batched submits should share one now_ns. Off by
  // default: every call runs the model until it is idle.
  void set_batched(bool batched) { batched_ = batched; }
  // False once the model failed to settle (a hang in the RTL).
  bool healthy() const { return healthy_; }

 private:
  void SetTime(uint64_t now_ns);
  void Settle();

  compare::VerdictSink* sink_;
  std::unique_ptr<RtlModel> model_;
  EventHandles handles_;
  uint64_t time_ns_ = ~0ull;
  bool healthy_ = true;
  bool batched_ = false;
  bool* healthy_out_ = nullptr;  // also cleared on a hang, for owners that cannot ask
};

}  // namespace twinstep::fpga
