// virtio-blk (device id 2) over a raw image file: read, write, flush and get-id,
// served synchronously on the driver's notify (one exit per request batch).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

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
  void Quiesce() override {}
  void SaveState(ByteWriter& w) override;
  Status LoadState(ByteReader& r) override;

  uint64_t sectors() const { return sectors_; }
  uint64_t requests() const { return requests_.load(); }

 private:
  VirtioBlk(int fd, uint64_t sectors, std::string path) : fd_(fd), sectors_(sectors), path_(std::move(path)) {}
  uint8_t Serve(const VirtqChain& c, uint32_t* written);

  int fd_;
  uint64_t sectors_;
  std::string path_;
  VirtioPci* transport_ = nullptr;
  std::mutex mu_;
  std::atomic<uint64_t> requests_{0};
};

}  // namespace twinstep::host
