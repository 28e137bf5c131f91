// The NIC in simulation: the supervisor runs in-process (in twinstepd), its
// registers are shared with the host agent, its clock is the host's steady
// clock and its sync link is a LinkPort (in-memory here; the dataplane's
// sync port in twinstepd).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <vector>

#include "firmware/hal.h"
#include "firmware/regs.h"
#include "firmware/witness/host_agent.h"

namespace twinstep::firmware::sim {

class LinkPort {
 public:
  virtual ~LinkPort() = default;
  virtual bool Send(std::span<const uint8_t> frame) = 0;
  virtual size_t Receive(std::span<uint8_t> buf) = 0;
};

// Two ports joined by in-memory queues, with a switch that cuts both ways.
class LoopbackLink {
 public:
  LoopbackLink() : a_(*this, 0), b_(*this, 1) {}
  LinkPort& a() { return a_; }
  LinkPort& b() { return b_; }
  void Cut(bool cut) { cut_.store(cut); }

 private:
  class Port : public LinkPort {
   public:
    Port(LoopbackLink& link, int side) : link_(link), side_(side) {}
    bool Send(std::span<const uint8_t> frame) override;
    size_t Receive(std::span<uint8_t> buf) override;

   private:
    LoopbackLink& link_;
    int side_;
  };
  std::mutex mu_;
  std::deque<std::vector<uint8_t>> queue_[2];  // queue_[i]: frames waiting for side i
  std::atomic<bool> cut_{false};
  Port a_;
  Port b_;
};

class SimNic final : public Hal, public witness::RegisterPort {
 public:
  explicit SimNic(LinkPort& link) : link_(link) {}

  // Hal (the supervisor's side).
  uint64_t NowNs() override;
  uint32_t ReadReg(uint32_t offset) override { return regs_[offset / 4].load(std::memory_order_acquire); }
  void WriteReg(uint32_t offset, uint32_t value) override {
    regs_[offset / 4].store(value, std::memory_order_release);
  }
  uint32_t Doorbell() override { return doorbell_.load(std::memory_order_acquire); }
  bool LinkSend(std::span<const uint8_t> frame) override { return link_.Send(frame); }
  size_t LinkReceive(std::span<uint8_t> buf) override { return link_.Receive(buf); }

  // RegisterPort (the host's side of the same registers).
  uint32_t Read(uint32_t offset) override { return ReadReg(offset); }
  void Write(uint32_t offset, uint32_t value) override { WriteReg(offset, value); }
  void RingDoorbell() { doorbell_.fetch_add(1, std::memory_order_release); }

 private:
  LinkPort& link_;
  std::atomic<uint32_t> regs_[kRegCount] = {};
  std::atomic<uint32_t> doorbell_{0};
};

}  // namespace twinstep::firmware::sim
