// virtio-net (device id 1): one RX and one TX queue, features VERSION_1, MAC
// and RING_EVENT_IDX, frames to and from a NetBackend. A worker thread moves
// frames; in polling mode it watches the avail rings itself and asks the
// driver never to notify, so a polling guest costs no exit per packet.
#pragma once

#include <array>
#include <atomic>
#include <thread>
#include <vector>

#include "host/devices/net_backend.h"
#include "host/devices/virtio_pci.h"

namespace twinstep::host {

inline constexpr uint64_t kVirtioNetF_Mac = 1ull << 5;

struct VirtioNetConfig {
  std::array<uint8_t, 6> mac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  bool polling = true;
  // Polling: idle loop iterations before the worker sleeps in poll() for 1 ms.
  uint32_t spin_iterations = 200000;
};

struct VirtioNetCounters {
  std::atomic<uint64_t> tx_frames{0}, rx_frames{0}, tx_dropped{0}, rx_dropped{0}, interrupts{0}, notifies{0};
};

class VirtioNet : public VirtioDevice {
 public:
  VirtioNet(NetBackend& backend, VirtioNetConfig config);
  ~VirtioNet() override;

  uint16_t device_id() const override { return 1; }
  uint32_t pci_class() const override { return 0x020000; }
  uint64_t features() const override { return kVirtioF_Version1 | kVirtioF_RingEventIdx | kVirtioNetF_Mac; }
  uint16_t num_queues() const override { return 2; }
  void ReadConfig(uint64_t offset, std::span<uint8_t> data) override;
  void Activate(VirtioPci& transport) override;
  void Notify(uint16_t queue) override;
  int NotifyEventFd(uint16_t) override { return kick_fd_; }
  void Quiesce() override;
  void SaveState(ByteWriter& w) override;
  Status LoadState(ByteReader& r) override;

  VirtioNetCounters& counters() { return counters_; }

 private:
  void Worker();
  void Kick();
  bool ProcessTx(Virtqueue& q);
  bool ProcessRx(Virtqueue& q);
  void Wait(int timeout_ms);

  NetBackend& backend_;
  VirtioNetConfig config_;
  VirtioPci* transport_ = nullptr;
  int kick_fd_ = -1;
  std::thread worker_;
  std::atomic<bool> stop_{false};
  std::vector<uint8_t> tx_buf_;
  std::vector<uint8_t> rx_buf_;
  size_t rx_len_ = 0;  // a frame received from the backend not yet delivered
  VirtioNetCounters counters_;
};

}  // namespace twinstep::host
