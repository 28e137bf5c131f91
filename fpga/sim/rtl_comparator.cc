// RTL comparator backend (see rtl_comparator.h).
#include "fpga/sim/rtl_comparator.h"

#include <bit>

namespace twinstep::fpga {

RtlComparator::RtlComparator(const compare::ComparatorConfig& config, compare::VerdictSink* sink,
                             const RtlModelOptions& options, bool* healthy_out)
    : sink_(sink), model_(std::make_unique<RtlModel>(options)), healthy_out_(healthy_out) {
  RtlModel& m = *model_;
  m.WriteCsr(csr::kTimeoutLo, static_cast<uint32_t>(config.compare_timeout_ns));
  m.WriteCsr(csr::kTimeoutHi, static_cast<uint32_t>(config.compare_timeout_ns >> 32));
  m.WriteCsr(csr::kMaxHeld, config.max_held_events);
  m.WriteCsr(csr::kMaxRecords, config.max_pending_records);
  m.WriteCsr(csr::kMaxFlows, config.max_flows);
  // The software digester holds bit_ceil(digester_flows) flows (common/digest.h).
  m.WriteCsr(csr::kSeqFlows, std::bit_ceil(config.digester_flows));
  m.WriteCsr(csr::kCtrl, csr::kCtrlEnable | csr::kModePrimary | csr::kCtrlHostTime);
}

void RtlComparator::SetTime(uint64_t now_ns) {
  if (now_ns == time_ns_) return;
  model_->WriteCsr(csr::kTimeLo, static_cast<uint32_t>(now_ns));
  model_->WriteCsr(csr::kTimeHi, static_cast<uint32_t>(now_ns >> 32));
  time_ns_ = now_ns;
}

void RtlComparator::Settle() {
  if (!model_->Run()) {
    healthy_ = false;
    if (healthy_out_) *healthy_out_ = false;
  }
  for (const RtlVerdict& r : model_->verdicts()) sink_->OnVerdict(handles_.Resolve(r));
  model_->verdicts().clear();
  model_->tx_frames().clear();
}

void RtlComparator::SubmitOutput(std::span<const uint8_t> frame, uint64_t handle, uint64_t now_ns) {
  SetTime(now_ns);
  model_->QueueFrame(frame, handles_.Add(handle));
  if (!batched_) Settle();
}

void RtlComparator::SubmitRecord(const wire::OutputDigest& record, uint64_t now_ns) {
  SetTime(now_ns);
  model_->QueueRecord(record.flow, record.out_seq, record.length, record.digest);
  if (!batched_) Settle();
}

void RtlComparator::Advance(uint64_t now_ns) {
  if (batched_) Settle();  // what was queued, at the time it was submitted
  SetTime(now_ns);
  model_->WriteCsr(csr::kCmd, csr::kCmdSweep);
  Settle();
}

void RtlComparator::ReleaseAll(uint64_t now_ns) {
  if (batched_) Settle();
  SetTime(now_ns);
  model_->WriteCsr(csr::kCmd, csr::kCmdReleaseAll);
  Settle();
}

compare::ComparatorCounters RtlComparator::counters() const {
  return ReadComparatorCounters([this](uint32_t addr) { return model_->ReadCsr64(addr); });
}

}  // namespace twinstep::fpga
