// The FPGA backend of the comparator interface: the fpga/ RTL on an Alveo-class
// card, reached through XRT (xrt::device, load_xclbin, xrt::ip registers).
// Frames and records reach the card through its streaming ports (the QDMA
// queues the dataplane owns), given here as a FramePort; verdicts come back
// through the event FIFO in the CSRs, polled until the design is idle.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/expected.h"
#include "dataplane/comparator/comparator.h"
#include "fpga/verdict_codec.h"

namespace twinstep::fpga {

enum class XrtError : uint8_t {
  kNoDevice = 1,    // no XRT device at that index
  kXclbinLoad,      // the xclbin could not be read or loaded
  kNoIp,            // the xclbin has no twinstep user box of that name
  kBadId,           // the IP does not read back the twinstep ID register
  kTooSmall,        // the card's bounds are below the configuration
};
const char* XrtErrorMessage(XrtError e);

struct XrtTarget {
  unsigned device_index = 0;
  std::string xclbin_path;
  std::string ip_name = "ts_twinstep:{ts_twinstep_1}";
};

// How output frames and secondary records reach the card's streaming ports.
class FramePort {
 public:
  virtual ~FramePort() = default;
  // Queues one output frame toward s_axis_out with `event_id` in tuser.
  virtual bool SendFrame(std::span<const uint8_t> frame, uint32_t event_id) = 0;
  // Queues one 32-byte record beat toward s_axis_rec (docs/fpga.md).
  virtual bool SendRecord(std::span<const uint8_t, 32> beat) = 0;
};

// Register access, so that the backend's logic is independent of XRT itself.
class RegisterWindow {
 public:
  virtual ~RegisterWindow() = default;
  virtual void Write(uint32_t offset, uint32_t value) = 0;
  virtual uint32_t Read(uint32_t offset) = 0;
};

// Opens the card, loads the xclbin and returns the user box's registers.
Expected<std::unique_ptr<RegisterWindow>, XrtError> OpenXrtIp(const XrtTarget& target);

class XrtComparator final : public compare::Comparator {
 public:
  // Checks the ID register and programs the configuration (primary mode).
  // Bounds above the card's are clamped by the card (verdicts then differ from
  // software only once the card's bound is reached); `strict_bounds` refuses them.
  static Expected<std::unique_ptr<XrtComparator>, XrtError> Create(std::unique_ptr<RegisterWindow> regs,
                                                                    FramePort* port,
                                                                    const compare::ComparatorConfig& config,
                                                                    compare::VerdictSink* sink,
                                                                    bool strict_bounds = false);
  std::string_view name() const override { return "xrt"; }
  void SubmitOutput(std::span<const uint8_t> frame, uint64_t handle, uint64_t now_ns) override;
  void SubmitRecord(const wire::OutputDigest& record, uint64_t now_ns) override;
  void Advance(uint64_t now_ns) override;
  void ReleaseAll(uint64_t now_ns) override;
  compare::ComparatorCounters counters() const override;
  // Submissions the frame port refused, and polls that gave up waiting for the card.
  uint64_t port_errors() const { return port_errors_; }
  uint64_t poll_timeouts() const { return poll_timeouts_; }

 private:
  XrtComparator(std::unique_ptr<RegisterWindow> regs, FramePort* port, compare::VerdictSink* sink);
  void SetTime(uint64_t now_ns);
  void Drain();

  std::unique_ptr<RegisterWindow> regs_;
  FramePort* port_;
  compare::VerdictSink* sink_;
  EventHandles handles_;
  uint64_t port_errors_ = 0;
  uint64_t poll_timeouts_ = 0;
};

}  // namespace twinstep::fpga
