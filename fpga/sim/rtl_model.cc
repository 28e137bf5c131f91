// Verilator model driver (see rtl_model.h).
#include "fpga/sim/rtl_model.h"

#include <algorithm>
#include <bit>
#include <cstring>

// Verilator's runtime headers are not -Wextra clean.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "Vts_twinstep.h"
#pragma GCC diagnostic pop

namespace twinstep::fpga {
RtlModel::RtlModel(const RtlModelOptions& options)
    : top_(std::make_unique<Vts_twinstep>()), options_(options), rng_(options.seed) {
  Reset();
}

RtlModel::~RtlModel() { top_->final(); }

void RtlModel::Reset() {
  top_->rst = 1;
  top_->clk = 0;
  top_->eval();
  for (int i = 0; i < 4; ++i) Tick();
  top_->rst = 0;
  for (int i = 0; i < 4; ++i) Tick();
  frame_beats_.clear();
  frame_pos_ = 0;
  records_.clear();
  record_pos_ = 0;
  frame_valid_ = record_valid_ = false;
  tx_partial_.clear();
}

void RtlModel::Tick() {
  DriveInputs();
  top_->clk = 0;
  top_->eval();
  SampleOutputs();  // handshakes as seen just before the rising edge
  top_->clk = 1;
  top_->eval();
  ++cycles_;
}

void RtlModel::DriveInputs() {
  // Output frames.
  // Idle clocks only between handshakes: a raised tvalid stays up (AXI-Stream).
  const bool frame_idle = !frame_valid_ && Chance(options_.idle);
  frame_valid_ = frame_pos_ < frame_beats_.size() && !frame_idle;
  if (frame_valid_) {
    const Beat& b = frame_beats_[frame_pos_];
    std::memcpy(top_->s_axis_out_tdata.data(), b.data, 64);
    top_->s_axis_out_tkeep = b.keep;
    top_->s_axis_out_tlast = b.last;
    top_->s_axis_out_tuser = b.id;
    top_->s_axis_out_tvalid = 1;
  } else {
    top_->s_axis_out_tvalid = 0;
  }
  // Records.
  const bool record_idle = !record_valid_ && Chance(options_.idle);
  record_valid_ = record_pos_ < records_.size() && !record_idle;
  if (record_valid_) {
    const auto& r = records_[record_pos_];
    for (int i = 0; i < 4; ++i) {
      top_->s_axis_rec_tdata[2 * i] = static_cast<uint32_t>(r[i]);
      top_->s_axis_rec_tdata[2 * i + 1] = static_cast<uint32_t>(r[i] >> 32);
    }
    top_->s_axis_rec_tkeep = 0xFFFFFFFFu;
    top_->s_axis_rec_tlast = 1;
    top_->s_axis_rec_tvalid = 1;
  } else {
    top_->s_axis_rec_tvalid = 0;
  }
  top_->s_axis_rx_tvalid = 0;
  top_->m_axis_host_tready = 1;
  top_->m_axis_sync_tready = 1;
  top_->m_axis_tx_tready = !Chance(options_.backpressure);
  top_->m_axis_vd_tready = options_.verdict_stream && !Chance(options_.backpressure);
  top_->m_axis_rec_tready = !Chance(options_.backpressure);
}

void RtlModel::SampleOutputs() {
  if (top_->s_axis_out_tvalid && top_->s_axis_out_tready) {
    ++frame_pos_;
    ++in_beats_;
    frame_valid_ = false;
  }
  if (top_->s_axis_rec_tvalid && top_->s_axis_rec_tready) {
    ++record_pos_;
    record_valid_ = false;
  }
  if (top_->m_axis_vd_tvalid && top_->m_axis_vd_tready) {
    verdicts_.push_back(DecodeVerdict(top_->m_axis_vd_tdata.data()));
  }
  if (top_->m_axis_tx_tvalid && top_->m_axis_tx_tready) {
    const auto* d = reinterpret_cast<const uint8_t*>(top_->m_axis_tx_tdata.data());  // little-endian words
    const int n = std::countr_one(top_->m_axis_tx_tkeep);
    tx_partial_.insert(tx_partial_.end(), d, d + n);
    if (top_->m_axis_tx_tlast) tx_frames_.push_back(std::move(tx_partial_)), tx_partial_.clear();
  }
  if (top_->m_axis_rec_tvalid && top_->m_axis_rec_tready) {
    const auto* d = reinterpret_cast<const uint8_t*>(top_->m_axis_rec_tdata.data());
    records_out_.emplace_back(d, d + 32);
  }
}

void RtlModel::WriteCsr(uint32_t addr, uint32_t value) {
  top_->s_axil_awaddr = addr;
  top_->s_axil_wdata = value;
  top_->s_axil_wstrb = 0xF;
  top_->s_axil_awvalid = 1;
  top_->s_axil_wvalid = 1;
  top_->s_axil_bready = 1;
  bool accepted = false;
  for (int i = 0; i < 100 && !accepted; ++i) {
    top_->clk = 0;
    top_->eval();
    accepted = top_->s_axil_awready;
    Tick();
  }
  top_->s_axil_awvalid = 0;
  top_->s_axil_wvalid = 0;
  for (int i = 0; i < 100 && top_->s_axil_bvalid; ++i) Tick();
}

uint32_t RtlModel::ReadCsr(uint32_t addr) {
  top_->s_axil_araddr = addr;
  top_->s_axil_arvalid = 1;
  top_->s_axil_rready = 0;
  bool accepted = false;
  for (int i = 0; i < 100 && !accepted; ++i) {
    top_->clk = 0;
    top_->eval();
    accepted = top_->s_axil_arready;
    Tick();
  }
  top_->s_axil_arvalid = 0;
  for (int i = 0; i < 100 && !top_->s_axil_rvalid; ++i) Tick();
  const uint32_t v = top_->s_axil_rdata;
  top_->s_axil_rready = 1;
  Tick();
  top_->s_axil_rready = 0;
  return v;
}

void RtlModel::QueueFrame(std::span<const uint8_t> frame, uint32_t event_id) {
  size_t off = 0;
  do {
    Beat b{};
    const size_t n = std::min<size_t>(64, frame.size() - off);
    std::memcpy(b.data, frame.data() + off, n);
    b.keep = n == 64 ? ~0ull : (1ull << n) - 1;
    off += n;
    b.last = off >= frame.size();
    b.id = event_id;
    frame_beats_.push_back(b);
  } while (off < frame.size());
}

void RtlModel::QueueRecord(uint64_t flow, uint64_t out_seq, uint32_t length, uint64_t digest) {
  records_.push_back({flow, out_seq, length, digest});
}

void RtlModel::Step(uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) Tick();
}

bool RtlModel::Run(uint64_t max_cycles) {
  int idle = 0;
  for (uint64_t i = 0; i < max_cycles; ++i) {
    Tick();
    const bool pending = frame_pos_ < frame_beats_.size() || record_pos_ < records_.size();
    idle = (!pending && !top_->busy) ? idle + 1 : 0;
    if (idle >= 4) {
      frame_beats_.clear();
      frame_pos_ = 0;
      records_.clear();
      record_pos_ = 0;
      return true;
    }
  }
  return false;
}

}  // namespace twinstep::fpga
