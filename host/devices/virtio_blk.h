// virtio-blk (device id 2) over a raw image file: read, write, flush and get-id.
// Requests are served by a worker woken through an ioeventfd (the notify costs
// no exit to the VMM), or on the vCPU thread where no ioeventfd is registered.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "host/devices/virtio_pci.h"

namespace twinstep::host {

inline constexpr uint64_t kVirtioBlkF_Flush = 1ull << 9;
inline constexpr uint64_t kSectorSize = 512;

class VirtioBlk : public VirtioDevice {
 public:
  static Result<std::unique_ptr<VirtioBlk>> Open(const std::string& path);
  ~VirtioBlk() override;

  uint16_t device_id() const override { return 2; }
  uint32_t pci_class() const override { return 0x018000; }
  uint64_t features() const override { return kVirtioF_Version1 | kVirtioF_RingEventIdx | kVirtioBlkF_Flush; }
  uint16_t num_queues() const override { return 1; }
  void ReadConfig(uint64_t offset, std::span<uint8_t> data) override;
  void Activate(VirtioPci& transport) override;
  void Notify(uint16_t queue) override;
  int NotifyEventFd(uint16_t) override { return kick_fd_; }
  void Quiesce() override;
  void SaveState(ByteWriter& w) override;
  Status LoadState(ByteReader& r) override;

  uint64_t sectors() const { return sectors_; }
  uint64_t requests() const { return requests_.load(); }

 private:
  VirtioBlk(int fd, uint64_t sectors, std::string path);
  uint8_t Serve(const VirtqChain& c, uint32_t* written);

  int fd_;
  uint64_t sectors_;
  std::string path_;
  VirtioPci* transport_ = nullptr;
  std::mutex mu_;
  std::atomic<uint64_t> requests_{0};
  int kick_fd_ = -1;
  std::thread worker_;
  std::atomic<bool> stop_{false};
};

}  // namespace twinstep::host
