// 8250/16550A UART at 0x3F8 (COM1, IRQ 4): the console. Output goes to a file
// descriptor (stdout or a file); input is queued by the VMM.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>

#include "host/bus.h"
#include "host/error.h"
#include "host/snapshot/codec.h"

namespace twinstep::host {

inline constexpr uint16_t kCom1Port = 0x3f8;
inline constexpr uint32_t kCom1Irq = 4;

class Uart : public BusDevice {
 public:
  // out_fd: where transmitted bytes go (-1: nowhere). set_irq: drives the IRQ line.
  Uart(int out_fd, std::function<void(bool level)> set_irq);

  void Read(uint64_t offset, std::span<uint8_t> data) override;
  void Write(uint64_t offset, std::span<const uint8_t> data) override;

  // Queues bytes for the guest to read (a terminal, a test).
  void Input(std::string_view bytes);
  // Everything transmitted so far, kept when keep_output is on (tests).
  void set_keep_output(bool on) { keep_output_ = on; }
  std::string output();

  void SaveState(ByteWriter& w);
  Status LoadState(ByteReader& r);

 private:
  uint8_t ReadReg(uint8_t reg);
  void WriteReg(uint8_t reg, uint8_t v);
  void Transmit(uint8_t byte);
  void UpdateIrq();  // with mu_ held

  int out_fd_;
  std::function<void(bool)> set_irq_;
  std::mutex mu_;
  uint8_t ier_ = 0, lcr_ = 0, mcr_ = 0, scr_ = 0, fcr_ = 0, dll_ = 0x0c, dlm_ = 0;
  bool thr_ipending_ = false;
  bool irq_level_ = false;
  std::deque<uint8_t> rx_;
  bool keep_output_ = false;
  std::string kept_;
};

}  // namespace twinstep::host
