// XRT comparator backend (see xrt_comparator.h).
#include "fpga/xrt/xrt_comparator.h"

#include <bit>
#include <cstring>

#include "fpga/csr_map.h"

// XRT's headers are not -Wextra clean.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <experimental/xrt_ip.h>
#include <xrt/xrt_device.h>
#pragma GCC diagnostic pop

namespace twinstep::fpga {
namespace {

constexpr int kMaxPolls = 1'000'000;  // register reads before a call gives up on the card

class XrtIpWindow final : public RegisterWindow {
 public:
  XrtIpWindow(xrt::device device, xrt::ip ip) : device_(std::move(device)), ip_(std::move(ip)) {}
  void Write(uint32_t offset, uint32_t value) override { ip_.write_register(offset, value); }
  uint32_t Read(uint32_t offset) override { return ip_.read_register(offset); }

 private:
  xrt::device device_;
  xrt::ip ip_;
};

}  // namespace

const char* XrtErrorMessage(XrtError e) {
  switch (e) {
    case XrtError::kNoDevice: return "no XRT device at that index";
    case XrtError::kXclbinLoad: return "the xclbin could not be read or loaded";
    case XrtError::kNoIp: return "the xclbin has no twinstep user box of that name";
    case XrtError::kBadId: return "the IP does not read back the twinstep ID register (0x54575354)";
    case XrtError::kTooSmall: return "the card's hardware bounds are below the comparator configuration";
  }
  return "unknown XRT error";
}

Expected<std::unique_ptr<RegisterWindow>, XrtError> OpenXrtIp(const XrtTarget& target) {
  // XRT reports every failure by exception; they stop here.
  xrt::device device;
  try {
    device = xrt::device(target.device_index);
  } catch (const std::exception&) {
    return MakeUnexpected(XrtError::kNoDevice);
  }
  xrt::uuid uuid;
  try {
    uuid = device.load_xclbin(target.xclbin_path);
  } catch (const std::exception&) {
    return MakeUnexpected(XrtError::kXclbinLoad);
  }
  try {
    xrt::ip ip(device, uuid, target.ip_name);
    return std::unique_ptr<RegisterWindow>(new XrtIpWindow(std::move(device), std::move(ip)));
  } catch (const std::exception&) {
    return MakeUnexpected(XrtError::kNoIp);
  }
}

Expected<std::unique_ptr<XrtComparator>, XrtError> XrtComparator::Create(std::unique_ptr<RegisterWindow> regs,
                                                                          FramePort* port,
                                                                          const compare::ComparatorConfig& config,
                                                                          compare::VerdictSink* sink,
                                                                          bool strict_bounds) {
  RegisterWindow& r = *regs;
  if (r.Read(csr::kId) != csr::kIdValue) return MakeUnexpected(XrtError::kBadId);
  const uint32_t caps0 = r.Read(csr::kCaps0), caps1 = r.Read(csr::kCaps1);
  if (strict_bounds && (config.max_held_events > (caps0 >> 16) || config.max_pending_records > (caps0 & 0xFFFF) ||
      config.max_flows > (caps1 >> 16))) {
    return MakeUnexpected(XrtError::kTooSmall);
  }
  r.Write(csr::kCmd, csr::kCmdReset);
  r.Write(csr::kTimeoutLo, static_cast<uint32_t>(config.compare_timeout_ns));
  r.Write(csr::kTimeoutHi, static_cast<uint32_t>(config.compare_timeout_ns >> 32));
  r.Write(csr::kMaxHeld, config.max_held_events);
  r.Write(csr::kMaxRecords, config.max_pending_records);
  r.Write(csr::kMaxFlows, config.max_flows);
  r.Write(csr::kSeqFlows, std::bit_ceil(config.digester_flows));
  r.Write(csr::kCtrl, csr::kCtrlEnable | csr::kModePrimary | csr::kCtrlHostTime);
  return std::unique_ptr<XrtComparator>(new XrtComparator(std::move(regs), port, sink));
}

XrtComparator::XrtComparator(std::unique_ptr<RegisterWindow> regs, FramePort* port, compare::VerdictSink* sink)
    : regs_(std::move(regs)), port_(port), sink_(sink) {}

void XrtComparator::SetTime(uint64_t now_ns) {
  regs_->Write(csr::kTimeLo, static_cast<uint32_t>(now_ns));
  regs_->Write(csr::kTimeHi, static_cast<uint32_t>(now_ns >> 32));
}

// Polls until the design is idle, delivering every verdict of the event FIFO.
void XrtComparator::Drain() {
  int idle = 0;
  for (int polls = 0; polls < kMaxPolls; ++polls) {
    const uint32_t status = regs_->Read(csr::kVdStatus);
    if (status & (1u << 6)) {
      idle = 0;
      uint32_t w[12];
      for (int i = 0; i < 12; ++i) w[i] = regs_->Read(csr::kVdWords + 4 * i);
      regs_->Write(csr::kVdPop, 1);
      sink_->OnVerdict(handles_.Resolve(DecodeVerdict(w)));
      continue;
    }
    // Idle twice in a row with an empty FIFO: nothing is in flight.
    if ((regs_->Read(csr::kStatus) & 1u) == 0 && ++idle >= 2) return;
  }
  ++poll_timeouts_;
}

void XrtComparator::SubmitOutput(std::span<const uint8_t> frame, uint64_t handle, uint64_t now_ns) {
  SetTime(now_ns);
  const uint32_t id = handles_.Add(handle);
  if (port_ == nullptr || !port_->SendFrame(frame, id)) {
    ++port_errors_;
    handles_.Forget(id);
    return;
  }
  Drain();
}

void XrtComparator::SubmitRecord(const wire::OutputDigest& record, uint64_t now_ns) {
  SetTime(now_ns);
  uint8_t beat[32] = {};
  // {digest, length, out_seq, flow}, flow in the lowest bytes (little-endian words).
  std::memcpy(beat + 0, &record.flow, 8);
  std::memcpy(beat + 8, &record.out_seq, 8);
  std::memcpy(beat + 16, &record.length, 4);
  std::memcpy(beat + 24, &record.digest, 8);
  if (port_ == nullptr || !port_->SendRecord(std::span<const uint8_t, 32>(beat, 32))) {
    ++port_errors_;
    return;
  }
  Drain();
}

void XrtComparator::Advance(uint64_t now_ns) {
  SetTime(now_ns);
  regs_->Write(csr::kCmd, csr::kCmdSweep);
  Drain();
}

void XrtComparator::ReleaseAll(uint64_t now_ns) {
  SetTime(now_ns);
  regs_->Write(csr::kCmd, csr::kCmdReleaseAll);
  Drain();
}

compare::ComparatorCounters XrtComparator::counters() const {
  return ReadComparatorCounters([this](uint32_t addr) {
    return regs_->Read(addr) | uint64_t{regs_->Read(addr + 4)} << 32;
  });
}

}  // namespace twinstep::fpga
