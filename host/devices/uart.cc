// Uart: the 16550A registers, loopback (Linux probes with it) and interrupts.
#include "host/devices/uart.h"

#include <unistd.h>

namespace twinstep::host {
namespace {

constexpr uint8_t kLcrDlab = 0x80;
constexpr uint8_t kIerRdi = 0x01, kIerThri = 0x02;
constexpr uint8_t kIirNone = 0x01, kIirThri = 0x02, kIirRdi = 0x04, kIirFifo = 0xc0;
constexpr uint8_t kLsrDr = 0x01, kLsrThre = 0x20, kLsrTemt = 0x40;
constexpr uint8_t kMcrLoop = 0x10;
constexpr uint8_t kMsrDcd = 0x80, kMsrDsr = 0x20, kMsrCts = 0x10;
constexpr size_t kRxMax = 4096;

}  // namespace

Uart::Uart(int out_fd, std::function<void(bool)> set_irq) : out_fd_(out_fd), set_irq_(std::move(set_irq)) {}

void Uart::Read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard l(mu_);
  for (size_t i = 0; i < data.size(); ++i) data[i] = ReadReg(static_cast<uint8_t>((offset + i) & 7));
  UpdateIrq();
}

void Uart::Write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard l(mu_);
  for (size_t i = 0; i < data.size(); ++i) WriteReg(static_cast<uint8_t>((offset + i) & 7), data[i]);
  UpdateIrq();
}

uint8_t Uart::ReadReg(uint8_t reg) {
  switch (reg) {
    case 0:
      if (lcr_ & kLcrDlab) return dll_;
      if (rx_.empty()) return 0;
      {
        const uint8_t b = rx_.front();
        rx_.pop_front();
        return b;
      }
    case 1: return (lcr_ & kLcrDlab) ? dlm_ : ier_;
    case 2: {
      uint8_t iir = kIirNone;
      if ((ier_ & kIerRdi) && !rx_.empty()) {
        iir = kIirRdi;
      } else if ((ier_ & kIerThri) && thr_ipending_) {
        iir = kIirThri;
        thr_ipending_ = false;  // reading IIR acknowledges THRE
      }
      return static_cast<uint8_t>(iir | ((fcr_ & 1) ? kIirFifo : 0));
    }
    case 3: return lcr_;
    case 4: return mcr_;
    case 5: return static_cast<uint8_t>(kLsrThre | kLsrTemt | (rx_.empty() ? 0 : kLsrDr));
    case 6:
      if (mcr_ & kMcrLoop) {
        // Loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
        return static_cast<uint8_t>(((mcr_ & 0x0c) << 4) | ((mcr_ & 0x01) << 5) | ((mcr_ & 0x02) << 3));
      }
      return kMsrDcd | kMsrDsr | kMsrCts;
    default: return scr_;
  }
}

void Uart::WriteReg(uint8_t reg, uint8_t v) {
  switch (reg) {
    case 0:
      if (lcr_ & kLcrDlab) {
        dll_ = v;
      } else {
        Transmit(v);
      }
      break;
    case 1:
      if (lcr_ & kLcrDlab) {
        dlm_ = v;
      } else {
        // Enabling THRI while the transmitter is empty raises it at once.
        if ((v & kIerThri) && !(ier_ & kIerThri)) thr_ipending_ = true;
        ier_ = v & 0x0f;
      }
      break;
    case 2:
      fcr_ = v & 0xc9;
      if (v & 0x02) rx_.clear();
      break;
    case 3: lcr_ = v; break;
    case 4: mcr_ = v & 0x1f; break;
    case 7: scr_ = v; break;
    default: break;  // LSR and MSR are read-only
  }
}

void Uart::Transmit(uint8_t byte) {
  if (mcr_ & kMcrLoop) {
    if (rx_.size() < kRxMax) rx_.push_back(byte);
  } else {
    if (out_fd_ >= 0) {
      ssize_t n;
      do {
        n = ::write(out_fd_, &byte, 1);
      } while (n < 0 && errno == EINTR);
    }
    if (keep_output_) kept_.push_back(static_cast<char>(byte));
  }
  thr_ipending_ = true;  // the byte left at once: THR is empty again
}

void Uart::UpdateIrq() {
  const bool level = ((ier_ & kIerRdi) && !rx_.empty()) || ((ier_ & kIerThri) && thr_ipending_);
  if (level != irq_level_) {
    irq_level_ = level;
    if (set_irq_) set_irq_(level);
  }
}

void Uart::Input(std::string_view bytes) {
  std::lock_guard l(mu_);
  for (char c : bytes) {
    if (rx_.size() < kRxMax) rx_.push_back(static_cast<uint8_t>(c));
  }
  UpdateIrq();
}

std::string Uart::output() {
  std::lock_guard l(mu_);
  return kept_;
}

void Uart::SaveState(ByteWriter& w) {
  std::lock_guard l(mu_);
  for (uint8_t v : {ier_, lcr_, mcr_, scr_, fcr_, dll_, dlm_, static_cast<uint8_t>(thr_ipending_)}) w.Put(v);
  std::vector<uint8_t> rx(rx_.begin(), rx_.end());
  w.PutBytes(rx);
}

Status Uart::LoadState(ByteReader& r) {
  uint8_t regs[8];
  std::vector<uint8_t> rx;
  for (uint8_t& v : regs) r.Get(&v);
  r.GetBytes(&rx, kRxMax);
  if (!r.ok()) return Fail(Errc::kSnapshotCorrupt, "UART state is truncated");
  std::lock_guard l(mu_);
  ier_ = regs[0];
  lcr_ = regs[1];
  mcr_ = regs[2];
  scr_ = regs[3];
  fcr_ = regs[4];
  dll_ = regs[5];
  dlm_ = regs[6];
  thr_ipending_ = regs[7] != 0;
  rx_.assign(rx.begin(), rx.end());
  irq_level_ = !irq_level_;  // force the line to be driven to its restored level
  UpdateIrq();
  return {};
}

}  // namespace twinstep::host
